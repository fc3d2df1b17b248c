"""Two accounts on one harness, each with its own configuration of the same application: what the
tenant-isolation tests of every plugin do to them (check, import, save a new secret, count)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from connectors import plugin_tasks
from connectors.db import transaction
from connectors.jobs.submit import submit
from connectors.models import Account, PluginConfig, Profile
from connectors.plugin_configs import save_connection
from connectors.seed import configure_plugin, get_or_create_account
from connectors.testing import Harness

OTHER = "OTHER"


def add_other_account(h: Harness, application: str, settings: dict[str, Any]) -> None:
    """Account B (``OTHER``) beside the harness's own, configured with ``settings``."""
    with transaction(h.factory) as s:
        configure_plugin(s, h.registry, h.box, get_or_create_account(s, OTHER, "Another account"), application,
                         settings)


def config_id(h: Harness, account_code: str) -> int:
    with h.read_factory() as s:
        return s.scalar(select(PluginConfig.id).join(Account, Account.id == PluginConfig.account_id)
                        .where(Account.account_code == account_code))


def check(h: Harness, account_code: str) -> plugin_tasks.Outcome:
    """"Test connection" the way a worker answers it."""
    with transaction(h.factory) as s:
        task_id = plugin_tasks.request(s, s.get(PluginConfig, config_id(h, account_code)), "check", None).id
    assert plugin_tasks.claim(h.factory, task_id, "worker")
    return plugin_tasks.execute(h.factory, h.registry, h.box, task_id)


def run_account_job(h: Harness, account_code: str, job_type_key: str, params: dict[str, Any]):
    """Submit an account-level job of ``account_code`` and run it here; its result."""
    with transaction(h.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == account_code))
        job = submit(s, h.registry, account=account, event=None, job_type_key=job_type_key, params=params, via="test")
        s.flush()
        run_id = job.runs[0].id
    return h.execute(run_id)


def profiles_of(h: Harness, account_code: str) -> int:
    with h.read_factory() as s:
        return s.scalar(select(func.count(Profile.id)).join(Account, Account.id == Profile.account_id)
                        .where(Account.account_code == account_code))


def save(h: Harness, account_code: str, application: str, settings: dict[str, Any]) -> None:
    """The administrator saves the configuration's connection on the plugins page."""
    with transaction(h.factory) as s:
        config = s.get(PluginConfig, config_id(h, account_code))
        save_connection(s, h.registry, h.box, account_id=config.account_id, user=None, application=application,
                        submitted=settings, config=config)
