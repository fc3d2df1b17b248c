"""ingested event ids per account; when each status last changed

``received_events``: the ids the event platform sent, unique per (account, id), with what became
of each (accepted, unchanged, stale), so that account B's ``evt_X`` is not answered "duplicate"
because account A sent one, and a replayed "unchanged" id changes nothing. The ids already in
``status_change_events`` (before this revision an ingested event was recorded under its sender's
id) are copied as accepted, so they stay duplicates.
``status_changed_at`` on registrations, session and agenda-item registrations: the ``occurred_at``
of the last change applied, so that an older change is answered ``stale``. NULL (imported rows,
rows changed before this revision) never makes a change stale.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 01:10:00
"""
from alembic import op
import sqlalchemy as sa
import connectors.models.base


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_SUBJECT_TABLES = ('registrations', 'session_registrations', 'agenda_item_registrations')


def upgrade() -> None:
    op.create_table(
        'received_events',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('source_id', sa.String(length=40), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('status_change_event_id', sa.String(length=40), nullable=True),
        sa.Column('received_at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_received_events_account_id_accounts')),
        sa.PrimaryKeyConstraint('account_id', 'source_id', name=op.f('pk_received_events')),
    )
    op.execute("INSERT INTO received_events (account_id, source_id, outcome, status_change_event_id, received_at) "
               "SELECT account_id, id, 'accepted', id, occurred_at FROM status_change_events")
    for table in _SUBJECT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('status_changed_at', connectors.models.base.UTCDateTime(timezone=True),
                                          nullable=True))


def downgrade() -> None:
    for table in _SUBJECT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('status_changed_at')
    op.drop_table('received_events')
