"""``ConnectionState``: a plugin configuration's secrets kept up to date by the plugin (rotating
OAuth tokens) — merged under a row lock, encrypted at rest, and one lease holder at a time."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from connectors import ConnectionState, StateBusy
from connectors.db import transaction
from connectors.models import Account, PluginConfig, utcnow
from connectors.secrets import SecretBox

BOX = SecretBox("state-test")


@pytest.fixture
def config_id(factory) -> int:
    with transaction(factory) as s:
        account = Account(account_code="ACME", name="Acme")
        s.add(account)
        s.flush()
        config = PluginConfig(account_id=account.id, application="eloqua", name="Eloqua", enabled=True,
                              connection={"site": "Acme"}, secrets=BOX.seal({"refresh_token": "r1", "password": "pw"}))
        s.add(config)
        s.flush()
        return config.id


def test_save_merges_encrypts_and_removes(factory, config_id):
    state = ConnectionState(factory, BOX, config_id)
    state.save({"refresh_token": "r2", "access_token": "a2"})
    state.save({"access_token": None})
    assert state.load() == {"refresh_token": "r2", "password": "pw"}
    with factory() as s:
        stored = s.get(PluginConfig, config_id).secrets
    assert "r2" not in stored and BOX.open(stored)["refresh_token"] == "r2"  # never in clear at rest


def test_concurrent_saves_of_different_keys_lose_nothing(factory, config_id):
    def write(i):
        ConnectionState(factory, BOX, config_id).save({f"k{i}": i})
    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {k: v for k, v in ConnectionState(factory, BOX, config_id).load().items() if k.startswith("k")} == \
        {f"k{i}": i for i in range(8)}


def test_one_holder_at_a_time_and_a_dead_holders_lease_expires(factory, config_id):
    inside, overlaps = [], []

    def hold(i):
        with ConnectionState(factory, BOX, config_id).exclusive(seconds=30, wait=30):
            inside.append(i)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            time.sleep(0.15)
            inside.remove(i)
    threads = [threading.Thread(target=hold, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    with transaction(factory) as s:  # a holder died holding it
        s.execute(update(PluginConfig).where(PluginConfig.id == config_id).values(
            state_lease_holder="dead", state_lease_until=utcnow() + timedelta(seconds=1)))
    with pytest.raises(StateBusy):
        with ConnectionState(factory, BOX, config_id).exclusive(wait=0.3):
            pass
    time.sleep(1.1)
    with ConnectionState(factory, BOX, config_id).exclusive(wait=0.5):
        pass
