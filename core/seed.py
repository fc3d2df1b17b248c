"""Creating accounts and events with their catalogues, and the demo's data."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .accounts import hash_password
from .demo_agenda import seed_programme
from .event_access import assign_event
from .catalogue import STANDARD_ATTENDEE_TYPES, STANDARD_STATUSES
from .models import Account, AttendeeType, Event, FieldMapping, PluginConfig, RegistrationStatus, User
from .plugins import PluginManager
from .secrets import SecretBox, split_secrets

DEMO_ACCOUNT, DEMO_EVENT = "DEMO", "SUMMIT26"
DEMO_USERS = (
    ("admin@demo.example", "Ada Admin", "administrator", "demo-admin"),
    ("builder@demo.example", "Ben Builder", "event_builder", "demo-builder"),
)


def get_or_create_account(session: Session, code: str, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.account_code == code))
    if account is None:
        account = Account(account_code=code, name=name)
        session.add(account)
        session.flush()
    return account


def get_or_create_event(session: Session, account: Account, code: str, name: str, *, tz: str = "UTC",
                        start: datetime | None = None, end: datetime | None = None,
                        applications: list[str] | None = None) -> Event:
    """An event with the eleven standard statuses and the standard attendee types."""
    event = session.scalar(select(Event).where(Event.account_id == account.id, Event.event_code == code))
    if event is None:
        event = Event(account_id=account.id, event_code=code, name=name, timezone=tz, start_date=start, end_date=end,
                      enabled_applications=applications or [])
        session.add(event)
        session.flush()
        session.add_all(RegistrationStatus(event_id=event.id, label=label, classification=cls, is_standard=True,
                                           tags=[label.lower().replace(" ", "_")]) for label, cls in STANDARD_STATUSES)
        session.add_all(AttendeeType(event_id=event.id, code=code_, name=name_) for code_, name_ in STANDARD_ATTENDEE_TYPES)
        session.flush()
    return event


def get_or_create_user(session: Session, account: Account, login: str, name: str, role: str, password: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        user = User(account_id=account.id, login=login, name=name, role=role, password_hash=hash_password(password))
        session.add(user)
        session.flush()
    return user


def configure_plugin(session: Session, registry: PluginManager, box: SecretBox, account: Account, application: str,
                     connection: dict[str, Any], *, with_default_mappings: bool = True) -> PluginConfig:
    """Create or update the account's configuration of an application (secrets sealed)."""
    app = registry.application(application)
    values = app.connection_schema().load(connection)
    plain, secret = split_secrets(app.connection_schema, values)
    config = session.scalar(select(PluginConfig).where(PluginConfig.account_id == account.id,
                                                       PluginConfig.application == application))
    if config is None:
        config = PluginConfig(account_id=account.id, application=application, name=app.label, enabled=True)
        session.add(config)
    config.connection, config.secrets = plain, box.seal(secret)
    session.flush()
    if with_default_mappings and not config.mappings:
        config.mappings = [FieldMapping(direction=m.direction, certain_field=m.certain_field, remote_field=m.remote_field,
                                        transform=m.transform, update_policy=m.update_policy, is_match_key=m.is_match_key,
                                        required=m.required, position=i)
                           for i, m in enumerate(app.default_mappings)]
        session.flush()
    return config


def seed_demo(session: Session, registry: PluginManager, box: SecretBox,
              connections: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Account DEMO, event SUMMIT26, two users (the event builder assigned to SUMMIT26 only), and a
    configuration per sandboxed application.
    Safe to run on every start: it creates what is missing and refreshes sandbox connections."""
    account = get_or_create_account(session, DEMO_ACCOUNT, "Demo Events Inc.")
    event = get_or_create_event(
        session, account, DEMO_EVENT, "Summit 2026", tz="Europe/Paris",
        start=datetime(2026, 6, 9, 7, 0, tzinfo=timezone.utc), end=datetime(2026, 6, 11, 16, 0, tzinfo=timezone.utc),
        applications=sorted(connections))
    get_or_create_event(session, account, "WEBINAR26", "Spring Webinar Series", tz="America/New_York",
                        applications=sorted(connections))
    seed_programme(session, account, event)
    users = {login: get_or_create_user(session, account, login, name, role, password)
             for login, name, role, password in DEMO_USERS}
    assign_event(session, users["builder@demo.example"], event)  # SUMMIT26 only: WEBINAR26 stays hidden from them
    for application, connection in connections.items():
        configure_plugin(session, registry, box, account, application, connection)
    other = get_or_create_account(session, "OTHER", "Another Customer Ltd.")
    get_or_create_event(session, other, "EXPO27", "Expo 2027", tz="America/Chicago")
    get_or_create_user(session, other, "admin@other.example", "Olga Other", "administrator", "other-admin")
    return {"account": account, "event": event}
