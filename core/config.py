"""Settings read from ``CONNECTORS_*`` environment variables, each with its embedded default.

The defaults are the ones ``make demo`` uses, relative to the current folder, so a CLI run
from the repository root talks to the same database as the running demo.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

#: name -> (default, what it sets); the README's configuration table is written from this.
VARIABLES: dict[str, tuple[str, str]] = {
    "CONNECTORS_INSTANCE_DIR": ("instance", "folder for the embedded database and the generated secret key"),
    "CONNECTORS_DATABASE_URL": ("sqlite:///<instance>/connectors.db", "SQLAlchemy URL of the database"),
    "CONNECTORS_BROKER_URL": ("memory://", "kombu URL of the bus (amqp://user:pass@host:5672// in production)"),
    "CONNECTORS_BUS_NAMESPACE": ("connectors", "prefix of exchange and queue names"),
    "CONNECTORS_SECRET_KEY": ("generated into <instance>/secret_key", "key for sessions and for secrets at rest"),
    "CONNECTORS_DISABLED_PLUGINS": ("", "comma-separated plugin names not to load"),
    "CONNECTORS_LEASE_SECONDS": ("30", "how long a worker's claim on a run lasts without renewal"),
    "CONNECTORS_WORKER_CONCURRENCY": ("2", "runs one worker process executes at once"),
    "CONNECTORS_HOST": ("127.0.0.1", "address the admin listens on"),
    "CONNECTORS_PORT": ("8000", "port the admin listens on"),
    "CONNECTORS_SANDBOX_PORT": ("8701", "first port of the demo's sandboxes (one per application)"),
    "CONNECTORS_SECURE_COOKIES": ("on (off in `connectors demo`)", "session cookie sent over https only: 1/0"),
    "CONNECTORS_TRUSTED_PROXIES": ("0", "reverse proxies in front of the admin whose X-Forwarded-For/-Proto count"),
}


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _env_flag(name: str) -> bool | None:
    """A yes/no variable; None when unset, so the caller's default applies."""
    value = _env(name)
    if value is None:
        return None
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {value!r}")


@dataclass
class Settings:
    instance_dir: Path = field(default_factory=lambda: Path(_env("CONNECTORS_INSTANCE_DIR") or "instance"))
    database_url: str | None = field(default_factory=lambda: _env("CONNECTORS_DATABASE_URL"))
    broker_url: str = field(default_factory=lambda: _env("CONNECTORS_BROKER_URL") or "memory://")
    bus_namespace: str = field(default_factory=lambda: _env("CONNECTORS_BUS_NAMESPACE") or "connectors")
    secret_key: str | None = field(default_factory=lambda: _env("CONNECTORS_SECRET_KEY"))
    disabled_plugins: frozenset[str] = field(
        default_factory=lambda: frozenset(
            p.strip() for p in (_env("CONNECTORS_DISABLED_PLUGINS") or "").split(",") if p.strip()
        )
    )
    lease_seconds: int = field(default_factory=lambda: int(_env("CONNECTORS_LEASE_SECONDS") or 30))
    worker_concurrency: int = field(default_factory=lambda: int(_env("CONNECTORS_WORKER_CONCURRENCY") or 2))
    host: str = field(default_factory=lambda: _env("CONNECTORS_HOST") or "127.0.0.1")
    port: int = field(default_factory=lambda: int(_env("CONNECTORS_PORT") or 8000))
    sandbox_port: int = field(default_factory=lambda: int(_env("CONNECTORS_SANDBOX_PORT") or 8701))
    #: None: the process decides (the admin defaults to secure cookies, the http demo to plain ones).
    secure_cookies: bool | None = field(default_factory=lambda: _env_flag("CONNECTORS_SECURE_COOKIES"))
    trusted_proxies: int = field(default_factory=lambda: int(_env("CONNECTORS_TRUSTED_PROXIES") or 0))

    def __post_init__(self) -> None:
        self.instance_dir = Path(self.instance_dir)
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.instance_dir / 'connectors.db').resolve()}"

    def ensure_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the instance folder."""
        if self.secret_key:
            return self.secret_key
        path = self.instance_dir / "secret_key"
        if not path.exists():
            self.instance_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key
