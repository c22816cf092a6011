"""SMS bodies: GSM-7 / UCS-2 segment counting (what the carrier bills) and the STOP notice."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import jinja2

from marketing_ui.core.rendering import TemplateError, compile_text
from marketing_ui.core.template_limits import TemplateLimitError

# GSM 03.38 basic character set (ESC excluded: it only introduces the extension table).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs an escape septet plus itself.
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM_SINGLE, GSM_PART = 160, 153  # septets; a multipart header takes 7
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units

STOP_NOTICE = "Reply STOP to opt out"
_STOP_RE = re.compile(r"\bSTOP\b|\b(?:reply|text|send)\s+stop\b", re.IGNORECASE)


@dataclass(frozen=True)
class SmsInfo:
    """What the editor shows under an SMS body and what the sender is billed for."""

    encoding: Literal["GSM-7", "UCS-2"]
    characters: int
    segments: int
    non_gsm: list[str] = field(default_factory=list)


def _pack(units: list[int], single: int, part: int) -> int:
    """Segments needed; a unit (escaped char, surrogate pair) never straddles two parts."""
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def analyze_sms(text: str) -> SmsInfo:
    """Encoding, length in billing units and segment count of one SMS body."""
    non_gsm = list(
        dict.fromkeys(ch for ch in text if ch not in GSM_BASIC and ch not in GSM_EXTENDED)
    )
    if not non_gsm:
        units = [2 if ch in GSM_EXTENDED else 1 for ch in text]
        return SmsInfo("GSM-7", sum(units), _pack(units, GSM_SINGLE, GSM_PART), [])
    units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsInfo("UCS-2", sum(units), _pack(units, UCS2_SINGLE, UCS2_PART), non_gsm)


def with_stop_notice(body: str) -> str:
    """The body with the opt-out instruction on its own line, unless it already has one."""
    if _STOP_RE.search(body):
        return body
    body = body.rstrip()
    return f"{body}\n{STOP_NOTICE}" if body else STOP_NOTICE


@lru_cache(maxsize=256)
def compile_sms(body_template: str) -> jinja2.Template:
    """Check fields once per distinct body; the send worker then renders per recipient."""
    return compile_text(body_template, what="SMS")


def render_sms(body_template: str, context: dict[str, Any]) -> str:
    """One recipient's SMS text: plain text (no HTML escaping), unknown fields refused."""
    values = {key: value for key, value in context.items() if value is not None}
    try:
        return compile_sms(body_template).render(values).strip()
    except TemplateLimitError as exc:
        raise TemplateError(f"SMS: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"SMS personalization failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - author code failing on this recipient's data
        raise TemplateError(f"SMS personalization failed: {type(exc).__name__}: {exc}") from None
