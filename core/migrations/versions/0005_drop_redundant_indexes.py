"""drop single-column indexes that a composite index already leads with

Without table statistics SQLite picked ``ix_profiles_account_id`` over the expression index
``ix_profiles_account_email_lower`` for a batch's e-mail match, so every import batch scanned all
of the account's profiles. Each index dropped here is the first column of a unique constraint (or,
for profiles, of three composite indexes), which serves the same look-ups. ``ix_registrations_event_id``
stays: it is the (event_id, id) order that registrations are paged in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 11:45:00
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: (table, column) whose single-column index ``ix_<table>_<column>`` goes.
REDUNDANT = (
    ('profiles', 'account_id'),
    ('events', 'account_id'),
    ('attendee_types', 'event_id'),
    ('registration_statuses', 'event_id'),
    ('external_ids', 'account_id'),
)


def upgrade() -> None:
    for table, column in REDUNDANT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))


def downgrade() -> None:
    for table, column in reversed(REDUNDANT):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)
