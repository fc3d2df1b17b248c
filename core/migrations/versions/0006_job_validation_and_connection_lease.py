"""job validation state, and the connection state's lease

``jobs.validation_*``: a job whose type checks its parameters against the target application
(``JobType.validate``) receives status-change events only once a worker found them valid.
``plugin_configs.state_lease_*``: one holder at a time may rotate a configuration's single-use
OAuth refresh token (``connectors.ConnectionState.exclusive``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 11:50:00
"""
from alembic import op
import sqlalchemy as sa
import connectors.models.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('validation_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('validation_message', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('validated_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('plugin_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state_lease_holder', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('state_lease_until', connectors.models.base.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plugin_configs', schema=None) as batch_op:
        batch_op.drop_column('state_lease_until')
        batch_op.drop_column('state_lease_holder')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('validated_at')
        batch_op.drop_column('validation_message')
        batch_op.drop_column('validation_state')
