"""ticket amounts on redemptions and visits, SMS segments on deliveries (issue 16 item 1)

Revision ID: f5a6b7c8d9e0
Revises: d7e8f9a0b1c2
Create Date: 2026-12-01 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f5a6b7c8d9e0"
down_revision: str | Sequence[str] | None = "d7e8f9a0b1c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("visit", "redemption"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("amount_minor", sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segments", sa.Integer(), nullable=True))


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops a column in place; copying the tables would fail
    with op.batch_alter_table("delivery", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("segments")
    for table in ("redemption", "visit"):
        with op.batch_alter_table(table, schema=None, recreate="never") as batch_op:
            batch_op.drop_column("currency")
            batch_op.drop_column("amount_minor")
