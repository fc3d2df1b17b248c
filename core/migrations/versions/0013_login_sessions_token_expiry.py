"""server-side log-in sessions, token expiry, per-address log-in throttling

``login_sessions``: one row per signed-in browser (a SHA-256 of the cookie's random key), so
logging out, a password change or a deactivation ends a session on the server. Sessions made
before this revision carry no key: their users log in again once after the upgrade.
``expires_at`` on ``api_tokens`` and ``user_api_tokens``: an optional end of a token's life.
``ix_login_failures_ip_at``: counts an address's failed log-ins across every login.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 01:00:00
"""
from alembic import op
import sqlalchemy as sa
import connectors.models.base


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ended_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
        sa.UniqueConstraint('key_hash', name=op.f('uq_login_sessions_key_hash')),
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)
    for table in ('api_tokens', 'user_api_tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('expires_at', connectors.models.base.UTCDateTime(timezone=True),
                                          nullable=True))
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_ip_at', ['ip', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_ip_at')
    for table in ('user_api_tokens', 'api_tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('expires_at')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))
    op.drop_table('login_sessions')
