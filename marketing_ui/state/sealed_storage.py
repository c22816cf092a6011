"""Page state is encrypted before Reflex writes it to Redis (or disk), and opened when read back.

Reflex pickles each page state as it stands: decrypted customer emails and phones on the
Customers page, coupon codes, the connection's request headers (with the session cookie). Its
state managers store those pickles as they are. Here the two methods every manager goes through,
`BaseState._serialize` and `BaseState._deserialize`, are wrapped once at app start so each
pickle is sealed with AES-256-GCM under a key derived from SIGNING_KEY. A pickle that does not
open (another key, tampering, a pickle from before this) is treated like a schema change: Reflex
starts that state afresh.

Reflex is pinned (requirements.txt), and `tests/state/test_sealed_storage.py` checks against the
pinned version that stored state holds no plaintext, so an upgrade that moves these methods fails
loudly instead of silently storing plaintext again.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from reflex.state import BaseState
from reflex_base.utils.exceptions import StateSchemaMismatchError

from marketing_ui.core.crypto import DecryptionError, blob_sealer

PURPOSE = "reflex-page-state"

_plain_serialize = BaseState._serialize
_plain_deserialize = BaseState._deserialize.__func__  # type: ignore[attr-defined]


def _sealed_serialize(self: BaseState) -> bytes:
    payload = _plain_serialize(self)
    return blob_sealer(PURPOSE).seal(payload) if payload else payload


def _sealed_deserialize(
    cls: type[BaseState], data: bytes | None = None, fp: BinaryIO | None = None
) -> Any:
    if (data is None) == (fp is None):
        raise ValueError("Only one of `data` or `fp` must be provided")
    blob = data if data is not None else fp.read()  # type: ignore[union-attr]
    try:
        payload = blob_sealer(PURPOSE).open(blob)
    except DecryptionError as exc:
        raise StateSchemaMismatchError(f"stored page state does not open: {exc}") from None
    return _plain_deserialize(cls, data=payload)


def install() -> None:
    """Seal every page state Reflex stores from now on (idempotent)."""
    if BaseState._serialize is not _sealed_serialize:
        BaseState._serialize = _sealed_serialize  # type: ignore[method-assign]
        BaseState._deserialize = classmethod(_sealed_deserialize)  # type: ignore[assignment]


def installed() -> bool:
    return BaseState._serialize is _sealed_serialize
