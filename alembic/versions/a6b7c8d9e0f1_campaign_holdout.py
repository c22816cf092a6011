"""campaign holdout share and lift window (issue 16 item 2)

Revision ID: a6b7c8d9e0f1
Revises: e4f5a6b7c8d9
Create Date: 2026-12-02 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6b7c8d9e0f1"
down_revision: str | Sequence[str] | None = "e4f5a6b7c8d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("holdout_percent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("lift_window_days", sa.Integer(), nullable=False, server_default="14")
        )


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops a column in place; copying the table would fail
    with op.batch_alter_table("campaign", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("lift_window_days")
        batch_op.drop_column("holdout_percent")
