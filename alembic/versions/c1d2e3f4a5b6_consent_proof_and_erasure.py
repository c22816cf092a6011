"""consent proof (origin, proof hash, wording version) and customer erasure

The shared schema of issue 15 (growing the list): every consent change says where it came from,
carries an HMAC of the client's IP and user agent, and names the wording shown; a customer
erased at their request keeps an anonymous row.

Revision ID: c1d2e3f4a5b6
Revises: b4a5d7cb55fb
Create Date: 2026-11-30 23:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = 'c1d2e3f4a5b6'
down_revision: Union[str, Sequence[str], None] = 'b4a5d7cb55fb'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('consent_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('proof_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('wording_version', sa.String(length=32), server_default='', nullable=False))
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops a column in place; copying the tables would fail
    # on the rows that reference them.
    with op.batch_alter_table('customer', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('consent_event', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('wording_version')
        batch_op.drop_column('proof_hash')
        batch_op.drop_column('origin')
