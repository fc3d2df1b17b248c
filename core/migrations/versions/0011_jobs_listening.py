"""jobs.listens: the job reacts to status-change events

An event-triggered job (Create Eloqua Activity upon ... Status Change) keeps working after its
one run (the check of its parameters): it is ``listening`` until disabled or until its
schedule's end, not ``ended`` — "Clear All Jobs" removed such live jobs before. Existing jobs
that have deliveries are marked; others are marked when their job type is known at submission.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listens', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE jobs SET listens = true WHERE id IN (SELECT DISTINCT job_id FROM deliveries)")
    op.execute("UPDATE jobs SET state = 'listening' WHERE listens = true AND state = 'ended' AND enabled = true")


def downgrade() -> None:
    op.execute("UPDATE jobs SET state = 'ended' WHERE state = 'listening'")
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('listens')
