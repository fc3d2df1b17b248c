"""The seeded world on SQLite and on PostgreSQL: for the tests whose answer depends on the
database (PostgreSQL refuses an integer past 2**31 - 1 and a NUL in text; SQLite does neither)."""
from __future__ import annotations

import pytest

from connectors.models import Base

from .conftest import build_world


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_world(request, tmp_path):
    """The seeded accounts on SQLite, then on PostgreSQL (the session's database, its tables
    dropped afterwards so the next test starts empty)."""
    if request.param == "sqlite":
        world = build_world(tmp_path, f"sqlite:///{tmp_path / 'web.db'}")
    else:
        world = build_world(tmp_path, request.getfixturevalue("postgres_url"))
    yield world
    if request.param == "postgresql":
        Base.metadata.drop_all(world.services.engine)
    world.services.close()
