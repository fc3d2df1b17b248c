"""dismissed run records, retry runs

``run_records.dismissed_*``: a failed or skipped record someone looked at and let be leaves the
open problems (it stays in the CSV and the counts). ``job_runs.retry_of_id`` / ``retry_keys``:
a run started from a run's problems names that run and the record keys it was asked to retry.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 12:45:00
"""
from alembic import op
import sqlalchemy as sa
import connectors.models.base


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dismissed_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dismissed_by', sa.String(length=320), nullable=True))
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('retry_keys', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_job_runs_retry_of_id_job_runs'), 'job_runs', ['retry_of_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_job_runs_retry_of_id_job_runs'), type_='foreignkey')
        batch_op.drop_column('retry_keys')
        batch_op.drop_column('retry_of_id')
    with op.batch_alter_table('run_records', schema=None) as batch_op:
        batch_op.drop_column('dismissed_by')
        batch_op.drop_column('dismissed_at')
