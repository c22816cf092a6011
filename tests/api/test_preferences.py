"""The preference page behind the signed link: channels, birthday, download my data, erase me."""
# ruff: noqa: F811  (fixtures imported from tests.api are used as arguments)

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from marketing_ui.core.customers import consent_proof_hash
from marketing_ui.core.models import AuditEntry, ConsentEvent, Customer, Delivery, Event
from marketing_ui.core.tracking import unsubscribe_token
from tests.api import Seeded, add_delivery, api_db, client, seed_email_delivery  # noqa: F401

UA = "Mozilla/5.0 (iPhone) preference-test"
PHONE = "+12025550143"


@pytest.fixture
def seeded(api_db: Engine) -> Seeded:
    with Session(api_db, expire_on_commit=False) as s:
        return seed_email_delivery(s, phone=PHONE)


def _token(seeded: Seeded) -> str:
    return unsubscribe_token(seeded.customer_uid, seeded.campaign_id)


def _customer(engine: Engine, customer_id: int) -> Customer:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(Customer, customer_id)


def _consent_events(engine: Engine, customer_id: int) -> list[tuple[str, bool, str, str | None]]:
    with Session(engine) as s:
        return [
            (e.channel, e.granted, e.source, e.proof_hash)
            for e in s.execute(
                select(ConsentEvent)
                .where(ConsentEvent.customer_id == customer_id)
                .order_by(ConsentEvent.id)
            ).scalars()
        ]


def _prefs(client: TestClient, token: str, **fields: str):  # noqa: ANN202
    return client.post(f"/u/{token}/prefs", data=fields, headers={"User-Agent": UA})


def test_the_page_shows_channels_masked_and_every_choice(
    client: TestClient, seeded: Seeded
) -> None:
    token = _token(seeded)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    text = page.text
    assert "Your preferences" in text and "Demo Bistro" in text and "Hello Ann" in text
    assert 'name="viewport"' in text
    assert "a***@example.com" in text and "•••0143" in text
    assert "ann@example.com" not in text and "2025550143" not in text  # masked only
    assert f'action="/u/{token}"' in text and 'id="confirm"' in text  # email off
    assert 'id="sms_off"' in text and 'id="all_off"' in text
    assert 'id="birthday_month"' in text and f'action="/u/{token}/data"' in text
    assert f'href="/u/{token}/erase"' in text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_sms_off_then_on_records_the_change_with_its_proof(
    client: TestClient, api_db: Engine, seeded: Seeded
) -> None:
    token = _token(seeded)
    queued = None
    with Session(api_db) as s:
        queued = add_delivery(s, seeded.customer_id, channel="sms")
    off = _prefs(client, token, action="sms_off")
    assert off.status_code == 200 and "not get our text messages" in off.text
    assert 'id="sms_on"' in off.text
    assert _customer(api_db, seeded.customer_id).sms_consent is False
    with Session(api_db) as s:
        assert s.get(Delivery, queued).status == "skipped"
    on = _prefs(client, token, action="sms_on")
    assert on.status_code == 200 and 'id="sms_off"' in on.text
    assert _customer(api_db, seeded.customer_id).sms_consent is True
    proof = consent_proof_hash("testclient", UA)
    assert _consent_events(api_db, seeded.customer_id)[-2:] == [
        ("sms", False, "preferences", proof),
        ("sms", True, "preferences", proof),
    ]


def test_email_back_on_after_unsubscribing_is_a_preferences_consent(
    client: TestClient, api_db: Engine, seeded: Seeded
) -> None:
    token = _token(seeded)
    done = client.post(f"/u/{token}", data={"confirm": "1"})
    assert f'href="/u/{token}" id="preferences"' in done.text  # back to every choice
    page = client.get(f"/u/{token}")
    assert "Resubscribe" in page.text and 'id="email_on"' in page.text
    back = _prefs(client, token, action="email_on")
    assert back.status_code == 200 and "emails from Demo Bistro again" in back.text
    assert _customer(api_db, seeded.customer_id).email_consent is True
    channel, granted, source, proof = _consent_events(api_db, seeded.customer_id)[-1]
    assert (channel, granted, source) == ("email", True, "preferences")
    assert proof == consent_proof_hash("testclient", UA)


def test_a_channel_without_an_address_cannot_be_switched_on(
    client: TestClient, api_db: Engine
) -> None:
    with Session(api_db, expire_on_commit=False) as s:
        only_email = seed_email_delivery(s)
    token = _token(only_email)
    assert "We have no phone number for you." in client.get(f"/u/{token}").text
    before = _consent_events(api_db, only_email.customer_id)
    refused = _prefs(client, token, action="sms_on")
    assert refused.status_code == 400
    assert "We have no phone number for you, so we cannot switch this on here." in refused.text
    assert _consent_events(api_db, only_email.customer_id) == before


def test_unsubscribe_from_everything(client: TestClient, api_db: Engine, seeded: Seeded) -> None:
    done = _prefs(client, _token(seeded), action="all_off")
    assert done.status_code == 200 and "You will not hear from Demo Bistro" in done.text
    customer = _customer(api_db, seeded.customer_id)
    assert (customer.email_consent, customer.sms_consent) == (False, False)
    with Session(api_db) as s:
        events = s.execute(
            select(Event.campaign_id, Event.type).where(Event.customer_id == seeded.customer_id)
        ).all()
    assert events == [(seeded.campaign_id, "unsubscribed")]  # counted for the campaign


def test_birthday_is_checked_kept_when_wrong_and_can_be_cleared(
    client: TestClient, api_db: Engine, seeded: Seeded
) -> None:
    token = _token(seeded)
    wrong = _prefs(
        client, token, action="birthday", birthday_month="2", birthday_day="30", birthday_year=""
    )
    assert wrong.status_code == 400
    assert "Birthday day: February has days 1 to 29, not 30." in wrong.text
    assert 'value="30"' in wrong.text and '<option value="2" selected>' in wrong.text
    assert _customer(api_db, seeded.customer_id).birthday_month is None
    saved = _prefs(
        client,
        token,
        action="birthday",
        birthday_month="7",
        birthday_day="4",
        birthday_year="1990",
    )
    assert saved.status_code == 200 and "Your birthday is saved." in saved.text
    stored = _customer(api_db, seeded.customer_id)
    assert (stored.birthday_month, stored.birthday_day, stored.birthday_year) == (7, 4, 1990)
    cleared = _prefs(client, token, action="birthday_clear")
    assert cleared.status_code == 200
    assert _customer(api_db, seeded.customer_id).birthday_month is None


def test_download_my_data_is_a_json_attachment_with_my_contact_data(
    client: TestClient, seeded: Seeded
) -> None:
    token = _token(seeded)
    assert client.get(f"/u/{token}/data").status_code == 405  # never by a prefetched GET
    response = client.post(f"/u/{token}/data", data={"download": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith('attachment; filename="my-data-')
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["profile"]["email"] == "ann@example.com"
    assert data["profile"]["phone"] == PHONE
    assert [m["campaign"] for m in data["messages"]] == ["Monday special"]
    assert {e["source"] for e in data["consent_history"]} == {"manual"}


def test_erase_takes_two_steps_and_then_the_link_names_nobody(
    client: TestClient, api_db: Engine, seeded: Seeded
) -> None:
    token = _token(seeded)
    ask = client.get(f"/u/{token}/erase")
    assert ask.status_code == 200 and "Erase your data?" in ask.text
    assert 'id="erase-confirm"' in ask.text and f'href="/u/{token}"' in ask.text
    assert _customer(api_db, seeded.customer_id).erased_at is None  # asking changes nothing
    not_confirmed = client.post(f"/u/{token}/erase", data={"erase": "yes"})
    assert not_confirmed.status_code == 400
    assert _customer(api_db, seeded.customer_id).erased_at is None

    done = client.post(f"/u/{token}/erase", data={"erase": "confirm"}, headers={"User-Agent": UA})
    assert done.status_code == 200 and "Your data is erased" in done.text
    customer = _customer(api_db, seeded.customer_id)
    assert customer.erased_at is not None and customer.email_enc is None
    assert customer.first_name == ""
    assert ("email", False, "erase", consent_proof_hash("testclient", UA)) in _consent_events(
        api_db, seeded.customer_id
    )
    with Session(api_db) as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "customer.erase")
        ).scalar_one()
    assert entry.actor == "customer (preference page)"
    assert entry.object_id == str(seeded.customer_id)

    for method, path in (
        ("get", f"/u/{token}"),
        ("get", f"/u/{token}/erase"),
        ("post", f"/u/{token}/data"),
        ("post", f"/u/{token}/prefs"),
        ("post", f"/u/{token}/erase"),
    ):
        fields = {"action": "sms_on", "erase": "confirm", "download": "1"}
        response = client.get(path) if method == "get" else client.post(path, data=fields)
        assert response.status_code == 404, path
    assert client.post(f"/u/{token}", data={"confirm": "1"}).status_code == 404


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_forged_or_edited_links_get_a_clear_page_and_change_nothing(
    client: TestClient, api_db: Engine, seeded: Seeded
) -> None:
    uid, campaign, sig = _token(seeded).split(".")
    other_uid = ("0" if uid[0] != "0" else "1") + uid[1:]
    forged = [
        f"{uid}.{campaign}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",
        f"{other_uid}.{campaign}.{sig}",
        f"{uid}.{int(campaign) + 1}.{sig}",
        "garbage",
    ]
    before = _consent_events(api_db, seeded.customer_id)
    for token in forged:
        for response in (
            client.get(f"/u/{token}"),
            client.get(f"/u/{token}/erase"),
            client.post(f"/u/{token}/prefs", data={"action": "sms_off"}),
            client.post(f"/u/{token}/data", data={"download": "1"}),
            client.post(f"/u/{token}/erase", data={"erase": "confirm"}),
        ):
            assert response.status_code == 400, token
            assert "This link is not valid" in response.text
            assert "ann@example.com" not in response.text
    assert _consent_events(api_db, seeded.customer_id) == before
    assert _customer(api_db, seeded.customer_id).erased_at is None
