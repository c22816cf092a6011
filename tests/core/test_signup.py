"""The signup context on SQLite and PostgreSQL: checking, asking, confirming once, proof, races."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import redis_keys, signup
from marketing_ui.core.clock import utcnow
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.customers import (
    CustomerError,
    CustomerInput,
    consent_proof_hash,
    create_customer,
)
from marketing_ui.core.models import (
    Automation,
    AutomationKind,
    Campaign,
    ConsentEvent,
    Coupon,
    Customer,
    Delivery,
    OutboxMessage,
    SignupRequest,
    Suppression,
)
from marketing_ui.core.sending.providers import read_outbox
from marketing_ui.core.signup import Outcome, SignupForm
from tests.workers.sending_harness import run_default_jobs, send_settings

EMAIL = "guest@example.com"
PHONE = "+12025550143"
IP, UA = "203.0.113.9", "Mozilla/5.0 (iPhone)"
LINK = re.compile(r"/join/confirm/([A-Za-z0-9._-]+)")


def form(**fields: object) -> SignupForm:
    values: dict[str, object] = {
        "first_name": "Noah",
        "email": EMAIL,
        "email_opt_in": True,
        "origin": "table-tent",
    }
    return SignupForm(**(values | fields))  # type: ignore[arg-type]


def ask(session: Session, **fields: object) -> None:
    signup.submit(session, signup.validate_signup(form(**fields)), ip=IP, user_agent=UA)


@pytest.fixture(autouse=True)
def _the_app_on_this_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Where a test has a database, the app (and the worker sending confirmations) use it."""
    if "engine" not in request.fixturenames:
        yield
        return
    with send_settings(request.getfixturevalue("engine"), None, None):
        yield


def outbox(session: Session) -> list[dict]:
    """What the outbox holds once a worker has sent the queued confirmations."""
    run_default_jobs()
    session.expire_all()
    return read_outbox(session)


def last_token(session: Session) -> str:
    """The token in the newest confirmation email of the outbox."""
    emails = [m for m in outbox(session) if m["channel"] == "email"]
    found = LINK.search(emails[0]["html"])
    assert found, "no confirmation link in the email"
    return found.group(1)


def count(session: Session, model: type) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


# Checking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"first_name": "  "}, "first_name"),
        ({"first_name": "x" * 121}, "first_name"),
        ({"first_name": "No\x07ah"}, "first_name"),
        ({"email_opt_in": False}, "email_opt_in"),
        ({"email": ""}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"sms_opt_in": True, "phone": ""}, "phone"),
        ({"sms_opt_in": True, "phone": "12"}, "phone"),
        ({"sms_opt_in": True, "phone": "9" * 40}, "phone"),
        ({"birthday_month": "13", "birthday_day": "1"}, "birthday_month"),
        ({"birthday_month": "2", "birthday_day": "30"}, "birthday_day"),
        ({"birthday_month": "2", "birthday_day": "29", "birthday_year": "2023"}, "birthday_year"),
        ({"birthday_month": "5"}, "birthday_day"),
        ({"birthday_month": "9" * 5000, "birthday_day": "1"}, "birthday_month"),
    ],
)
def test_a_wrong_field_is_named(fields: dict[str, object], field: str) -> None:
    with pytest.raises(CustomerError) as caught:
        signup.validate_signup(form(**fields))
    assert caught.value.field == field, str(caught.value)


def test_only_ticked_channels_keep_their_address() -> None:
    checked = signup.validate_signup(
        form(phone="(202) 555-0143", email_opt_in=False, sms_opt_in=True, birthday_month="2",
             birthday_day="29")
    )  # fmt: skip
    assert (checked.email, checked.phone, checked.channels) == ("", PHONE, ["sms"])
    assert (checked.birthday.month, checked.birthday.day) == (2, 29)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("src", "stored"),
    [
        ("table-tent", "table-tent"),
        ("  Poster A4 ", "poster-a4"),
        ("<script>alert(1)</script>", "script-alert-1-script"),
        ("", "direct"),
        (None, "direct"),
        ("///", "direct"),
        ("x" * 500, "x" * 64),
        ("ｗｅｂｓｉｔｅ", "website"),
    ],
)
def test_the_source_is_sanitised(src: str | None, stored: str) -> None:
    assert signup.clean_origin(src) == stored


def test_the_wording_has_one_home_and_a_version(engine: Engine) -> None:
    with Session(engine) as s:
        sms = signup.consent_text(s, "sms")
        confirmation = signup.sms_confirmation_text(s)
    assert "Msg & data rates may apply" in sms and "STOP" in sms
    assert "up to 2 msgs every 7 days" in sms  # the frequency cap's SMS limit, in words
    for words in (
        "Msg & data rates may apply",
        "Reply YES to confirm, HELP for help, STOP to cancel",
    ):
        assert words in confirmation
    assert confirmation.startswith("Demo Bistro:")
    assert {w.version for w in signup.WORDING.values()} == {"email-v1", "sms-v1"}


# Asking and confirming -------------------------------------------------------------------------


def test_nothing_is_subscribed_until_the_link_is_confirmed_with_proof(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        ask(s, birthday_month="7", birthday_day="14")
        assert count(s, Customer) == 0 and count(s, ConsentEvent) == 0
        email = [m for m in outbox(s) if m["channel"] == "email"][0]
        assert email["to"] == EMAIL and "Confirm" in email["subject"]
        assert "List-Unsubscribe" not in email["headers"]  # transactional, not marketing
        stored = s.execute(select(SignupRequest)).scalar_one()
        assert EMAIL not in stored.value_enc and stored.value_bidx == blind_indexer().email(EMAIL)
        token = last_token(s)
        assert signup.check_link(s, token) == Outcome.CONFIRMED  # looking confirms nothing
        assert count(s, Customer) == 0

        assert signup.confirm_link(s, token, ip=IP, user_agent=UA) == Outcome.CONFIRMED
        customer = s.execute(select(Customer)).scalar_one()
        assert (customer.first_name, customer.email_consent, customer.sms_consent) == (
            "Noah",
            True,
            False,
        )
        assert (customer.birthday_month, customer.birthday_day) == (7, 14)
        event = s.execute(select(ConsentEvent)).scalar_one()
        assert (event.channel, event.granted, event.source) == ("email", True, "confirm_link")
        assert (event.origin, event.wording_version) == ("table-tent", "email-v1")
        assert event.proof_hash == consent_proof_hash(IP, UA)
        assert IP not in (event.proof_hash or "") and IP not in event.note and UA not in event.note

        assert signup.confirm_link(s, token, ip=IP, user_agent=UA) == Outcome.ALREADY
        assert signup.check_link(s, token) == Outcome.ALREADY
        assert count(s, ConsentEvent) == 1


def test_expired_tampered_and_purged_links(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        ask(s)
        token = last_token(s)
        later = utcnow() + timedelta(hours=49)
        assert signup.confirm_link(s, token, ip=IP, user_agent=UA, now=later) == Outcome.EXPIRED
        uid, exp, sig = token.split(".")
        forged = f"{uid}.{int(exp) + 86400}.{sig}"  # a longer life needs a new signature
        assert signup.confirm_link(s, forged, ip=IP, user_agent=UA) == Outcome.INVALID
        assert signup.confirm_link(s, "garbage", ip=IP, user_agent=UA) == Outcome.INVALID
        assert count(s, Customer) == 0
        assert signup.purge_expired(s, later) == 1
        s.commit()
        assert signup.confirm_link(s, token, ip=IP, user_agent=UA) == Outcome.EXPIRED
        assert count(s, Customer) == 0


def test_a_known_customer_is_matched_by_blind_index_and_keeps_their_data(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        known = create_customer(
            s, CustomerInput(first_name="Noa", last_name="K", email="Guest@Example.com")
        )
        s.commit()
        ask(s, first_name="Someone Else", birthday_month="1", birthday_day="2")
        assert signup.confirm_link(s, last_token(s), ip=IP, user_agent=UA) == Outcome.CONFIRMED
        s.expire_all()
        customer = s.execute(select(Customer)).scalar_one()
        assert customer.id == known.id and customer.email_consent is True
        assert (customer.first_name, customer.last_name) == ("Noa", "K")  # never overwritten
        assert (customer.birthday_month, customer.birthday_day) == (1, 2)  # a blank filled


def test_email_and_phone_of_one_signup_become_one_customer(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        ask(s, phone=PHONE, sms_opt_in=True)
        sms = [m for m in outbox(s) if m["channel"] == "sms"]
        assert len(sms) == 1 and sms[0]["to"] == PHONE
        assert "Reply YES to confirm, HELP for help, STOP to cancel" in sms[0]["text"]
        assert signup.confirm_link(s, last_token(s), ip=IP, user_agent=UA) == Outcome.CONFIRMED
        assert signup.confirm_sms_yes(s, PHONE, "SM1") == Outcome.CONFIRMED
        s.commit()
        customer = s.execute(select(Customer)).scalar_one()
        assert customer.email_consent and customer.sms_consent
        assert customer.phone_bidx == blind_indexer().phone(PHONE)
        sources = s.execute(
            select(
                ConsentEvent.channel, ConsentEvent.source, ConsentEvent.wording_version
            ).order_by(ConsentEvent.id)
        ).all()
        assert sources == [("email", "confirm_link", "email-v1"), ("sms", "sms_yes", "sms-v1")]
        assert signup.confirm_sms_yes(s, PHONE, "SM2") is None  # nothing waits any more


def test_text_to_join_then_yes_and_stop_withdraws_a_waiting_signup(engine: Engine) -> None:
    other = "+12025550188"
    with Session(engine, expire_on_commit=False) as s:
        s.add(Suppression(channel="sms", value_bidx=blind_indexer().phone(PHONE), reason="stop"))
        s.commit()
        assert signup.is_join_keyword(s, "  join ") and not signup.is_join_keyword(s, "joined")
        reply = signup.text_to_join(s, PHONE, "SMa")
        assert "Reply YES to confirm" in reply
        assert count(s, Customer) == 0
        assert signup.confirm_sms_yes(s, PHONE, "SMb") == Outcome.CONFIRMED
        s.commit()
        customer = s.execute(select(Customer)).scalar_one()
        assert customer.sms_consent and count(s, Suppression) == 0  # YES lifts the old STOP
        event = s.execute(select(ConsentEvent)).scalar_one()
        assert (event.source, event.origin, event.wording_version) == (
            "sms_yes",
            "text-to-join",
            "sms-v1",
        )
        assert "SMb" in event.note and event.proof_hash

        signup.text_to_join(s, other, "SMc")
        signup.cancel_sms_request(s, other)  # what a STOP does
        assert signup.confirm_sms_yes(s, other, "SMd") is None
        signup.text_to_join(s, other, "SMe")
        late = utcnow() + timedelta(days=3)
        assert signup.confirm_sms_yes(s, other, "SMf", now=late) == Outcome.EXPIRED
        assert "expired" in signup.sms_reply(s, Outcome.EXPIRED)


@pytest.mark.parametrize("known", [False, True])
def test_fifty_concurrent_signups_of_one_address_make_one_customer(
    engine: Engine, known: bool
) -> None:
    """Fifty people (or one impatient one) sign up with the same email and phone at once and
    each confirms both: one request per channel, one customer, one consent per channel. When the
    phone already belongs to a customer, the email joins that customer (matched by blind index)."""
    if known:
        with Session(engine) as s:
            create_customer(s, CustomerInput(first_name="Ann", phone=PHONE))
            s.commit()
    barrier = threading.Barrier(50)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            with Session(engine, expire_on_commit=False) as s:
                checked = signup.validate_signup(
                    form(email="GUEST@example.com ", phone=PHONE, sms_opt_in=True)
                )
                barrier.wait()
                asks = signup.submit(s, checked, ip=IP, user_agent=f"agent {i}")
                signup.confirm_link(s, asks[0].token, ip=IP, user_agent=f"agent {i}")
                signup.confirm_sms_yes(s, PHONE, f"SM{i}")
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with Session(engine) as s:
        assert count(s, SignupRequest) == 2  # one per (channel, address)
        customer = s.execute(select(Customer)).scalar_one()  # exactly one
        assert customer.email_bidx == blind_indexer().email(EMAIL)
        assert customer.phone_bidx == blind_indexer().phone(PHONE)
        assert customer.first_name == ("Ann" if known else "Noah")
        assert customer.email_consent and customer.sms_consent
        granted = s.execute(
            select(ConsentEvent.channel, func.count()).group_by(ConsentEvent.channel)
        ).all()
        assert sorted(granted) == [("email", 1), ("sms", 1)]


def at_once(first: Callable, second: Callable, engine: Engine) -> None:
    """Run two confirmations in two sessions released together; each must confirm and commit."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(confirm: Callable) -> None:
        try:
            with Session(engine) as s:
                barrier.wait()
                assert confirm(s) == Outcome.CONFIRMED
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:2]


def test_the_email_link_and_the_sms_yes_at_the_same_moment_make_one_customer(
    engine: Engine,
) -> None:
    """One signup with both addresses: the guest presses the email link while their YES arrives.
    Whichever grant comes second joins the customer the first one made, never a second customer."""
    rounds = 12
    for i in range(rounds):
        email, phone = f"pair{i}@example.com", f"+1202555{i:04d}"
        with Session(engine, expire_on_commit=False) as s:
            asks = signup.submit(
                s,
                signup.validate_signup(form(email=email, phone=phone, sms_opt_in=True)),
                ip=IP,
                user_agent=UA,
            )
            s.commit()
        token = next(a.token for a in asks if a.channel == "email")
        at_once(
            lambda s, token=token: signup.confirm_link(s, token, ip=IP, user_agent=UA),
            lambda s, phone=phone: signup.confirm_sms_yes(s, phone, "SM1"),
            engine,
        )
    with Session(engine) as s:
        assert count(s, Customer) == rounds
        both = s.execute(
            select(func.count())
            .select_from(Customer)
            .where(Customer.email_consent.is_(True), Customer.sms_consent.is_(True))
        ).scalar_one()
        assert both == rounds


def test_signups_by_source_counts_people_who_confirmed(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        for i, src in enumerate(["table-tent", "table-tent", "poster", ""]):
            ask(s, email=f"g{i}@example.com", origin=src, phone=f"+1202555017{i}", sms_opt_in=True)
            signup.confirm_link(s, last_token(s), ip=IP, user_agent=UA)
            signup.confirm_sms_yes(s, f"+1202555017{i}", f"SM{i}")  # both channels: one person
            s.commit()
        ask(s, email="never@example.com", origin="poster")  # asked, never confirmed
        signup.text_to_join(s, "+12025550199", "SMx")
        signup.confirm_sms_yes(s, "+12025550199", "SMy")
        s.commit()
        assert signup.signups_by_source(s) == [
            ("table-tent", 2),
            ("direct", 1),
            ("poster", 1),
            ("text-to-join", 1),
        ]


def test_a_confirmed_signup_gets_the_welcome_with_its_coupon(
    engine: Engine, redis_client: object
) -> None:
    from marketing_ui.core.automations import engine as automations
    from marketing_ui.core.rendering import load_template
    from tests.workers.sending_harness import make_campaign, run_worker_once, send_settings

    with send_settings(engine, None, None), Session(engine, expire_on_commit=False) as s:
        template = make_campaign(
            s,
            has_qr_code=True,
            offer_text="A free dessert",
            mjml_body=load_template("monday_special"),
        )
        welcome = Automation(
            kind=AutomationKind.WELCOME.value,
            enabled=True,
            enabled_at=utcnow() - timedelta(days=1),
            template_campaign_id=template,
            offer_valid_days=14,
        )
        s.add(welcome)
        s.commit()
        s.execute(update(Campaign).where(Campaign.id == template).values(automation_id=welcome.id))
        s.commit()

        ask(s)
        assert signup.confirm_link(s, last_token(s), ip=IP, user_agent=UA) == Outcome.CONFIRMED
        customer_id = s.execute(select(Customer.id)).scalar_one()
        report = automations.run(s, utcnow() + timedelta(minutes=1))
        assert report.batches, report
        run_worker_once()
        s.expire_all()
        delivery = s.execute(
            select(Delivery).where(Delivery.customer_id == customer_id)
        ).scalar_one()
        assert delivery.status == "sent"
        coupon = s.execute(select(Coupon).where(Coupon.customer_id == customer_id)).scalar_one()
        assert coupon.delivery_id == delivery.id
        sent = s.execute(
            select(OutboxMessage).where(OutboxMessage.delivery_id == delivery.id)
        ).scalar_one()
        assert "QR code for coupon" in sent.html  # the template's coupon block was rendered


def test_the_brakes_count_per_ip_and_address_and_let_signups_through_when_redis_is_down(
    redis_client: object,
) -> None:
    import redis

    from marketing_ui.core.signup_limits import SignupLimiter, SignupLimits

    limiter = SignupLimiter(redis_client, SignupLimits(per_ip=2, messages_per_address=1))  # type: ignore[arg-type]
    assert limiter.attempt("198.51.100.1").allowed and limiter.attempt("198.51.100.1").allowed
    refused = limiter.attempt("198.51.100.1")
    assert not refused.allowed and refused.retry_after_s > 0 and "Too many" in refused.message
    assert limiter.attempt("198.51.100.2").allowed  # another address is not slowed
    assert limiter.may_message("bidx-a") and not limiter.may_message("bidx-a")
    assert limiter.may_message("bidx-b")
    down_redis = redis.Redis.from_url("redis://127.0.0.1:1/0")  # as the app builds its client
    down = SignupLimiter(down_redis, SignupLimits(per_ip=0))
    assert down.attempt("198.51.100.1").allowed and down.may_message("bidx-a")
    for key in redis_client.scan_iter(match=redis_keys.key("signup", "*")):  # type: ignore[attr-defined]
        redis_client.delete(key)  # type: ignore[attr-defined]


def test_a_crowd_scanning_the_poster_gets_every_confirmation_within_the_provider_limit(
    engine: Engine, redis_client: object
) -> None:
    """30 signups at once, Resend enforcing 5 requests a second (429 beyond): the page never
    calls the provider; the worker sends each confirmation once, never over the limit."""
    from tests.fakes.resend_server import FakeResend
    from tests.workers.sending_harness import next_scheduled_at, set_limits

    with FakeResend() as resend, send_settings(engine, resend, None):
        resend.requests_per_s = 5
        with Session(engine, expire_on_commit=False) as s:
            set_limits(s, email_requests_per_s=5.0)
            s.commit()
            for i in range(30):
                ask(s, email=f"crowd{i}@example.com")
            assert resend.messages == []  # nothing sent while the crowd was signing up
        deadline = utcnow() + timedelta(seconds=60)
        while len(resend.messages) < 30 and utcnow() < deadline:
            run_default_jobs()
            due = next_scheduled_at()
            if due is not None:  # a job put back for its turn: wait for that moment, no longer
                time.sleep(max(0.0, due - time.time()) + 0.05)
        assert resend.count_by_recipient() == {f"crowd{i}@example.com": 1 for i in range(30)}
        assert resend.rate_limited == 0 and resend.max_requests_in_window() <= 5
