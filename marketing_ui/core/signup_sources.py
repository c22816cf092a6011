"""Where signups come from: the `src` slug of `/join` links (printed on tents and posters), and
how many confirmed signups each one brought.

A stand-in until `core/signup.py` (the signup flow) lands; the lead moves these there.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlmodel import Session

from marketing_ui.core.models import ConsentEvent

MAX_SOURCE_LENGTH = 40
_SOURCE_RE = re.compile(rf"[a-z0-9](?:[a-z0-9-]{{0,{MAX_SOURCE_LENGTH - 2}}}[a-z0-9])?")
# How a signup is confirmed: the email link, or YES to the confirmation text.
CONFIRMED_SOURCES = ("confirm_link", "sms_yes")


class SourceError(ValueError):
    """A source slug that cannot be used; the message names the field and what it takes."""


def clean_source(text: str, default: str) -> str:
    """The slug for `text` (trimmed, lower case; `default` when blank), or SourceError.

    Lower case so "Window" and "window" count as one source.
    """
    slug = (text or "").strip().lower() or default
    if not _SOURCE_RE.fullmatch(slug):
        raise SourceError(
            f"Source: use letters, digits and dashes only (at most {MAX_SOURCE_LENGTH}, "
            "not starting or ending with a dash), e.g. window or table-tent."
        )
    return slug


def signups_by_source(session: Session) -> list[tuple[str, int]]:
    """(origin, confirmed signups) per source, most first ("" for signups without a source).

    A signup is a customer who confirmed a channel: one who confirmed both email and SMS from the
    same source counts once.
    """
    count = func.count(func.distinct(ConsentEvent.customer_id))
    rows = session.execute(
        select(ConsentEvent.origin, count)
        .where(ConsentEvent.granted.is_(True), ConsentEvent.source.in_(CONFIRMED_SOURCES))
        .group_by(ConsentEvent.origin)
        .order_by(count.desc(), ConsentEvent.origin)
    ).all()
    return [(origin or "", int(n)) for origin, n in rows]
