"""A/B tests: campaign variants, the test's settings on the campaign, a delivery's variant

Revision ID: b7c8d9e0f1a2
Revises: a6b7c8d9e0f1
Create Date: 2026-12-02 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c8d9e0f1a2"
down_revision: str | Sequence[str] | None = "a6b7c8d9e0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_variant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=1), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("preheader", sa.String(length=255), nullable=False),
        sa.Column("mjml_body", sa.Text(), nullable=False),
        sa.Column("sms_body", sa.Text(), nullable=False),
        sa.Column("offer_text", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "label", name="uq_campaign_variant_label"),
    )
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ab_test_percent", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ab_metric", sa.String(length=16), server_default="clicks", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ab_window_hours", sa.Integer(), server_default="24", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ab_phase", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("ab_winner_variant_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ab_decided_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variant_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # recreate="never": SQLite (3.35+) drops a column in place; copying the tables would fail
    with op.batch_alter_table("delivery", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("variant_id")
    with op.batch_alter_table("campaign", schema=None, recreate="never") as batch_op:
        for column in (
            "ab_decided_at",
            "ab_winner_variant_id",
            "ab_phase",
            "ab_window_hours",
            "ab_metric",
            "ab_test_percent",
        ):
            batch_op.drop_column(column)
    op.drop_table("campaign_variant")
