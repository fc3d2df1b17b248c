"""The Marketo application as the core sees it: connection form, field discovery, the
"Test connection" check, default mappings and the sandbox the demo runs against."""
from __future__ import annotations

from typing import Any, Mapping

import requests

from connectors import Application, CheckResult, MappingDefault, RemoteField

from .client import MarketoClient
from .connection import MarketoConnectionSchema, client_for
from .errors import MarketoError
from .retry import RetryPolicy

#: "Test connection" should answer within seconds, not wait out a long backoff
CHECK_OPTIONS = {"retry": RetryPolicy(max_attempts=2, base_delay=0.5), "timeout": (5.0, 30.0)}

INBOUND_DEFAULTS = (
    ("email", "profile.email"), ("firstName", "profile.first_name"), ("lastName", "profile.last_name"),
    ("company", "profile.organization"), ("title", "profile.position"), ("phone", "profile.phone"),
    ("city", "profile.city"), ("state", "profile.state"), ("postalCode", "profile.postal_code"),
    ("country", "profile.country"),
)
#: what the outbound jobs send (Create or Update Leads): the same pairs, email the lookup key
OUTBOUND_DEFAULTS = INBOUND_DEFAULTS


def remote_fields(client: MarketoClient) -> list[RemoteField]:
    """Lead fields usable through REST (those with a ``rest`` part in describe)."""
    found = []
    for field in client.describe_leads():
        rest = field.get("rest")
        if rest and rest.get("name"):
            found.append(RemoteField(name=rest["name"], label=field.get("displayName") or rest["name"],
                                     data_type=field.get("dataType", "string"), read_only=bool(rest.get("readOnly"))))
    return found


def describe_fields(connection: Mapping[str, Any]) -> list[RemoteField]:
    return remote_fields(client_for(connection))


def check(connection: Mapping[str, Any]) -> CheckResult:
    """Gets a token and reads the lead schema: proves the endpoints, the credentials and the
    API user's permission on the lead database."""
    try:
        client = client_for(connection, **CHECK_OPTIONS)
        client.access_token()
        count = len(remote_fields(client))
    except MarketoError as exc:
        return CheckResult(False, f"Marketo refused: {exc}")
    except requests.RequestException as exc:
        return CheckResult(False, f"Marketo unreachable: {exc}")
    except (KeyError, ValueError) as exc:
        return CheckResult(False, f"Incomplete connection settings: {exc}")
    return CheckResult(True, f"Connected to Marketo; {count} lead fields available")


def default_mappings() -> tuple[MappingDefault, ...]:
    """Inbound and outbound pairs; email is the match key and required both ways."""
    return tuple(
        MappingDefault(direction, certain, remote, is_match_key=(remote == "email"), required=(remote == "email"))
        for direction, pairs in (("inbound", INBOUND_DEFAULTS), ("outbound", OUTBOUND_DEFAULTS))
        for remote, certain in pairs
    )


def sandbox(port: int = 0, client_id: str = "demo-client", client_secret: str = "demo-secret", seed: bool = True,
            latency: float = 0.25):
    """Start the local Marketo (imported here so the plugin loads without starting anything).

    ``latency`` is a real Marketo call's usual round trip, so the demo's progress moves as it would."""
    from .sandbox import start_sandbox

    box = start_sandbox(port=port, client_id=client_id, client_secret=client_secret, seed=seed)
    box.latency = latency
    return box


MARKETO = Application(
    name="marketo",
    label="Marketo",
    connection_schema=MarketoConnectionSchema,
    describe_fields=describe_fields,
    check=check,
    default_mappings=default_mappings(),
    sandbox=sandbox,
    description="Adobe Marketo Engage: import leads from static lists, push registrations, trigger campaigns.",
)
