"""coupon secret in one column: one AES-GCM value holds "<token> <short code>"

Issuing a coupon then costs one cipher operation instead of two, and rendering one decryption.
Existing coupons are re-encrypted in place (their tokens and codes do not change), so coupons
already in customers' inboxes keep working. Needs the encryption keys, as the app does.

Revision ID: dc3e5e288178
Revises: a7511d1e0122
Create Date: 2026-11-25 17:26:11.238084

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "dc3e5e288178"
down_revision: str | Sequence[str] | None = "a7511d1e0122"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_coupon = sa.table(
    "coupon",
    sa.column("id", sa.Integer),
    sa.column("uid", sa.String),
    sa.column("token_enc", sa.Text),
    sa.column("short_code_enc", sa.Text),
    sa.column("secret_enc", sa.Text),
)


def _rows(conn: sa.Connection, column: sa.ColumnElement) -> list[sa.Row]:
    """Every coupon's id, uid and the given ciphertext columns, in id batches."""
    found: list[sa.Row] = []
    last_id = 0
    while batch := conn.execute(
        sa.select(_coupon.c.id, _coupon.c.uid, *column)
        .where(_coupon.c.id > last_id)
        .order_by(_coupon.c.id)
        .limit(_BATCH)
    ).all():
        found.extend(batch)
        last_id = batch[-1][0]
    return found


def upgrade() -> None:
    from marketing_ui.core.crypto import associated_data, cipher

    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_enc", sa.Text(), nullable=True))
    conn = op.get_bind()
    rows = _rows(conn, (_coupon.c.token_enc, _coupon.c.short_code_enc))
    if rows:
        fc = cipher()
        for row_id, uid, token_enc, code_enc in rows:
            token = fc.decrypt(token_enc, associated_data("coupon", "token", uid))
            code = fc.decrypt(code_enc, associated_data("coupon", "short_code", uid))
            secret = fc.encrypt(f"{token} {code}", associated_data("coupon", "secret", uid))
            conn.execute(_coupon.update().where(_coupon.c.id == row_id).values(secret_enc=secret))
    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.alter_column("secret_enc", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("short_code_enc")
        batch_op.drop_column("token_enc")


def downgrade() -> None:
    from marketing_ui.core.crypto import associated_data, cipher

    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_enc", sa.TEXT(), nullable=True))
        batch_op.add_column(sa.Column("short_code_enc", sa.TEXT(), nullable=True))
    conn = op.get_bind()
    rows = _rows(conn, (_coupon.c.secret_enc,))
    if rows:
        fc = cipher()
        for row_id, uid, secret_enc in rows:
            token, _, code = fc.decrypt(
                secret_enc, associated_data("coupon", "secret", uid)
            ).partition(" ")
            conn.execute(
                _coupon.update()
                .where(_coupon.c.id == row_id)
                .values(
                    token_enc=fc.encrypt(token, associated_data("coupon", "token", uid)),
                    short_code_enc=fc.encrypt(code, associated_data("coupon", "short_code", uid)),
                )
            )
    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.alter_column("token_enc", existing_type=sa.TEXT(), nullable=False)
        batch_op.alter_column("short_code_enc", existing_type=sa.TEXT(), nullable=False)
        batch_op.drop_column("secret_enc")
