"""Key rotation: re-encrypt every encrypted cell under the active key, in batches."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import Session, SQLModel

from marketing_ui.core.config import new_key, read_secrets_file, write_secrets_file
from marketing_ui.core.crypto import FieldCipher, associated_data, cipher
from marketing_ui.core.models import Coupon, Customer, OutboxMessage, SignupRequest

# (model, attribute holding ciphertext, column name bound into the AAD). Rows are bound by `uid`.
ENCRYPTED_COLUMNS: list[tuple[type[SQLModel], str, str]] = [
    (Customer, "email_enc", "email"),
    (Customer, "phone_enc", "phone"),
    (Coupon, "secret_enc", "secret"),
    (OutboxMessage, "to_enc", "to"),
    (SignupRequest, "value_enc", "value"),
]


def reencrypt_all(session: Session, batch_size: int = 1000) -> dict[str, int]:
    """Re-encrypt values whose key id is not the active one; safe to re-run after a crash."""
    fc = cipher()
    counts: dict[str, int] = {}
    for model, attr, column in ENCRYPTED_COLUMNS:
        counts[f"{model.__tablename__}.{column}"] = _reencrypt_column(
            session, fc, model, attr, column, batch_size
        )
    return counts


def _reencrypt_column(
    session: Session, fc: FieldCipher, model: type[SQLModel], attr: str, column: str, batch: int
) -> int:
    table = model.__tablename__
    col = getattr(model, attr)
    done, last_id = 0, 0
    while True:
        rows = session.execute(
            select(model.id, model.uid, col)
            .where(model.id > last_id, col.is_not(None))
            .order_by(model.id)
            .limit(batch)
        ).all()
        if not rows:
            return done
        for row_id, uid, value in rows:
            last_id = row_id
            if FieldCipher.key_id_of(value) == fc.active_key_id:
                continue
            aad = associated_data(table, column, uid)
            fresh = fc.encrypt(fc.decrypt(value, aad), aad)
            session.execute(update(model).where(model.id == row_id).values({attr: fresh}))
            done += 1
        session.commit()


def add_development_key(data_dir: Path) -> str:
    """Append a new key to data/secrets.env and make it the active one."""
    stored = read_secrets_file(data_dir)
    existing = [
        part.split(":", 1)[0] for part in stored.get("ENCRYPTION_KEYS", "").split(",") if part
    ]
    n = len(existing) + 1
    while f"k{n}" in existing:
        n += 1
    kid = f"k{n}"
    stored["ENCRYPTION_KEYS"] = ",".join(
        filter(None, [stored.get("ENCRYPTION_KEYS", ""), f"{kid}:{new_key()}"])
    )
    stored["ACTIVE_KEY_ID"] = kid
    write_secrets_file(data_dir, stored)
    return kid
