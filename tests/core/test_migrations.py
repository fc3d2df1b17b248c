"""The Alembic migration builds exactly the models' schema, on SQLite and on PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from connectors.db import make_engine
from connectors.migrations import downgrade, upgrade
from connectors.models import Base


def test_migrated_schema_matches_the_models(db_url):
    engine = make_engine(db_url)  # db_url was migrated to head by the fixture
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_and_downgrade_on_a_fresh_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    engine = make_engine(url)
    assert {"jobs", "job_runs", "outbox", "registrations", "status_change_events"} <= set(inspect(engine).get_table_names())
    downgrade(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
