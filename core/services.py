"""The handles every process needs, built once from settings: database, plugins, secret box."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .db import make_engine, read_session_factory, session_factory
from .plugins import PluginManager, load_plugins
from .secrets import SecretBox


@dataclass
class Services:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    read_factory: sessionmaker[Session]
    registry: PluginManager
    box: SecretBox

    @classmethod
    def from_settings(cls, settings: Settings | None = None, registry: PluginManager | None = None) -> "Services":
        settings = settings or Settings()
        engine = make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, factory=session_factory(engine),
                   read_factory=read_session_factory(engine),
                   registry=registry or load_plugins(settings.disabled_plugins),
                   box=SecretBox(settings.ensure_secret_key()))

    def close(self) -> None:
        self.engine.dispose()
