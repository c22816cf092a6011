"""Field encryption (AES-256-GCM bound to table/column/row), blind indexes and signed tokens."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import secrets

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from marketing_ui.core.config import Settings, _decode_key, get_settings


class DecryptionError(ValueError):
    """The ciphertext was tampered with, moved to another row, or its key is unknown."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    # base64.urlsafe_b64decode, without its per-call type juggling (one per decryption).
    padded = (text + "=" * (-len(text) % 4)).encode("ascii")
    return binascii.a2b_base64(padded.translate(_FROM_URLSAFE))


def associated_data(table: str, column: str, row_uid: str) -> bytes:
    """The AAD that binds a ciphertext to exactly one cell."""
    return f"{table}\x1f{column}\x1f{row_uid}".encode()


class FieldCipher:
    """Encrypts with the active key; decrypts with whichever key id the value names."""

    def __init__(self, keyring: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keyring:
            raise ValueError("active key id is not in the keyring")
        self._aead = {kid: AESGCM(key) for kid, key in keyring.items()}
        self.active_key_id = active_key_id

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        nonce = os.urandom(12)
        ct = self._aead[self.active_key_id].encrypt(nonce, plaintext.encode(), aad)
        return f"{self.active_key_id}:{_b64(nonce + ct)}"

    def decrypt(self, token: str, aad: bytes) -> str:
        kid, sep, body = token.partition(":")
        if not sep or kid not in self._aead:
            raise DecryptionError("value is encrypted under an unknown key id")
        raw = _unb64(body)
        try:
            return self._aead[kid].decrypt(raw[:12], raw[12:], aad).decode()
        except InvalidTag:
            raise DecryptionError("value does not belong to this cell or was altered") from None

    @staticmethod
    def key_id_of(token: str) -> str:
        return token.partition(":")[0]


def cipher(settings: Settings | None = None) -> FieldCipher:
    settings = settings or get_settings()
    return FieldCipher(settings.keyring, settings.active_key)


# Normalization and blind indexes ---------------------------------------------


def normalize_email(value: str) -> str:
    """Trimmed and lowercased: the form the blind index is computed over."""
    return value.strip().lower()


_SCIENTIFIC = re.compile(r"\+?\d+(?:[.,]\d+)?[eE]\+?\d+")  # 2.02555E+09: a spreadsheet's doing
_FLOAT_ZERO = re.compile(r"(\+?\d{6,})\.0+")  # 2025550143.0: a number column exported as float


def normalize_phone(value: str, region: str | None = None) -> str:
    """E.164 (+15551234567); raises ValueError for anything that is not a possible number.

    Also read: a number a spreadsheet exported as a float ("2025550143.0") and the "00"
    international prefix most of the world dials ("0033 1 23 45 67 89"), whatever the region.
    """
    region = region or get_settings().default_region
    text = value.strip()
    if _SCIENTIFIC.fullmatch(text):
        raise ValueError(
            "written in scientific notation by a spreadsheet, so its last digits are lost: "
            "format the column as text and export again"
        )
    whole = _FLOAT_ZERO.fullmatch(text)
    text = whole.group(1) if whole else text
    number = _parse_phone(text, region)
    if not _valid(number) and text.startswith("00"):
        number = _parse_phone("+" + text[2:], region)
    if not _valid(number):
        raise ValueError("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_phone(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if text.startswith("00"):
            return None  # tried again with "+"
        raise ValueError(f"not a phone number ({exc})") from None


def _valid(number: phonenumbers.PhoneNumber | None) -> bool:
    return (
        number is not None
        and phonenumbers.is_possible_number(number)
        and phonenumbers.is_valid_number(number)
    )


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) for one key, with the key's padded blocks hashed once.

    The same MAC as `hmac.new(key, msg, sha256)`; hmac.new and hmac.digest redo that key setup
    on every call, which is most of their cost for short messages (coupons hash one per
    recipient while an audience freezes; emails sign several links each).
    """

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(key.translate(hmac.trans_36))
        self._outer = hashlib.sha256(key.translate(hmac.trans_5C))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class BlindIndexer:
    """Keyed HMAC-SHA256 of a normalized value; the kind is mixed in so email and phone never collide."""

    def __init__(self, key: bytes) -> None:
        self._mac = HmacSha256(key)

    def index(self, kind: str, normalized: str) -> str:
        return self._mac.digest(f"{kind}\x1f{normalized}".encode()).hex()

    def email(self, value: str) -> str:
        return self.index("email", normalize_email(value))

    def phone(self, e164: str) -> str:
        return self.index("phone", e164)


def blind_indexer(settings: Settings | None = None) -> BlindIndexer:
    settings = settings or get_settings()
    return BlindIndexer(_decode_key(settings.blind_index_key, "BLIND_INDEX_KEY"))


# Signed tokens and random tokens ---------------------------------------------


@functools.lru_cache(maxsize=8)
def _signer(raw_key: str) -> HmacSha256:
    return HmacSha256(_decode_key(raw_key, "SIGNING_KEY"))


def sign(message: str, purpose: str, settings: Settings | None = None) -> str:
    """A short MAC over `purpose|message`, so a signature for one use never fits another."""
    mac = _signer((settings or get_settings()).signing_key).digest(
        f"{purpose}\x1f{message}".encode()
    )
    return _b64(mac[:16])


def verify(message: str, signature: str, purpose: str, settings: Settings | None = None) -> bool:
    # compare_digest raises on non-ASCII str: hostile input must mean "no", never a crash.
    return signature.isascii() and hmac.compare_digest(sign(message, purpose, settings), signature)


def random_token(nbytes: int = 24) -> str:
    """URL-safe random token (default 192 bits)."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """SHA-256 of a random token: what the DB keeps instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


# Sealed blobs (page state at rest) ---------------------------------------------

_SEAL_MAGIC = b"MKS1"


class BlobSealer:
    """AES-256-GCM over whole blobs, under a key derived from SIGNING_KEY for one purpose."""

    def __init__(self, signing_key: bytes, purpose: str) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        key = HKDF(hashes.SHA256(), 32, salt=None, info=f"mk-seal:{purpose}".encode()).derive(
            signing_key
        )
        self._aead = AESGCM(key)

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return _SEAL_MAGIC + nonce + self._aead.encrypt(nonce, data, _SEAL_MAGIC)

    def open(self, blob: bytes) -> bytes:
        """The original bytes; DecryptionError for anything not sealed by this key."""
        if len(blob) < 4 + 12 + 16 or not blob.startswith(_SEAL_MAGIC):
            raise DecryptionError("not a sealed blob")
        try:
            return self._aead.decrypt(blob[4:16], blob[16:], _SEAL_MAGIC)
        except InvalidTag as exc:
            raise DecryptionError("sealed blob does not open with this key") from exc


def blob_sealer(purpose: str) -> BlobSealer:
    """The sealer for `purpose` under the current signing key."""
    return _blob_sealer(purpose, get_settings().signing_key)


@functools.lru_cache(maxsize=8)
def _blob_sealer(purpose: str, raw_signing_key: str) -> BlobSealer:
    return BlobSealer(_decode_key(raw_signing_key, "SIGNING_KEY"), purpose)
