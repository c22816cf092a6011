"""delivery wait reason, unknown outcome and lease holder; campaign failure kind

Why a delivery waits becomes a column (`wait_reason`) instead of text in `error`: the
quiet-hours marker and the sweeper's "lease expired" text are moved over.

Revision ID: b3c7d2e91f40
Revises: effaf9c503a8
Create Date: 2026-12-01 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = 'b3c7d2e91f40'
down_revision: Union[str, Sequence[str], None] = 'effaf9c503a8'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_holder', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('wait_reason', sa.String(length=24), server_default='', nullable=False))
        batch_op.add_column(sa.Column('unknown_since', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure_kind', sa.String(length=16), server_default='', nullable=False))

    op.execute(
        "UPDATE delivery SET wait_reason = 'quiet_hours', error = 'waiting for quiet hours to end' "
        "WHERE status = 'pending' AND error = 'quiet_hours'"
    )
    op.execute(
        "UPDATE delivery SET wait_reason = 'worker_lost', unknown_since = updated_at "
        "WHERE status = 'pending' AND error = 'lease expired: outcome unknown'"
    )
    op.execute(
        "UPDATE campaign SET failure_kind = 'threshold' "
        "WHERE status = 'failed' AND failure_reason LIKE '%threshold in Settings.'"
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("UPDATE delivery SET error = 'quiet_hours' WHERE wait_reason = 'quiet_hours'")
    # recreate="never": SQLite (3.35+) drops a column in place; copying the tables would fail
    # on the rows that reference them.
    with op.batch_alter_table('campaign', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('failure_kind')

    with op.batch_alter_table('delivery', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('unknown_since')
        batch_op.drop_column('wait_reason')
        batch_op.drop_column('lease_holder')
