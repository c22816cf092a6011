"""QR images for coupon links, and the random token and short code each coupon carries."""

from __future__ import annotations

import base64
import io
import os
from functools import lru_cache

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

# No 0/O, 1/I/L: what a customer reads aloud or staff type at the counter stays unambiguous.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SHORT_CODE_LENGTH = 8
TOKEN_BYTES = 16  # 128 bits, rendered as 22 URL-safe base64 characters
_TOKEN_CHARS = (TOKEN_BYTES * 8 + 5) // 6  # base64 without its "==" padding
_SHORT_CODE_SPACE = len(SHORT_CODE_ALPHABET) ** SHORT_CODE_LENGTH
_SEPARATORS = str.maketrans("", "", " -\t_.")


# Tokens and short codes ---------------------------------------------------------


def new_token() -> str:
    """A coupon's secret URL token: 128 random bits, so it can be neither guessed nor enumerated.

    What `secrets.token_urlsafe(16)` returns (22 URL-safe base64 characters of os.urandom),
    without its per-call overhead: one is drawn per recipient while a send freezes its audience.
    """
    return base64.urlsafe_b64encode(os.urandom(TOKEN_BYTES))[:_TOKEN_CHARS].decode()


# Every pair of symbols, so a code is four lookups instead of eight divisions (it is drawn
# once per recipient while a send freezes its audience).
_PAIRS = [a + b for a in SHORT_CODE_ALPHABET for b in SHORT_CODE_ALPHABET]
_PAIR_COUNT = len(_PAIRS)
_CODE_BYTES = (_SHORT_CODE_SPACE.bit_length() + 7) // 8  # 5: 40 bits cover 31^8 (~2^39.6)


def new_short_code() -> str:
    """Eight symbols drawn uniformly for typing at the counter.

    Rejection sampling (what secrets.randbelow does): a draw of 40 random bits at or above
    31^8 is thrown away (about one in five), so there is no modulo bias.
    """
    while True:
        value = int.from_bytes(os.urandom(_CODE_BYTES))
        if value < _SHORT_CODE_SPACE:
            break
    value, a = divmod(value, _PAIR_COUNT)
    value, b = divmod(value, _PAIR_COUNT)
    d, c = divmod(value, _PAIR_COUNT)
    return _PAIRS[a] + _PAIRS[b] + _PAIRS[c] + _PAIRS[d]


def normalize_short_code(text: str) -> str | None:
    """The canonical form ("ABCDEFGH") that is hashed; None when the text cannot be a code."""
    if not isinstance(text, str) or len(text) > 32:
        return None
    code = text.translate(_SEPARATORS).upper()
    if len(code) != SHORT_CODE_LENGTH or any(c not in SHORT_CODE_ALPHABET for c in code):
        return None
    return code


def format_short_code(code: str) -> str:
    """Display form "ABCD-EFGH": two halves are easier to read out and type."""
    half = SHORT_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


# Images ---------------------------------------------------------------------------


def _qr(data: str, box_size: int, border: int, image_factory: type | None = None) -> qrcode.QRCode:
    qr = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
        image_factory=image_factory,
    )
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_png(data: str, box_size: int = 10, border: int = 4) -> bytes:
    """PNG for email clients, which render raster images most reliably."""
    image = _qr(data, box_size, border).make_image(fill_color="black", back_color="white")
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def qr_svg(data: str, border: int = 4) -> bytes:
    """SVG with a white background: crisp at any size on the coupon page, readable in dark mode."""
    factory = qrcode.image.svg.SvgPathFillImage
    return _qr(data, 10, border, factory).make_image().to_string(encoding="utf-8")


def qr_modules(data: str) -> list[list[bool]]:
    """The code's modules (True is dark), without the quiet zone: for drawing it as vector
    squares, sharp at any print size."""
    return _qr(data, 1, 0).get_matrix()


def qr_data_uri(data: str) -> str:
    """Inline PNG for development emails (production links the QR endpoint: Gmail drops data URIs)."""
    return "data:image/png;base64," + base64.b64encode(qr_png(data)).decode()


@lru_cache(maxsize=1024)
def cached_qr_png(data: str) -> bytes:
    """The QR endpoint's PNG; recipients reopen the same email, so the same image repeats."""
    return qr_png(data)
