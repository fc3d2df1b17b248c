"""dead letters

``dead_letters``: the messages the bus gave up on (rejected as malformed, or past a quorum
queue's delivery limit), copied from the dead-letter queue by the collector so the admin, the
CLI and ``/metrics`` can show, replay or drop them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 02:00:00
"""
from alembic import op
import sqlalchemy as sa
import connectors.models.base


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dead_letters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('message_id', sa.String(length=200), nullable=True),
        sa.Column('message_type', sa.String(length=200), nullable=True),
        sa.Column('exchange', sa.String(length=255), nullable=True),
        sa.Column('routing_key', sa.String(length=255), nullable=True),
        sa.Column('queue', sa.String(length=255), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('body_truncated', sa.Boolean(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('died_at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('replayed_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('dropped_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('handled_by', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
        sa.UniqueConstraint('fingerprint', name=op.f('uq_dead_letters_fingerprint')),
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_queue'), ['queue'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letters_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_status'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_account_id'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_queue'))
        batch_op.drop_index(batch_op.f('ix_dead_letters_message_id'))
    op.drop_table('dead_letters')
