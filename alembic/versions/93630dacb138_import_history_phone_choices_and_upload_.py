"""import history, phone choices and upload lifecycle

The Import page lists past imports from this table (counts that were missing are added as
0), each import keeps the phone region and the invalid-phone choice it ran with, and
`stored_path` becomes NULL once the uploaded file (plaintext PII) is deleted.

Revision ID: 93630dacb138
Revises: dc3e5e288178
Create Date: 2026-11-30 14:44:40.457945

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "93630dacb138"
down_revision: str | Sequence[str] | None = "dc3e5e288178"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_region", sa.String(length=2), nullable=True))
        batch_op.add_column(
            sa.Column(
                "invalid_phone", sa.String(length=16), server_default="reject_row", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("unchanged_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("skipped_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("phones_dropped_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("stored_path", existing_type=sa.VARCHAR(length=500), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE import_job SET stored_path = '' WHERE stored_path IS NULL")
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.alter_column("stored_path", existing_type=sa.VARCHAR(length=500), nullable=False)
        batch_op.drop_column("progress_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("phones_dropped_count")
        batch_op.drop_column("skipped_count")
        batch_op.drop_column("unchanged_count")
        batch_op.drop_column("invalid_phone")
        batch_op.drop_column("phone_region")
