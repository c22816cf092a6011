"""Signups per source: confirmed customers counted once per source, most first."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.models import ConsentEvent
from marketing_ui.core.signup import SourceError, clean_source, signups_by_source


def _customer(session: Session, n: int) -> int:
    return int(create_customer(session, CustomerInput(f"P{n}", email=f"p{n}@example.com")).id)  # type: ignore[arg-type]


def _event(session: Session, customer: int, source: str, origin: str, **kw: object) -> None:
    channel = "sms" if source == "sms_yes" else "email"
    session.add(
        ConsentEvent(
            customer_id=customer,
            channel=kw.get("channel", channel),
            granted=kw.get("granted", True),
            source=source,
            origin=origin,
        )
    )


def test_confirmed_signups_are_counted_per_source_most_first(session: Session) -> None:
    people = [_customer(session, n) for n in range(6)]
    for person in people[:3]:
        _event(session, person, "confirm_link", "window")
    _event(session, people[0], "sms_yes", "window")  # same person, second channel: still one
    _event(session, people[3], "sms_yes", "table-tent")
    _event(session, people[4], "confirm_link", "table-tent")
    _event(session, people[5], "confirm_link", "")  # opened /join without a source
    # Not confirmed signups: a form not yet confirmed, a withdrawal, an import.
    _event(session, people[5], "signup_form", "poster")
    _event(session, people[4], "confirm_link", "poster", granted=False)
    _event(session, people[3], "import", "poster")
    session.commit()
    assert signups_by_source(session) == [("window", 3), ("table-tent", 2), ("direct", 1)]


def test_no_signups_is_an_empty_list(session: Session) -> None:
    assert signups_by_source(session) == []


def test_a_source_is_a_lower_case_slug() -> None:
    assert clean_source(" Window ", "poster") == "window"
    assert clean_source("", "poster") == "poster"
    assert clean_source("a", "x") == "a" and clean_source("a" * 40, "x") == "a" * 40
    for bad in ("a b", "-a", "a-", "a_b", "a" * 41, "ümlaut", "a/b", "a?b=c"):
        with pytest.raises(SourceError, match="^Source: "):
            clean_source(bad, "poster")
