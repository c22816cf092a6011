"""indexes for the automation tick: birthdays by (month, day), occurrences by time and customer

A steady tick reads only the customers something happened to since the previous run
(core/automations/engine.py, "What a tick reads"); these two indexes make that a lookup.

Revision ID: d2e3f4a5b6c7
Revises: c1d2e3f4a5b6
Create Date: 2026-11-30 23:40:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "d2e3f4a5b6c7"
down_revision: str | Sequence[str] | None = "c1d2e3f4a5b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_customer_birthday", "customer", ["birthday_month", "birthday_day"])
    op.create_index(
        "ix_automation_occurrence_created", "automation_occurrence", ["automation_id", "created_at"]
    )
    op.create_index(
        "ix_automation_occurrence_recent",
        "automation_occurrence",
        ["automation_id", "customer_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_automation_occurrence_recent", table_name="automation_occurrence")
    op.drop_index("ix_automation_occurrence_created", table_name="automation_occurrence")
    op.drop_index("ix_customer_birthday", table_name="customer")
