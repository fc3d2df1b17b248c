"""The Eloqua application as the core sees it: connection form, contact fields for the mapping
editor, the "Test connection" check, default mappings and the sandbox the demo runs against."""
from __future__ import annotations

from typing import Any, Mapping

import requests

from connectors import Application, CheckResult, MappingDefault, RemoteField

from .connection import EloquaConnection, auth_method, client_for
from .errors import EloquaError
from .retry import RetryPolicy
from .tokens import MemoryTokenStore, StateTokenStore, TokenSet

#: "Test connection" should answer within seconds, not wait out a long backoff
CHECK_OPTIONS = {"retry": RetryPolicy(max_attempts=2, base_delay=0.5), "timeout": (5.0, 30.0)}

#: (Eloqua internal name, Certain field): both directions; email is the match key
DEFAULTS = (
    ("C_EmailAddress", "profile.email"), ("C_FirstName", "profile.first_name"), ("C_LastName", "profile.last_name"),
    ("C_Company", "profile.organization"), ("C_Title", "profile.position"), ("C_BusPhone", "profile.phone"),
    ("C_City", "profile.city"), ("C_State_Prov", "profile.state"), ("C_Zip_Postal", "profile.postal_code"),
    ("C_Country", "profile.country"),
)
MATCH_KEY = "C_EmailAddress"


def remote_fields(client) -> list[RemoteField]:
    """Contact fields by internal name (what Bulk statements and mappings use, spec §2.3)."""
    return [RemoteField(name=f["internalName"], label=f.get("name") or f["internalName"],
                        data_type=f.get("dataType", "string"), read_only=bool(f.get("hasReadOnlyConstraint")))
            for f in client.bulk_contact_fields() if f.get("internalName")]


def token_store(state: Any, connection: Mapping[str, Any]):
    """The core's ``ConnectionState`` as the OAuth chain's store. "Test connection" and field
    discovery spend the refresh token like any job does, so they must keep the new one where the
    jobs look for it. Called without ``state`` (an older core), they at least use the access
    token the jobs stored while it is good, spending nothing; else the chain lives in this process."""
    if state is not None:
        return StateTokenStore(state)
    if connection.get("client_id") and connection.get("refresh_token") and connection.get("access_token"):
        return MemoryTokenStore(TokenSet(connection["refresh_token"], connection["access_token"],
                                         float(connection.get("access_token_expires_at") or 0)))
    return None


def describe_fields(connection: Mapping[str, Any], state: Any = None) -> list[RemoteField]:
    return remote_fields(client_for(connection, token_store=token_store(state, connection)))


def check(connection: Mapping[str, Any], state: Any = None) -> CheckResult:
    """``/id`` (credentials, site, pod) and one cheap Bulk call (API permission)."""
    try:
        client = client_for(connection, token_store=token_store(state, connection), **CHECK_OPTIONS)
        site = client.site()
        body = client.bulk("GET", "contacts/fields", params={"limit": 1}) or {}
    except EloquaError as exc:
        return CheckResult(False, f"Eloqua refused: {exc.message}")
    except requests.RequestException as exc:
        return CheckResult(False, f"Eloqua unreachable: {exc}")
    except (KeyError, ValueError) as exc:
        return CheckResult(False, f"Incomplete connection settings: {exc}")
    return CheckResult(True, f"Connected to Eloqua site {site.site_name} at {site.base_url} "
                             f"({auth_method(connection)}); {body.get('totalResults', 0)} contact fields available")


def default_mappings() -> tuple[MappingDefault, ...]:
    return tuple(
        MappingDefault(direction, certain, remote, is_match_key=(remote == MATCH_KEY), required=(remote == MATCH_KEY))
        for direction in ("inbound", "outbound") for remote, certain in DEFAULTS
    )


def sandbox(port: int = 0, site: str = "DemoCompany", user: str = "demo.user", password: str = "demo-password",
            seed: bool = True, client_id: str = "demo-client", client_secret: str = "demo-secret",
            latency: float = 0.1):
    """Start the local Eloqua (imported here so the plugin loads without starting anything).

    ``latency`` is roughly a real call's round trip, so the demo's progress moves as it would;
    syncs take a second or two of wall time, as small real ones do."""
    from .sandbox import start_sandbox

    box = start_sandbox(port=port, site=site, user=user, password=password, seed=seed, client_id=client_id,
                        client_secret=client_secret)
    box.latency = latency
    box.bulk.faults.timing.pending_seconds, box.bulk.faults.timing.active_seconds = 0.5, 1.0
    return box


ELOQUA = Application(
    name="eloqua",
    label="Oracle Eloqua",
    connection_schema=EloquaConnection,
    describe_fields=describe_fields,
    check=check,
    default_mappings=default_mappings(),
    sandbox=sandbox,
    description="Oracle Eloqua marketing automation: contacts, shared lists, custom objects and external activities.",
)
