"""Unsubscribe link and RFC 8058 one-click: no login, by signed token, effective immediately."""
# ruff: noqa: F811  (fixtures imported from tests.api are used as arguments)

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from marketing_ui.core.customers import consent_proof_hash
from marketing_ui.core.models import ConsentEvent, Customer, Delivery, Event
from marketing_ui.core.tracking import unsubscribe_token
from tests.api import add_delivery, api_db, client, live_server, seed_email_delivery  # noqa: F401

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _consent(engine: Engine, customer_id: int) -> tuple[bool, list[tuple[bool, str, str]]]:
    with Session(engine) as s:
        customer = s.get(Customer, customer_id)
        history = [
            (row.granted, row.source, row.note)
            for row in s.execute(
                select(ConsentEvent)
                .where(ConsentEvent.customer_id == customer_id, ConsentEvent.channel == "email")
                .order_by(ConsentEvent.id)
            ).scalars()
        ]
        return customer.email_consent, history


def _status(engine: Engine, delivery_id: int) -> str:
    with Session(engine) as s:
        return s.get(Delivery, delivery_id).status


def _unsubscribed_events(engine: Engine) -> list[tuple[int | None, int | None]]:
    with Session(engine) as s:
        return [
            (e.campaign_id, e.delivery_id)
            for e in s.execute(select(Event).where(Event.type == "unsubscribed")).scalars()
        ]


def test_one_click_post_over_real_http_unsubscribes_immediately(
    live_server: str, api_db: Engine
) -> None:
    with Session(api_db, expire_on_commit=False) as s:
        seeded = seed_email_delivery(s)
        queued = add_delivery(s, seeded.customer_id)  # another campaign, not sent yet
        queued_sms = add_delivery(s, seeded.customer_id, channel="sms")
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    # Exactly what Gmail sends: a form POST whose body is List-Unsubscribe=One-Click.
    response = httpx.post(
        f"{live_server}/u/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 200
    assert "<html" not in response.text.lower()  # no page for a one-click request
    consent, history = _consent(api_db, seeded.customer_id)
    assert consent is False
    assert history[-1][:2] == (False, "unsubscribe_link")
    assert "one-click" in history[-1][2]
    assert _status(api_db, queued) == "skipped"
    assert _status(api_db, queued_sms) == "pending"  # email unsubscribe leaves SMS alone
    assert _status(api_db, seeded.delivery_id) == "sent"
    assert _unsubscribed_events(api_db) == [(seeded.campaign_id, seeded.delivery_id)]

    again = httpx.post(
        f"{live_server}/u/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert again.status_code == 200
    assert len(_consent(api_db, seeded.customer_id)[1]) == len(history)  # nothing new recorded
    assert len(_unsubscribed_events(api_db)) == 1


def test_one_click_multipart_body_is_accepted(client: TestClient, api_db: Engine) -> None:
    with Session(api_db, expire_on_commit=False) as s:
        seeded = seed_email_delivery(s)
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    response = client.post(f"/u/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert _consent(api_db, seeded.customer_id)[0] is False


def test_get_shows_a_confirmation_page_and_changes_nothing(
    client: TestClient, api_db: Engine
) -> None:
    with Session(api_db, expire_on_commit=False) as s:
        seeded = seed_email_delivery(s)
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert "Demo Bistro" in page.text  # the business name
    assert 'name="viewport"' in page.text
    assert f'action="/u/{token}"' in page.text
    assert 'id="confirm"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "ann@example.com" not in page.text
    assert _consent(api_db, seeded.customer_id)[0] is True


def test_confirm_button_then_resubscribe(client: TestClient, api_db: Engine) -> None:
    with Session(api_db, expire_on_commit=False) as s:
        seeded = seed_email_delivery(s)
        queued = add_delivery(s, seeded.customer_id)
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    done = client.post(f"/u/{token}", data={"confirm": "1"})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert f'action="/u/{token}/resubscribe"' in done.text
    assert _consent(api_db, seeded.customer_id)[0] is False
    assert _status(api_db, queued) == "skipped"
    # A later visit of the link shows the current state with the resubscribe button.
    assert "Resubscribe" in client.get(f"/u/{token}").text

    back = client.post(f"/u/{token}/resubscribe", data={"resubscribe": "1"})
    assert back.status_code == 200
    assert "subscribed to emails from Demo Bistro again" in back.text
    consent, history = _consent(api_db, seeded.customer_id)
    assert consent is True
    assert [h[:2] for h in history[-2:]] == [
        (False, "unsubscribe_link"),
        (True, "unsubscribe_link"),
    ]
    assert _status(api_db, queued) == "skipped"  # a skipped send is not revived
    with Session(api_db) as s:  # both changes carry the proof of who clicked, not the IP itself
        proofs = s.execute(
            select(ConsentEvent.proof_hash)
            .where(ConsentEvent.customer_id == seeded.customer_id)
            .order_by(ConsentEvent.id.desc())
            .limit(2)
        ).scalars()
        expected = consent_proof_hash("testclient", "testclient")
        assert list(proofs) == [expected, expected]


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_or_unknown_tokens_are_refused(
    client: TestClient, api_db: Engine, method: str
) -> None:
    with Session(api_db, expire_on_commit=False) as s:
        seeded = seed_email_delivery(s)
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    uid, campaign, sig = token.split(".")
    other_uid = ("0" if uid[0] != "0" else "1") + uid[1:]
    bad = [
        f"{uid}.{campaign}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
        f"{other_uid}.{campaign}.{sig}",
        f"{uid}.{int(campaign) + 1}.{sig}",
        "garbage",
        "a" * 500,
    ]
    for attempt in bad:
        if method == "get":
            response = client.get(f"/u/{attempt}")
        else:
            response = client.post(f"/u/{attempt}", data=ONE_CLICK)
        assert response.status_code in (400, 404), attempt
    # Genuine signature, but the customer was deleted meanwhile: a 404 page.
    ghost = unsubscribe_token("f" * 32, seeded.campaign_id)
    assert client.get(f"/u/{ghost}").status_code == 404
    assert client.post(f"/u/{ghost}", data={"confirm": "1"}).status_code == 404
    assert _consent(api_db, seeded.customer_id)[0] is True
    assert _unsubscribed_events(api_db) == []


def test_post_without_one_click_body_or_with_wrong_type_changes_nothing(
    client: TestClient, api_db: Engine
) -> None:
    with Session(api_db, expire_on_commit=False) as s:
        seeded = seed_email_delivery(s)
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "Yes"}).status_code == 400
    assert client.post(f"/u/{token}", content=b"").status_code == 415
    assert (
        client.post(
            f"/u/{token}",
            content=b'{"List-Unsubscribe":"One-Click"}',
            headers={"Content-Type": "application/json"},
        ).status_code
        == 415
    )
    assert _consent(api_db, seeded.customer_id)[0] is True
