"""human engagement: opens and clicks flagged as machine (proxy, scanner), with a reason

Events gain `machine` and `machine_reason` (core/engagement.py). The rollups count human opens
and clicks under their own types (`opened_human`, `clicked_human`); every event stored before
this revision was counted as a person's, so the human rollup rows start as copies of the
existing ones and the incremental fold carries on from its watermark.

Revision ID: e4f5a6b7c8d9
Revises: f5a6b7c8d9e0
Create Date: 2026-12-01 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4f5a6b7c8d9"
down_revision: str | Sequence[str] | None = "f5a6b7c8d9e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HUMAN_TYPES = {"opened": "opened_human", "clicked": "clicked_human"}  # rollup.HUMAN_TYPES


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("machine", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("machine_reason", sa.String(length=16), server_default="", nullable=False)
        )
    for kind, human in HUMAN_TYPES.items():
        params = {"kind": kind, "human": human}
        op.execute(
            sa.text(
                "INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq) "
                "SELECT campaign_id, channel, :human, hour, total, uniq "
                "FROM campaign_stat_hourly WHERE type = :kind"
            ).bindparams(**params)
        )
        op.execute(
            sa.text(
                "INSERT INTO delivery_first_event (delivery_id, type, campaign_id, channel, hour) "
                "SELECT delivery_id, :human, campaign_id, channel, hour "
                "FROM delivery_first_event WHERE type = :kind"
            ).bindparams(**params)
        )


def downgrade() -> None:
    for human in HUMAN_TYPES.values():
        for table in ("campaign_stat_hourly", "delivery_first_event"):
            op.execute(sa.text(f"DELETE FROM {table} WHERE type = :t").bindparams(t=human))
    # recreate="never": SQLite (3.35+) drops a column in place; copying the table would fail
    # on the rows that reference it.
    with op.batch_alter_table("event", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("machine_reason")
        batch_op.drop_column("machine")
