"""Development provider: stores what would have been sent in `outbox_message`, viewable in the UI.

It keeps the real providers' guarantees so the pipeline behaves the same in development:
a replayed batch (same idempotency key) returns the same provider ids and stores nothing
twice, enforced by the unique `idempotency_key` column, so it holds across processes too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from marketing_ui.core.crypto import DecryptionError, associated_data, cipher
from marketing_ui.core.models import (
    OUTBOX_PROVIDER_ID_PREFIX,
    Channel,
    OutboxMessage,
    new_uid,
)
from marketing_ui.core.sending.providers.base import (
    GATE_WAIT_S,
    OPEN_GATE,
    OutgoingEmail,
    OutgoingSms,
    RequestGate,
    SendResult,
    sms_weight,
)

_KEY_COLUMN_CHARS = 128
_INSERT_ATTEMPTS = 3


class OutboxProvider:
    """Implements both EmailProvider and SmsProvider against the database."""

    name = "outbox"
    max_batch = 100

    def __init__(self, engine: Engine, gate: RequestGate = OPEN_GATE) -> None:
        """`gate`: the configured limits apply here too, so development paces like production."""
        self._engine = engine
        self._gate = gate

    def send_batch(
        self, messages: Sequence[OutgoingEmail], idempotency_key: str
    ) -> list[SendResult]:
        rows = {
            _row_key(f"{idempotency_key}:{m.key}"): _email_row(m, f"{idempotency_key}:{m.key}")
            for m in messages
        }
        with self._gate.request(max_wait_s=GATE_WAIT_S):  # RateLimited: nothing stored
            stored = self._store(rows)
        return [
            SendResult(
                key=m.key,
                ok=True,
                provider_id=stored[_row_key(f"{idempotency_key}:{m.key}")],
            )
            for m in messages
        ]

    def send(self, message: OutgoingSms) -> SendResult:
        full_key = f"sms:{message.key}"
        with self._gate.request(sms_weight(message.body), max_wait_s=GATE_WAIT_S):
            stored = self._store({_row_key(full_key): _sms_row(message)})
        return SendResult(key=message.key, ok=True, provider_id=stored[_row_key(full_key)])

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """Recipients are encrypted with a per-row nonce, so candidates are decrypted and compared."""
        field_cipher = cipher()
        with Session(self._engine) as session:
            candidates = session.exec(
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel == Channel.SMS,
                    OutboxMessage.text == body,
                    col(OutboxMessage.created_at) >= since.astimezone(UTC),
                )
                .order_by(col(OutboxMessage.id).desc())
            ).all()
            for row in candidates:
                try:
                    if field_cipher.decrypt(row.to_enc, _to_aad(row.uid)) == to:
                        return _provider_id(row.uid)
                except DecryptionError:
                    continue
        return None

    def _store(self, rows: dict[str, OutboxMessage]) -> dict[str, str]:
        """Insert the rows whose key is new; returns key -> provider id for all of them."""
        for attempt in range(_INSERT_ATTEMPTS):
            with Session(self._engine, expire_on_commit=False) as session:
                existing = dict(
                    session.exec(
                        select(OutboxMessage.idempotency_key, OutboxMessage.uid).where(
                            col(OutboxMessage.idempotency_key).in_(list(rows))
                        )
                    ).all()
                )
                fresh = [row for key, row in rows.items() if key not in existing]
                session.add_all(fresh)
                try:
                    session.commit()
                except IntegrityError:
                    # Another worker stored one of these keys meanwhile: read again, theirs wins.
                    session.rollback()
                    if attempt == _INSERT_ATTEMPTS - 1:
                        raise
                    continue
                stored = {**existing, **{row.idempotency_key: row.uid for row in fresh}}
                return {key: _provider_id(uid) for key, uid in stored.items() if key}
        raise AssertionError("unreachable")


def read_outbox(session: Session, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Newest first, recipients decrypted for the development outbox page."""
    field_cipher = cipher()
    rows = session.exec(
        select(OutboxMessage)
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    result: list[dict[str, Any]] = []
    for row in rows:
        try:
            to = field_cipher.decrypt(row.to_enc, _to_aad(row.uid))
        except DecryptionError:
            to = "(cannot decrypt: unknown key)"
        result.append(
            {
                "id": row.id,
                "provider_id": _provider_id(row.uid),
                "delivery_id": row.delivery_id,
                "channel": row.channel,
                "to": to,
                "subject": row.subject,
                "html": row.html,
                "text": row.text,
                "headers": json.loads(row.headers_json or "{}"),
                "is_test": row.is_test,
                "created_at": row.created_at,
            }
        )
    return result


def _row_key(full_key: str) -> str:
    """The column holds 128 characters; longer keys are hashed so they still stay unique."""
    if len(full_key) <= _KEY_COLUMN_CHARS:
        return full_key
    return "sha256:" + hashlib.sha256(full_key.encode()).hexdigest()


def _provider_id(uid: str) -> str:
    return f"{OUTBOX_PROVIDER_ID_PREFIX}{uid}"


def _to_aad(uid: str) -> bytes:
    return associated_data("outbox_message", "to", uid)


def _delivery_id(tags: dict[str, str]) -> int | None:
    value = tags.get("delivery_id", "")
    return int(value) if value.isdigit() else None


def _email_row(message: OutgoingEmail, full_key: str) -> OutboxMessage:
    uid = new_uid()
    return OutboxMessage(
        uid=uid,
        delivery_id=_delivery_id(message.tags),
        idempotency_key=_row_key(full_key),
        channel=Channel.EMAIL,
        to_enc=cipher().encrypt(message.to, _to_aad(uid)),
        subject=message.subject[:255],
        html=message.html,
        text=message.text,
        headers_json=json.dumps({"From": message.from_, **message.headers}),
        is_test=message.tags.get("test") in ("1", "true"),
    )


def _sms_row(message: OutgoingSms) -> OutboxMessage:
    uid = new_uid()
    headers = {"From": message.from_}
    if message.status_callback:
        headers["StatusCallback"] = message.status_callback
    return OutboxMessage(
        uid=uid,
        idempotency_key=_row_key(f"sms:{message.key}"),
        channel=Channel.SMS,
        to_enc=cipher().encrypt(message.to, _to_aad(uid)),
        text=message.body,
        headers_json=json.dumps(headers),
    )
