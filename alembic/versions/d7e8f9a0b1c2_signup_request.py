"""signup requests waiting for their confirmation (issue 15: double opt-in)

Revision ID: d7e8f9a0b1c2
Revises: d2e3f4a5b6c7
Create Date: 2026-12-01 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'd7e8f9a0b1c2'
down_revision: Union[str, Sequence[str], None] = 'd2e3f4a5b6c7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'signup_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uid', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('value_bidx', sa.String(length=64), nullable=False),
        sa.Column('value_enc', sa.Text(), nullable=False),
        sa.Column('partner_bidx', sa.String(length=64), nullable=True),
        sa.Column('first_name', sa.String(length=120), nullable=False),
        sa.Column('birthday_month', sa.Integer(), nullable=True),
        sa.Column('birthday_day', sa.Integer(), nullable=True),
        sa.Column('birthday_year', sa.Integer(), nullable=True),
        sa.Column('origin', sa.String(length=64), nullable=False),
        sa.Column('wording_version', sa.String(length=32), nullable=False),
        sa.Column('proof_hash', sa.String(length=64), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel', 'value_bidx', name='uq_signup_request_value'),
        sa.UniqueConstraint('uid'),
    )
    op.create_index('ix_signup_request_expires', 'signup_request', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_signup_request_expires', table_name='signup_request')
    op.drop_table('signup_request')
