"""One database session per request, opened on first use and closed at teardown.

Views commit explicitly after a write; anything not committed is rolled back when the session
closes, so a failed request never leaves half a change behind.
"""
from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from connectors.plugins import PluginManager
from connectors.services import Services


def services() -> Services:
    return current_app.extensions["connectors"]


def registry() -> PluginManager:
    return services().registry


def get_db() -> Session:
    """GET and HEAD requests read; on SQLite their sessions take no write lock, so page views
    and live polling never hold up a worker's writes."""
    if "db" not in g:
        reading = request.method in ("GET", "HEAD")
        g.db = (services().read_factory if reading else services().factory)()
    return g.db


def _close_db(_exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_db)
