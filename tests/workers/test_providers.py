"""Providers driven through their real client code against loopback fakes of Resend and Twilio."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from twilio.request_validator import RequestValidator

from marketing_ui.core.models import Campaign, Customer, Delivery, OutboxMessage
from marketing_ui.core.sending.providers import (
    OutboxProvider,
    OutgoingEmail,
    OutgoingSms,
    ProviderUnavailable,
    ResendEmailProvider,
    TwilioSmsProvider,
    read_outbox,
)
from marketing_ui.core.sending.providers.base import redact
from marketing_ui.core.sending.rate_limiter import RateLimited
from tests.fakes import FakeServer, Reply, Request
from tests.fakes.resend_server import FakeResend
from tests.fakes.twilio_server import FakeTwilio

UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://cafe.example/u/tok123>, <mailto:unsub@cafe.example>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}
FROM_NUMBER = "+15017122661"


def email(key: str, to: str, subject: str = "Monday special") -> OutgoingEmail:
    return OutgoingEmail(
        key=key,
        to=to,
        from_="Cafe <news@cafe.example>",
        subject=subject,
        html="<p>Hi</p>",
        text="Hi",
        headers=dict(UNSUBSCRIBE),
        tags={"delivery_id": key.removeprefix("d-"), "campaign": "monday special"},
    )


def three_emails() -> list[OutgoingEmail]:
    return [email(f"d-{i}", f"guest{i}@example.com") for i in range(1, 4)]


def sms(key: str, to: str, body: str = "Monday special: 2 for 1 tacos") -> OutgoingSms:
    return OutgoingSms(key=key, to=to, from_=FROM_NUMBER, body=body)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def fake_resend() -> Iterator[FakeResend]:
    with FakeResend() as fake:
        yield fake


@pytest.fixture
def resend_provider(fake_resend: FakeResend) -> ResendEmailProvider:
    return ResendEmailProvider(fake_resend.api_key, fake_resend.url, timeout_s=2)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def twilio_provider(fake_twilio: FakeTwilio) -> Iterator[TwilioSmsProvider]:
    provider = TwilioSmsProvider(
        fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.url, FROM_NUMBER, timeout_s=2
    )
    yield provider
    provider.close()


def test_redact_removes_given_values_and_anything_address_like() -> None:
    text = "rejected Ana <ana@example.com>, +1 (415) 555-0123 and customer-42; code 21211"

    redacted = redact(text, "customer-42")

    assert redacted == "rejected Ana <[email]>, [phone] and [redacted]; code 21211"
    assert redact("connect to 127.0.0.1:8000 failed") == "connect to 127.0.0.1:8000 failed"


# Resend ----------------------------------------------------------------------------------


def test_batch_is_sent_once_with_its_key_and_unsubscribe_headers(
    fake_resend: FakeResend, resend_provider: ResendEmailProvider
) -> None:
    results = resend_provider.send_batch(three_emails(), "batch-1")

    assert [r.key for r in results] == ["d-1", "d-2", "d-3"]
    assert all(r.ok and r.provider_id for r in results)
    assert len({r.provider_id for r in results}) == 3
    assert fake_resend.requests == 1  # one batch call, not three
    for message in fake_resend.messages:
        assert message["idempotency_key"] == "batch-1"
        assert message["headers"] == UNSUBSCRIBE
        assert {"name": "campaign", "value": "monday_special"} in message["tags"]
    stored = httpx.get(
        f"{fake_resend.url}/emails/{results[0].provider_id}",
        headers={"Authorization": f"Bearer {fake_resend.api_key}"},
    ).json()
    assert stored["to"] == ["guest1@example.com"]


def test_retrying_the_same_batch_returns_the_same_ids_and_sends_nothing(
    fake_resend: FakeResend, resend_provider: ResendEmailProvider
) -> None:
    first = resend_provider.send_batch(three_emails(), "batch-1")
    again = resend_provider.send_batch(three_emails(), "batch-1")

    assert [r.provider_id for r in again] == [r.provider_id for r in first]
    assert fake_resend.count_by_recipient() == {f"guest{i}@example.com": 1 for i in (1, 2, 3)}


class _CountingGate:
    """A gate that counts the requests it lets through (what a limiter would be asked)."""

    def __init__(self, refuse: bool = False) -> None:
        self.requests = 0
        self.refuse = refuse

    @contextmanager
    def request(self, weight: float = 1, max_wait_s: float = 0.0) -> Iterator[None]:
        if self.refuse:
            raise RateLimited(3.0)
        self.requests += 1
        yield


def _batch_with_one_bad(bad: str) -> list[OutgoingEmail]:
    return [
        email("d-1", "guest1@example.com"),
        email("d-2", bad),
        email("d-3", "guest3@example.com"),
    ]


def test_one_invalid_address_fails_alone_in_the_same_request(fake_resend: FakeResend) -> None:
    """Permissive validation: one request, the bad recipient named by index and reason."""
    bad = "bad-invalid@example.com"
    gate = _CountingGate()
    provider = ResendEmailProvider(fake_resend.api_key, fake_resend.url, gate=gate)

    results = provider.send_batch(_batch_with_one_bad(bad), "batch-1")

    assert [r.ok for r in results] == [True, False, True]
    assert results[1].suppress and not results[1].transient
    assert "rejected this recipient" in results[1].error and "`to`" in results[1].error
    assert bad not in results[1].error and "bad-invalid" not in results[1].error
    assert gate.requests == fake_resend.requests == 1
    assert [m["idempotency_key"] for m in fake_resend.messages] == ["batch-1", "batch-1"]
    # A retry of the whole call (worker died before recording) replays the stored answer.
    again = provider.send_batch(_batch_with_one_bad(bad), "batch-1")
    assert [r.provider_id for r in again] == [r.provider_id for r in results]
    assert fake_resend.count_by_recipient() == {"guest1@example.com": 1, "guest3@example.com": 1}


def test_a_strict_server_gets_the_named_recipient_taken_out(fake_resend: FakeResend) -> None:
    """A server that rejects the whole batch anyway: the one it names fails, the rest go in
    one more request (not one request per recipient)."""
    fake_resend.permissive_supported = False
    bad = "bad-invalid@example.com"
    gate = _CountingGate()
    provider = ResendEmailProvider(fake_resend.api_key, fake_resend.url, gate=gate)
    batch = [email(f"d-{i}", f"guest{i}@example.com") for i in range(40)]
    batch[17] = email("d-17", bad)

    results = provider.send_batch(batch, "batch-1")

    assert [i for i, r in enumerate(results) if not r.ok] == [17]
    assert results[17].suppress and "rejected this recipient" in results[17].error
    assert bad not in results[17].error
    assert gate.requests == fake_resend.requests == 2
    assert sum(fake_resend.count_by_recipient().values()) == 39


def test_a_strict_server_that_names_no_one_is_halved_until_it_does(
    fake_resend: FakeResend,
) -> None:
    """Without the address in the answer the batch is split in halves: a few requests, each
    gated, and every good recipient sent exactly once."""
    fake_resend.permissive_supported = False
    gate = _CountingGate()
    provider = ResendEmailProvider(fake_resend.api_key, fake_resend.url, gate=gate)
    batch = [email(f"d-{i}", f"guest{i}@example.com") for i in range(32)]
    batch[5] = email("d-5", "Invalid Name <x>")  # the fake's message does not quote it
    original = fake_resend._validate

    def anonymous(items):  # noqa: ANN001, ANN202 - the fake's own signature
        problem = original(items)
        return None if problem is None else fake_resend.error_reply(422)

    fake_resend._validate = anonymous  # type: ignore[method-assign]
    results = provider.send_batch(batch, "batch-1")

    assert [i for i, r in enumerate(results) if not r.ok] == [5]
    assert gate.requests == fake_resend.requests <= 12  # log2(32) levels, two halves each
    assert sorted(fake_resend.count_by_recipient().values()) == [1] * 31


def test_no_permit_for_the_first_request_sends_nothing(fake_resend: FakeResend) -> None:
    provider = ResendEmailProvider(
        fake_resend.api_key, fake_resend.url, gate=_CountingGate(refuse=True)
    )
    with pytest.raises(RateLimited) as refused:
        provider.send_batch(three_emails(), "batch-1")
    assert refused.value.wait_s == 3.0 and fake_resend.requests == 0


def test_rate_limit_is_transient_with_retry_after(
    fake_resend: FakeResend, resend_provider: ResendEmailProvider
) -> None:
    fake_resend.fail_next(1, 429, retry_after=7)

    results = resend_provider.send_batch(three_emails(), "batch-1")

    assert all(not r.ok and r.transient and not r.suppress for r in results)
    assert all(r.retry_after_s == 7 for r in results)
    assert fake_resend.messages == []
    assert all(r.ok for r in resend_provider.send_batch(three_emails(), "batch-1"))


def test_server_error_is_transient(
    fake_resend: FakeResend, resend_provider: ResendEmailProvider
) -> None:
    fake_resend.fail_next(1, 503)

    results = resend_provider.send_batch(three_emails(), "batch-1")

    assert all(r.transient and r.retry_after_s is None and "503" in r.error for r in results)
    assert fake_resend.messages == []


def test_timeout_is_transient_and_the_retry_sends_exactly_once(
    fake_resend: FakeResend,
) -> None:
    provider = ResendEmailProvider(fake_resend.api_key, fake_resend.url, timeout_s=0.3)
    fake_resend.delay_s = 0.8  # the server still accepts the batch after the client gave up

    results = provider.send_batch(three_emails(), "batch-1")
    assert all(r.transient and r.unanswered and not r.ok for r in results)
    assert "timeout" in results[0].error and "outcome unknown" in results[0].error
    assert "500" not in results[0].error  # a timeout is not a server error

    fake_resend.delay_s = 0
    retried = provider.send_batch(three_emails(), "batch-1")
    assert all(r.ok for r in retried)
    fake_resend.stop()  # wakes the stalled request; it must replay, not send again
    assert fake_resend.count_by_recipient() == {f"guest{i}@example.com": 1 for i in (1, 2, 3)}


def test_accepted_then_500_then_retry_records_each_message_once(
    fake_resend: FakeResend, resend_provider: ResendEmailProvider
) -> None:
    fake_resend.accepted_then_500 = True
    assert all(r.transient for r in resend_provider.send_batch(three_emails(), "batch-1"))
    assert len(fake_resend.messages) == 3  # sent, but the client never heard

    fake_resend.accepted_then_500 = False
    retried = resend_provider.send_batch(three_emails(), "batch-1")

    assert [r.provider_id for r in retried] == [m["id"] for m in fake_resend.messages]
    assert fake_resend.count_by_recipient() == {f"guest{i}@example.com": 1 for i in (1, 2, 3)}


def test_connection_refused_is_transient() -> None:
    provider = ResendEmailProvider("re_key", closed_port_url(), timeout_s=1)

    results = provider.send_batch(three_emails(), "batch-1")

    assert all(r.transient and r.unanswered and not r.ok for r in results)
    assert "unreachable" in results[0].error and "500" not in results[0].error


def test_bad_api_key_and_reused_key_are_permanent(
    fake_resend: FakeResend, resend_provider: ResendEmailProvider
) -> None:
    wrong = ResendEmailProvider("re_wrong", fake_resend.url, timeout_s=2)
    denied = wrong.send_batch(three_emails(), "batch-1")
    assert all(not r.ok and not r.transient and not r.suppress for r in denied)
    assert "403" in denied[0].error

    resend_provider.send_batch(three_emails(), "batch-2")
    changed = [email("d-1", "guest1@example.com", subject="Tuesday special")]
    conflict = resend_provider.send_batch(changed, "batch-2")
    assert not conflict[0].ok and not conflict[0].transient and "409" in conflict[0].error
    assert len(fake_resend.messages) == 3


# Twilio ---------------------------------------------------------------------------------


class CallbackReceiver(FakeServer):
    """Stands in for our webhook endpoint so a status callback can be checked end to end."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Request] = []

    def handle(self, request: Request) -> Reply:
        self.received.append(request)
        return Reply(204, b"")


def test_twilio_send_and_signed_status_callback(
    fake_twilio: FakeTwilio, twilio_provider: TwilioSmsProvider
) -> None:
    with CallbackReceiver() as receiver:
        callback = f"{receiver.url}/api/webhooks/twilio"
        message = OutgoingSms("d-7", "+14155550123", FROM_NUMBER, "Hi", status_callback=callback)

        result = twilio_provider.send(message)

        assert result.ok and result.provider_id and result.provider_id.startswith("SM")
        assert len(result.provider_id) == 34
        assert fake_twilio.messages[0]["to"] == "+14155550123"
        assert fake_twilio.send_status_callback(result.provider_id).status_code == 204
        (received,) = receiver.received
    form = dict(httpx.QueryParams(received.body.decode()))
    assert form["MessageStatus"] == "delivered" and form["MessageSid"] == result.provider_id
    validator = RequestValidator(fake_twilio.auth_token)
    assert validator.validate(callback, form, received.header("X-Twilio-Signature"))


@pytest.mark.parametrize(("number", "code"), [("+15550000000", "21211"), ("+14155550199", "21610")])
def test_twilio_bad_or_unsubscribed_number_is_suppressed(
    fake_twilio: FakeTwilio, twilio_provider: TwilioSmsProvider, number: str, code: str
) -> None:
    fake_twilio.unsubscribed.add("+14155550199")

    result = twilio_provider.send(sms("d-1", number))

    assert not result.ok and result.suppress and not result.transient
    assert code in result.error and number not in result.error
    assert fake_twilio.messages == []


def test_twilio_auth_failure_is_permanent(fake_twilio: FakeTwilio) -> None:
    provider = TwilioSmsProvider(fake_twilio.account_sid, "wrong", fake_twilio.url, FROM_NUMBER)

    result = provider.send(sms("d-1", "+14155550123"))

    assert not result.ok and not result.transient and not result.suppress
    assert "401" in result.error
    provider.close()


def test_twilio_rate_limit_server_error_and_timeout_are_transient(
    fake_twilio: FakeTwilio, twilio_provider: TwilioSmsProvider
) -> None:
    fake_twilio.fail_next(1, 429, retry_after=3)
    fake_twilio.fail_next(1, 500)
    limited = twilio_provider.send(sms("d-1", "+14155550123"))
    broken = twilio_provider.send(sms("d-1", "+14155550123"))
    assert limited.transient and limited.retry_after_s == 3
    assert broken.transient and broken.retry_after_s is None and "500" in broken.error
    assert limited.rate_limited and not limited.unanswered and not broken.unanswered

    impatient = TwilioSmsProvider(
        fake_twilio.account_sid, fake_twilio.auth_token, fake_twilio.url, FROM_NUMBER, timeout_s=0.3
    )
    fake_twilio.delay_s = 0.8
    timed_out = impatient.send(sms("d-1", "+14155550123"))
    impatient.close()
    assert timed_out.transient and timed_out.unanswered and not timed_out.ok
    assert "timeout" in timed_out.error and "outcome unknown" in timed_out.error


@pytest.mark.parametrize("hold_queued", [False, True], ids=["sent", "still-queued"])
def test_twilio_find_sent_recovers_a_message_accepted_before_a_crash(
    fake_twilio: FakeTwilio, twilio_provider: TwilioSmsProvider, hold_queued: bool
) -> None:
    to, body = "+14155550123", "Monday special: 2 for 1 tacos"
    fake_twilio.clock = lambda: datetime.now(UTC) - timedelta(days=2)
    twilio_provider.send(sms("old", to, body))  # same text from an earlier campaign
    fake_twilio.clock = lambda: datetime.now(UTC)
    since = datetime.now(UTC)
    fake_twilio.hold_queued = hold_queued
    fake_twilio.accepted_then_500 = True

    crashed = twilio_provider.send(sms("d-1", to, body))

    assert crashed.transient
    latest = fake_twilio.messages[-1]["sid"]
    assert twilio_provider.find_sent(to, body, since) == latest
    assert twilio_provider.find_sent(to, body + "!", since) is None
    assert twilio_provider.find_sent("+14155550124", body, since) is None
    assert twilio_provider.find_sent(to, body, since + timedelta(minutes=1)) is None


def test_twilio_find_sent_refuses_to_guess_when_twilio_fails(
    fake_twilio: FakeTwilio, twilio_provider: TwilioSmsProvider
) -> None:
    fake_twilio.fail_next(1, 503)

    with pytest.raises(ProviderUnavailable):
        twilio_provider.find_sent("+14155550123", "Hi", datetime.now(UTC))


# Outbox ---------------------------------------------------------------------------------


def test_outbox_batch_is_idempotent_and_readable(engine: Engine) -> None:
    with Session(engine) as session:
        campaign, customer = Campaign(name="Monday"), Customer(first_name="Ana")
        session.add_all([campaign, customer])
        session.flush()
        delivery = Delivery(campaign_id=campaign.id, customer_id=customer.id, channel="email")
        session.add(delivery)
        session.commit()
        delivery_id = delivery.id
    outbox = OutboxProvider(engine)
    batch = [email(f"d-{delivery_id}", "ana@example.com"), email("d-x", "bo@example.com")]

    first = outbox.send_batch(batch, "batch-1")
    again = outbox.send_batch(batch, "batch-1")

    assert all(r.ok and r.provider_id.startswith("outbox-") for r in first)
    assert [r.provider_id for r in again] == [r.provider_id for r in first]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 2
        ciphertexts = session.exec(select(OutboxMessage.to_enc)).all()
        assert not any("example.com" in c for c in ciphertexts)
        shown = read_outbox(session, limit=10, offset=0)
        assert read_outbox(session, limit=10, offset=1) == shown[1:]
    assert {m["to"] for m in shown} == {"ana@example.com", "bo@example.com"}
    ana = next(m for m in shown if m["to"] == "ana@example.com")
    assert ana["delivery_id"] == delivery_id
    assert ana["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ana["provider_id"] == first[0].provider_id


def test_outbox_sms_is_idempotent_and_found_after_a_crash(engine: Engine) -> None:
    outbox = OutboxProvider(engine)
    since = datetime.now(UTC) - timedelta(seconds=1)

    sent = outbox.send(sms("d-1", "+14155550123"))
    replay = outbox.send(sms("d-1", "+14155550123"))

    assert sent.ok and replay.provider_id == sent.provider_id
    body = "Monday special: 2 for 1 tacos"
    assert outbox.find_sent("+14155550123", body, since) == sent.provider_id
    assert outbox.find_sent("+14155550124", body, since) is None
    assert outbox.find_sent("+14155550123", body + "!", since) is None
    assert outbox.find_sent("+14155550123", body, datetime.now(UTC) + timedelta(minutes=1)) is None
