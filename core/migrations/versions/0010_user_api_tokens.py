"""user API tokens

``user_api_tokens``: a person's tokens for ``/api/v1`` (only a SHA-256 of each is stored); a
token acts as its user, with the user's role and events.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 12:50:00
"""
from alembic import op
import sqlalchemy as sa
import connectors.models.base


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('revoked', sa.Boolean(), nullable=False),
        sa.Column('created_at', connectors.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', connectors.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_api_tokens_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_user_api_tokens_token_hash')),
    )
    with op.batch_alter_table('user_api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_api_tokens_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('user_api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_api_tokens_user_id'))
    op.drop_table('user_api_tokens')
