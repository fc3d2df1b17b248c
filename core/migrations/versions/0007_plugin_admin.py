"""plugin admin: audit entries, status mappings, plugin tasks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 12:00:00
"""
from alembic import op
import sqlalchemy as sa
import connectors.models.base


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('target_label', sa.String(length=200), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_audit_entries_account_id_accounts')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_entries_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_target', ['account_id', 'target_type', 'target_id'], unique=False)

    op.create_table('plugin_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plugin_config_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['plugin_config_id'], ['plugin_configs.id'], name=op.f('fk_plugin_tasks_plugin_config_id_plugin_configs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_plugin_tasks_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_tasks'))
    )
    with op.batch_alter_table('plugin_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_plugin_tasks_config_kind', ['plugin_config_id', 'kind', 'id'], unique=False)

    op.create_table('status_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plugin_config_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('certain_status', sa.String(length=100), nullable=False),
    sa.Column('remote_status', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_status_mappings_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plugin_config_id'], ['plugin_configs.id'], name=op.f('fk_status_mappings_plugin_config_id_plugin_configs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_mappings'))
    )
    with op.batch_alter_table('status_mappings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_mappings_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_status_mappings_plugin_config_id'), ['plugin_config_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('status_mappings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_mappings_plugin_config_id'))
        batch_op.drop_index(batch_op.f('ix_status_mappings_event_id'))
    op.drop_table('status_mappings')
    with op.batch_alter_table('plugin_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_plugin_tasks_config_kind')
    op.drop_table('plugin_tasks')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_target')
    op.drop_table('audit_entries')
