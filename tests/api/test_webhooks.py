"""Resend (Svix-signed) and Twilio (X-Twilio-Signature) webhooks, signed with the vendors' libraries."""
# ruff: noqa: F811  (fixtures imported from tests.api are used as arguments)

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient
from svix.webhooks import Webhook
from twilio.request_validator import RequestValidator

from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.models import ConsentEvent, Customer, Delivery, Event, Suppression
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.webhooks import status_callback_url
from tests.api import (  # noqa: F401
    PUBLIC_API,
    RESEND_SECRET,
    TWILIO_TOKEN,
    api_db,
    client,
    seed_email_delivery,
)

EMAIL_ID = "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
PHONE = "+12025550143"
SID = "SM" + "a" * 32


def _resend(
    client: TestClient,
    type_: str,
    msg_id: str,
    *,
    data: dict | None = None,
    at: datetime | None = None,
    secret: str = RESEND_SECRET,
    body: bytes | None = None,
):  # noqa: ANN202 - an httpx response
    payload = (
        body
        or json.dumps(
            {
                "type": type_,
                "created_at": "2026-11-25T10:00:00.000Z",
                "data": {"email_id": EMAIL_ID, "to": ["ann@example.com"], **(data or {})},
            }
        ).encode()
    )
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, payload.decode())
    return client.post(
        "/webhooks/resend",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "svix-id": msg_id,
            "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": signature,
        },
    )


def _seed(engine: Engine, **kw):  # noqa: ANN003, ANN202
    with Session(engine, expire_on_commit=False) as s:
        return seed_email_delivery(s, provider_message_id=kw.pop("pmid", EMAIL_ID), **kw)


def _types(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.execute(select(Event.type).order_by(Event.id)).scalars())


def _delivery(engine: Engine, delivery_id: int) -> Delivery:
    with Session(engine) as s:
        return s.get(Delivery, delivery_id)


def test_delivered_event_is_stored_once_even_when_replayed(
    client: TestClient, api_db: Engine
) -> None:
    seeded = _seed(api_db)
    first = _resend(client, "email.delivered", "msg_delivered_1")
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "stored"
    replay = _resend(client, "email.delivered", "msg_delivered_1")
    assert replay.status_code == 200
    assert replay.json()["result"] == "duplicate"
    assert _types(api_db) == ["delivered"]
    delivery = _delivery(api_db, seeded.delivery_id)
    assert delivery.status == "delivered"
    with Session(api_db) as s:
        at = s.execute(select(Event.created_at)).scalar_one()
    assert at.replace(tzinfo=None) == datetime(2026, 11, 25, 10, 0)  # the provider's time


def test_bad_signature_wrong_secret_and_stale_timestamp_get_401(
    client: TestClient, api_db: Engine
) -> None:
    _seed(api_db)
    other_secret = "whsec_" + "A" * 32
    assert _resend(client, "email.delivered", "msg_x1", secret=other_secret).status_code == 401
    stale = datetime.now(UTC) - timedelta(minutes=6)
    assert _resend(client, "email.delivered", "msg_x2", at=stale).status_code == 401
    future = datetime.now(UTC) + timedelta(minutes=6)
    assert _resend(client, "email.delivered", "msg_x3", at=future).status_code == 401
    # Body changed after signing (one byte).
    payload = json.dumps({"type": "email.delivered", "data": {"email_id": EMAIL_ID}}).encode()
    now = datetime.now(UTC)
    sig = Webhook(RESEND_SECRET).sign("msg_x4", now, payload.decode())
    tampered = client.post(
        "/webhooks/resend",
        content=payload.replace(b"delivered", b"complained"),
        headers={
            "Content-Type": "application/json",
            "svix-id": "msg_x4",
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": sig,
        },
    )
    assert tampered.status_code == 401
    # Missing headers and garbage signatures.
    bare = client.post(
        "/webhooks/resend", content=payload, headers={"Content-Type": "application/json"}
    )
    assert bare.status_code == 401
    garbage = client.post(
        "/webhooks/resend",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "svix-id": "msg_x5",
            "svix-timestamp": "not-a-number",
            "svix-signature": "v1,%%%",
        },
    )
    assert garbage.status_code == 401
    assert _types(api_db) == []


def test_hard_bounce_suppresses_and_withdraws_consent(client: TestClient, api_db: Engine) -> None:
    seeded = _seed(api_db)
    response = _resend(
        client,
        "email.bounced",
        "msg_bounce_1",
        data={
            "bounce": {
                "type": "Permanent",
                "subType": "General",
                "message": "ann@example.com does not exist",
            }
        },
    )
    assert response.status_code == 200
    delivery = _delivery(api_db, seeded.delivery_id)
    assert delivery.status == "bounced"
    assert "ann@example.com" not in delivery.error
    with Session(api_db) as s:
        assert s.get(Customer, seeded.customer_id).email_consent is False
        suppression = s.execute(select(Suppression)).scalar_one()
        assert (suppression.channel, suppression.reason) == ("email", "bounce")
        assert suppression.value_bidx == blind_indexer().email("ann@example.com")
        consent = s.execute(select(ConsentEvent).order_by(ConsentEvent.id.desc())).scalars().first()
        assert (consent.granted, consent.source) == (False, "bounce")
        detail = s.execute(select(Event.detail)).scalar_one()
        assert "ann@example.com" not in detail


def test_transient_bounce_is_recorded_without_suppression(
    client: TestClient, api_db: Engine
) -> None:
    seeded = _seed(api_db)
    _resend(client, "email.bounced", "msg_soft", data={"bounce": {"type": "Transient"}})
    assert _types(api_db) == ["bounced"]
    assert _delivery(api_db, seeded.delivery_id).status == "sent"
    with Session(api_db) as s:
        assert s.execute(select(func.count()).select_from(Suppression)).scalar_one() == 0


def test_complaint_suppresses_and_records_consent_history(
    client: TestClient, api_db: Engine
) -> None:
    seeded = _seed(api_db)
    assert _resend(client, "email.complained", "msg_c1").status_code == 200
    assert _resend(client, "email.complained", "msg_c1").json()["result"] == "duplicate"
    with Session(api_db) as s:
        assert s.get(Customer, seeded.customer_id).email_consent is False
        assert s.execute(select(Suppression.reason)).scalar_one() == "complaint"
        sources = list(s.execute(select(ConsentEvent.source)).scalars())
        assert sources.count("complaint") == 1
    assert _types(api_db) == ["complained"]


def test_open_click_delay_sent_and_unknown_types(client: TestClient, api_db: Engine) -> None:
    seeded = _seed(api_db)
    _resend(client, "email.sent", "msg_s")
    _resend(client, "email.delivery_delayed", "msg_d")
    _resend(client, "email.opened", "msg_o")
    _resend(client, "email.clicked", "msg_k", data={"click": {"link": "https://bistro.example/"}})
    assert _resend(client, "contact.created", "msg_u").json()["result"] == "ignored"
    with Session(api_db, expire_on_commit=False) as s:
        other = seed_email_delivery(s, email="zed@example.com", provider_message_id="other-id")
    unmatched = _resend(client, "email.delivered", "msg_none", data={"email_id": "not-ours"})
    assert unmatched.status_code == 200
    assert unmatched.json()["result"] == "unmatched"
    assert _types(api_db) == ["sent", "delayed", "opened", "clicked"]
    assert _delivery(api_db, other.delivery_id).status == "sent"
    with Session(api_db) as s:
        assert s.get(Customer, seeded.customer_id).last_activity_at is not None


def test_delivered_after_bounce_does_not_resurrect(client: TestClient, api_db: Engine) -> None:
    seeded = _seed(api_db)
    _resend(client, "email.bounced", "msg_b", data={"bounce": {"type": "Permanent"}})
    _resend(client, "email.delivered", "msg_late")
    assert _delivery(api_db, seeded.delivery_id).status == "bounced"


def test_unconfigured_secret_refuses(
    client: TestClient, api_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marketing_ui.core.config import reset_settings_cache

    monkeypatch.setenv("RESEND_WEBHOOK_SECRET", "")
    reset_settings_cache()
    _seed(api_db)
    refused = _resend(client, "email.delivered", "msg_nc")
    assert refused.status_code == 404 and "not set up" in refused.text
    assert _types(api_db) == []


# Twilio ---------------------------------------------------------------------------------


def _twilio(client: TestClient, path: str, form: dict[str, str], token: str = TWILIO_TOKEN):  # noqa: ANN202
    signature = RequestValidator(token).compute_signature(PUBLIC_API + path, form)
    return client.post(
        path,
        content=urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


def _sms_seed(engine: Engine):  # noqa: ANN202
    with Session(engine, expire_on_commit=False) as s:
        return seed_email_delivery(s, email="", phone=PHONE, channel="sms", provider_message_id=SID)


def _status_form(status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": SID,
        "SmsSid": SID,
        "MessageStatus": status,
        "To": PHONE,
        "From": "+15005550006",
        **extra,
    }


def test_status_callback_url_is_public() -> None:
    assert status_callback_url().endswith("/webhooks/twilio/status")


@pytest.mark.parametrize(
    ("status", "expected"),
    [("delivered", "delivered"), ("undelivered", "failed"), ("failed", "failed")],
)
def test_twilio_status_callbacks(
    client: TestClient, api_db: Engine, status: str, expected: str
) -> None:
    seeded = _sms_seed(api_db)
    extra = {} if status == "delivered" else {"ErrorCode": "30003"}
    response = _twilio(client, "/webhooks/twilio/status", _status_form(status, **extra))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    again = _twilio(client, "/webhooks/twilio/status", _status_form(status, **extra))
    assert again.status_code == 200
    delivery = _delivery(api_db, seeded.delivery_id)
    assert delivery.status == expected
    assert _types(api_db) == [expected]
    if expected == "failed":
        assert "30003" in delivery.error


def test_twilio_without_an_auth_token_is_not_there(
    client: TestClient, api_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default (outbox provider) has no Twilio token: a stranger's callback gets a
    4xx, never a 5xx, and nothing is recorded."""
    from marketing_ui.core.config import reset_settings_cache

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
    reset_settings_cache()
    seeded = _sms_seed(api_db)
    for path in ("/webhooks/twilio/status", "/webhooks/twilio/inbound"):
        refused = _twilio(client, path, _status_form("delivered"))
        assert refused.status_code == 404, (path, refused.text)
    assert _delivery(api_db, seeded.delivery_id).status != "delivered"
    assert _types(api_db) == []


def test_twilio_bad_signature_is_refused(client: TestClient, api_db: Engine) -> None:
    seeded = _sms_seed(api_db)
    assert (
        _twilio(
            client, "/webhooks/twilio/status", _status_form("delivered"), token="wrong"
        ).status_code
        == 401
    )
    # Signed for other fields than the ones posted.
    form = _status_form("delivered")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_API + "/webhooks/twilio/status", form
    )
    tampered = client.post(
        "/webhooks/twilio/status",
        content=urlencode({**form, "MessageStatus": "failed"}).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert tampered.status_code == 401
    # Signed for another URL (the inbound endpoint).
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_API + "/webhooks/twilio/inbound", form
    )
    moved = client.post(
        "/webhooks/twilio/status",
        content=urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert moved.status_code == 401
    unsigned = client.post(
        "/webhooks/twilio/status",
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    assert _delivery(api_db, seeded.delivery_id).status == "sent"
    assert _types(api_db) == []


def _inbound(client: TestClient, body: str, sid: str = "SMin1"):  # noqa: ANN202
    form = {
        "From": PHONE,
        "To": "+15005550006",
        "Body": body,
        "MessageSid": sid,
        "AccountSid": "AC1",
    }
    return _twilio(client, "/webhooks/twilio/inbound", form)


def _sms_consent(engine: Engine, customer_id: int) -> bool:
    with Session(engine) as s:
        return s.get(Customer, customer_id).sms_consent


def _sms_suppressed(engine: Engine) -> bool:
    with Session(engine) as s:
        return (
            s.execute(
                select(func.count()).select_from(Suppression).where(Suppression.channel == "sms")
            ).scalar_one()
            > 0
        )


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        "stop",
        "  Stop  ",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "REVOKE",
        "opt out",
        "OPT  OUT",
        "OptOut",
    ],
)
def test_stop_keywords_opt_out(client: TestClient, api_db: Engine, word: str) -> None:
    seeded = _sms_seed(api_db)
    with Session(api_db, expire_on_commit=False) as s:
        from tests.api import add_delivery

        queued = add_delivery(s, seeded.customer_id, channel="sms")
    response = _inbound(client, word)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response>" in response.text
    assert _sms_consent(api_db, seeded.customer_id) is False
    assert _sms_suppressed(api_db)
    assert _delivery(api_db, queued).status == "skipped"
    with Session(api_db) as s:
        row = s.execute(select(ConsentEvent).order_by(ConsentEvent.id.desc())).scalars().first()
        assert (row.channel, row.granted, row.source) == ("sms", False, "stop")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("word", ["START", " unstop ", "yes"])
def test_start_keywords_opt_back_in(client: TestClient, api_db: Engine, word: str) -> None:
    seeded = _sms_seed(api_db)
    _inbound(client, "STOP", sid="SMstop")
    assert _sms_consent(api_db, seeded.customer_id) is False
    response = _inbound(client, word, sid="SMstart")
    assert response.status_code == 200
    assert _sms_consent(api_db, seeded.customer_id) is True
    assert not _sms_suppressed(api_db)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("word", ["HELP", " help ", "Info"])
def test_help_replies_with_business_and_stop_hint(
    client: TestClient, api_db: Engine, word: str
) -> None:
    seeded = _sms_seed(api_db)
    response = _inbound(client, word)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Message>" in response.text
    assert "Demo Bistro" in response.text
    assert "Reply STOP to opt out" in response.text
    assert _sms_consent(api_db, seeded.customer_id) is True


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_other_text_and_stop_inside_a_sentence_change_nothing(
    client: TestClient, api_db: Engine
) -> None:
    seeded = _sms_seed(api_db)
    for body in ["Don't stop the specials!", "STOP!", "hello", ""]:
        response = _inbound(client, body, sid=f"SM{abs(hash(body))}")
        assert response.status_code == 200
        assert "<Message>" not in response.text
    assert _sms_consent(api_db, seeded.customer_id) is True


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_stop_from_unknown_number_still_suppresses_it(client: TestClient, api_db: Engine) -> None:
    response = _inbound(client, "STOP")
    assert response.status_code == 200
    assert _sms_suppressed(api_db)
    assert _inbound(client, "STOP").status_code == 200  # Twilio retry: same MessageSid
    with Session(api_db) as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == 1


# The deliverability guard ----------------------------------------------------------------


@pytest.mark.parametrize("code", ["30005", "30006"])
def test_twilio_number_that_does_not_exist_is_a_hard_bounce(
    client: TestClient, api_db: Engine, code: str
) -> None:
    seeded = _sms_seed(api_db)
    response = _twilio(
        client, "/webhooks/twilio/status", _status_form("undelivered", ErrorCode=code)
    )
    assert response.status_code == 200
    delivery = _delivery(api_db, seeded.delivery_id)
    assert delivery.status == "bounced"
    assert _types(api_db) == ["bounced"]
    with Session(api_db) as s:
        suppression = s.execute(select(Suppression)).scalar_one()
        assert (suppression.channel, suppression.reason) == ("sms", "bounce")
        assert suppression.detail == f"undelivered (Twilio error {code})"
        assert suppression.value_bidx == blind_indexer().phone(PHONE)
        assert s.get(Customer, seeded.customer_id).sms_consent is False


def _sending_campaign(engine: Engine, recipients: int) -> tuple[int, list[str]]:
    """A campaign still sending whose first `recipients` emails the provider accepted."""
    from marketing_ui.core.models import Campaign, CampaignStatus, utcnow

    with Session(engine, expire_on_commit=False) as s:
        campaign = Campaign(name="Spring menu", subject="Hi", status=CampaignStatus.SENDING)
        s.add(campaign)
        s.flush()
        pmids = []
        for i in range(recipients + 1):
            customer = Customer(email_bidx=blind_indexer().email(f"guest{i}@example.com"))
            s.add(customer)
            s.flush()
            pmid = f"re_{i:04d}"
            s.add(
                Delivery(
                    campaign_id=campaign.id,
                    customer_id=customer.id,
                    channel="email",
                    status="sent" if i < recipients else "pending",
                    provider_message_id=pmid if i < recipients else None,
                    sent_at=utcnow() if i < recipients else None,
                )
            )
            pmids.append(pmid)
        s.commit()
        return campaign.id, pmids[:recipients]


@pytest.fixture
def own_queues(api_db: Engine, redis_client: object) -> Iterator[None]:
    """Redis keys of this test only (the guard remembers when it last judged a campaign)."""
    from tests.workers.sending_harness import send_settings

    with send_settings(api_db, None, None):
        yield


def _campaign_row(engine: Engine, campaign_id: int):  # noqa: ANN202 - a Campaign
    from marketing_ui.core.models import Campaign

    with Session(engine) as s:
        return s.get(Campaign, campaign_id)


def test_the_complaint_that_passes_the_limit_pauses_the_send_at_once(
    client: TestClient, api_db: Engine, own_queues: None
) -> None:
    from marketing_ui.core.models import AuditEntry

    campaign_id, pmids = _sending_campaign(api_db, 400)
    first = _resend(client, "email.complained", "msg_g1", data={"email_id": pmids[0]})
    assert first.status_code == 200 and first.json()["result"] == "stored"
    assert _campaign_row(api_db, campaign_id).status == "sending"  # 1 of 400: 0.25%
    get_redis().delete(f"{get_settings().queue_prefix}:send:{campaign_id}:guard")  # a second on

    second = _resend(client, "email.complained", "msg_g2", data={"email_id": pmids[1]})

    assert second.status_code == 200 and second.json()["result"] == "stored"
    campaign = _campaign_row(api_db, campaign_id)
    assert campaign.status == "paused"  # 2 of 400: 0.5%
    assert (campaign.auto_pause_reason, campaign.auto_pause_count) == ("complaints", 2)
    with Session(api_db) as s:
        entry = s.execute(select(AuditEntry)).scalars().one()
        assert (entry.actor, entry.action) == ("system", "campaign.pause")
        assert entry.summary.startswith("automatic: 0.5% email spam complaints")
        # The complaint that tipped it is stored with the pause.
        assert s.execute(select(func.count()).select_from(Suppression)).scalar_one() == 2


def test_bounces_faster_than_the_guard_judges_are_caught_by_the_next_tick(
    client: TestClient, api_db: Engine, own_queues: None
) -> None:
    from workers.scheduler import tick

    campaign_id, pmids = _sending_campaign(api_db, 200)
    bounce = {"bounce": {"type": "Permanent", "subType": "General"}}
    for i in range(11):  # 5.5% of 200, faster than one judgement per second
        response = _resend(
            client, "email.bounced", f"msg_hb{i}", data={"email_id": pmids[i], **bounce}
        )
        assert response.status_code == 200
    tick()

    campaign = _campaign_row(api_db, campaign_id)
    assert campaign.status == "paused"
    assert (campaign.auto_pause_reason, campaign.auto_pause_count) == ("hard_bounces", 11)
