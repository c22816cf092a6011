"""/join, its confirm link and text-to-join, as a phone and a website see them."""
# ruff: noqa: F811  (fixtures imported from tests.api are used as arguments)

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

import marketing_ui.api.signup as signup_api
from marketing_ui.core import redis_keys
from marketing_ui.core.app_settings import update_signup_settings
from marketing_ui.core.clock import utcnow
from marketing_ui.core.customers import CustomerInput, consent_proof_hash, create_customer
from marketing_ui.core.models import ConsentEvent, Customer, OutboxMessage, SignupRequest
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sending.providers import read_outbox
from marketing_ui.core.signup import confirm_token
from marketing_ui.core.signup_limits import SignupLimits
from tests.api import PUBLIC_API, TWILIO_TOKEN, api_db, client  # noqa: F401
from tests.workers.sending_harness import run_default_jobs

SQLITE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
LINK = re.compile(r"/join/confirm/([A-Za-z0-9._-]+)")
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
PHONE = "+12025550143"


@pytest.fixture(autouse=True)
def _fresh_brakes(api_db: Engine) -> Iterator[None]:
    """Every test starts with the signup brakes at zero (the TestClient is always one IP)."""

    def clear() -> None:
        r = get_redis()
        for key in r.scan_iter(match=redis_keys.key("signup", "*"), count=1000):
            r.delete(key)

    clear()
    yield
    clear()


def post_join(client: TestClient, **fields: str):  # noqa: ANN201
    data = {
        "first_name": "Noah",
        "email": "guest@example.com",
        "email_opt_in": "1",
        "src": "table-tent",
    }
    data |= fields
    return client.post("/join", data=data, headers={"User-Agent": UA})


def count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def newest_token(engine: Engine) -> str:
    with Session(engine) as s:
        run_default_jobs()  # the worker sends the queued confirmation
        emails = [m for m in read_outbox(s) if m["channel"] == "email"]
    found = LINK.search(emails[0]["html"])
    assert found
    return found.group(1)


def test_the_journey_from_table_tent_to_confirmed(client: TestClient, api_db: Engine) -> None:
    page = client.get("/join?src=Table-Tent")
    assert page.status_code == 200
    html = page.text
    assert "Join Demo Bistro" in html and 'src="/media/logo.png"' in html
    assert 'name="src" value="table-tent"' in html
    assert "Msg &amp; data rates may apply" in html and 'name="website"' in html  # honeypot
    assert page.headers["referrer-policy"] == "same-origin"  # so the POST keeps its Origin

    answer = post_join(client, birthday_month="7", birthday_day="14")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert count(api_db, Customer) == 0  # nothing until confirmed

    token = newest_token(api_db)
    shown = client.get(f"/join/confirm/{token}")  # what a link scanner does: confirms nothing
    assert shown.status_code == 200 and 'id="confirm"' in shown.text
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert count(api_db, Customer) == 0

    done = client.post(f"/join/confirm/{token}", data={"confirm": "1"}, headers={"User-Agent": UA})
    assert done.status_code == 200 and "You are subscribed" in done.text
    with Session(api_db) as s:
        customer = s.execute(select(Customer)).scalar_one()
        assert customer.email_consent and customer.first_name == "Noah"
        event = s.execute(select(ConsentEvent)).scalar_one()
        assert (event.source, event.origin, event.wording_version) == (
            "confirm_link",
            "table-tent",
            "email-v1",
        )
        assert event.proof_hash == consent_proof_hash("testclient", UA)

    again = client.post(f"/join/confirm/{token}", data={"confirm": "1"})
    assert again.status_code == 200 and "already confirmed" in again.text
    assert "already confirmed" in client.get(f"/join/confirm/{token}").text
    assert count(api_db, ConsentEvent) == 1


@SQLITE
def test_expired_and_forged_links_get_a_clear_page(client: TestClient, api_db: Engine) -> None:
    post_join(client)
    uid = newest_token(api_db).split(".")[0]
    old = confirm_token(uid, utcnow() - timedelta(minutes=1))
    for response in (
        client.get(f"/join/confirm/{old}"),
        client.post(f"/join/confirm/{old}", data={"confirm": "1"}),
    ):
        assert response.status_code == 410
        assert "expired" in response.text and 'href="/join"' in response.text
    forged = client.post(f"/join/confirm/{uid}.9999999999.AAAA", data={"confirm": "1"})
    assert forged.status_code == 400 and "not valid" in forged.text
    assert count(api_db, Customer) == 0


@SQLITE
def test_the_answer_does_not_tell_whether_an_address_is_known(
    client: TestClient, api_db: Engine
) -> None:
    with Session(api_db) as s:
        create_customer(
            s, CustomerInput(first_name="Known", email="known@example.com", email_consent=True)
        )
        s.commit()
    timings: dict[str, list[float]] = {"known@example.com": [], "new@example.com": []}
    bodies: dict[str, set[str]] = {k: set() for k in timings}
    statuses: dict[str, set[int]] = {k: set() for k in timings}
    for _ in range(3):  # warm up both paths
        for address in timings:
            post_join(client, email=address)
    for i in range(12):  # interleaved, so drift hits both alike
        for address in timings:
            began = time.perf_counter()
            response = post_join(client, email=address, first_name=f"N{i}")
            timings[address].append(time.perf_counter() - began)
            bodies[address].add(response.text)
            statuses[address].add(response.status_code)
    assert statuses["known@example.com"] == statuses["new@example.com"] == {200}
    assert bodies["known@example.com"] == bodies["new@example.com"]  # byte for byte
    known, new = (statistics.median(t) for t in timings.values())
    assert max(known, new) / min(known, new) < 2.0, (known, new)
    assert count(api_db, Customer) == 1  # still no duplicate


@SQLITE
def test_a_filled_honeypot_looks_accepted_and_stores_nothing(
    client: TestClient, api_db: Engine
) -> None:
    honest = post_join(client, email="a@example.com")
    bot = post_join(client, email="b@example.com", website="http://spam.example")
    assert bot.status_code == honest.status_code == 200
    assert bot.text == honest.text
    run_default_jobs()
    assert count(api_db, SignupRequest) == 1 and count(api_db, OutboxMessage) == 1


@SQLITE
def test_a_wrong_field_is_named_and_nothing_typed_is_lost(
    client: TestClient, api_db: Engine
) -> None:
    response = post_join(client, email="not-an-address", first_name="Zoë")
    assert response.status_code == 400
    assert 'id="error"' in response.text and "Email:" in response.text
    assert 'value="Zoë"' in response.text and 'value="not-an-address"' in response.text
    none = post_join(client, email_opt_in="")
    assert none.status_code == 400 and "Channels:" in none.text
    assert count(api_db, SignupRequest) == 0


@SQLITE
def test_the_per_ip_brake_answers_429_and_ignores_forged_forwarding(
    client: TestClient, api_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signup_api, "LIMITS", SignupLimits(per_ip=3))
    for i in range(3):
        assert post_join(client, email=f"g{i}@example.com").status_code == 200
    refused = client.post(
        "/join",
        data={"first_name": "N", "email": "g9@example.com", "email_opt_in": "1"},
        headers={"X-Forwarded-For": "198.51.100.7"},  # not believed: no trusted proxy
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Too many signups" in refused.text
    assert count(api_db, SignupRequest) == 3


@SQLITE
def test_one_address_gets_a_few_confirmations_a_day_and_the_same_page(
    client: TestClient, api_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signup_api, "LIMITS", SignupLimits(messages_per_address=2))
    pages = {post_join(client).text for _ in range(4)}
    assert len(pages) == 1
    run_default_jobs()
    assert count(api_db, OutboxMessage) == 2  # a stranger cannot flood this inbox


@SQLITE
def test_cross_origin_posts_only_from_listed_websites(client: TestClient, api_db: Engine) -> None:
    with Session(api_db) as s:
        update_signup_settings(s, {"embed_origins": "https://bistro.example"})
    listed, other = "https://bistro.example", "https://evil.example"
    ok = client.options(
        "/join", headers={"Origin": listed, "Access-Control-Request-Method": "POST"}
    )
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == listed
    bad = client.options(
        "/join", headers={"Origin": other, "Access-Control-Request-Method": "POST"}
    )
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers

    refused = client.post("/join", data={"first_name": "N", "email": "x@example.com",
                                         "email_opt_in": "1"}, headers={"Origin": other})  # fmt: skip
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    null = client.post("/join", data={"email": "x@example.com"}, headers={"Origin": "null"})
    assert null.status_code == 403
    assert count(api_db, SignupRequest) == 0

    embedded = client.post("/join", data={"first_name": "N", "email": "x@example.com",
                                          "email_opt_in": "1", "src": "website"},
                           headers={"Origin": listed})  # fmt: skip
    assert embedded.status_code == 200 and embedded.headers["access-control-allow-origin"] == listed
    same = client.post("/join", data={"first_name": "N", "email": "y@example.com",
                                      "email_opt_in": "1"}, headers={"Origin": PUBLIC_API})  # fmt: skip
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    assert count(api_db, SignupRequest) == 2


def _twilio(client: TestClient, body: str, sid: str, sender: str = PHONE):  # noqa: ANN202
    form = {"From": sender, "Body": body, "MessageSid": sid}
    path = "/webhooks/twilio/inbound"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_API + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def test_text_to_join_through_the_signed_twilio_webhook(client: TestClient, api_db: Engine) -> None:
    joined = _twilio(client, "  join ", "SM1")
    assert joined.status_code == 200
    assert "Reply YES to confirm, HELP for help, STOP to cancel" in joined.text
    assert "Msg &amp; data rates may apply" in joined.text  # XML-escaped in TwiML
    assert count(api_db, Customer) == 0
    confirmed = _twilio(client, "YES", "SM2")
    assert "you are subscribed" in confirmed.text
    with Session(api_db) as s:
        customer = s.execute(select(Customer)).scalar_one()
        assert customer.sms_consent
        event = s.execute(select(ConsentEvent)).scalar_one()
        assert (event.source, event.origin) == ("sms_yes", "text-to-join")
    assert "Reply STOP to opt out" in _twilio(client, "HELP", "SM3").text  # unchanged
    stopped = _twilio(client, "STOP", "SM4")
    assert "unsubscribed" in stopped.text
    with Session(api_db) as s:
        assert s.execute(select(Customer.sms_consent)).scalar_one() is False
    # The owner's keyword, and a waiting signup withdrawn by STOP.
    with Session(api_db) as s:
        update_signup_settings(s, {"keyword": "pasta"})
    assert "Reply YES" not in _twilio(client, "JOIN", "SM5", "+12025550188").text
    assert "Reply YES" in _twilio(client, "Pasta", "SM6", "+12025550188").text
    _twilio(client, "STOP", "SM7", "+12025550188")
    assert "subscribed again" in _twilio(client, "YES", "SM8", "+12025550188").text  # plain START
    with Session(api_db) as s:
        assert s.execute(select(func.count()).select_from(Customer)).scalar_one() == 1


@SQLITE
def test_the_settings_snippet_posts_from_a_listed_website(
    client: TestClient, api_db: Engine
) -> None:
    from marketing_ui.core.signup import embed_snippet

    with Session(api_db) as s:
        update_signup_settings(s, {"embed_origins": "https://bistro.example"})
        snippet = embed_snippet(s)
    action = re.search(r'action="([^"]+)"', snippet).group(1)  # type: ignore[union-attr]
    assert action == f"{PUBLIC_API}/join"
    names = set(re.findall(r'name="([a-z_]+)"', snippet))
    assert names == {"src", "first_name", "email", "phone", "birthday_month", "birthday_day",
                     "email_opt_in", "sms_opt_in", "website"}  # fmt: skip
    typed = {"src": "website", "first_name": "Mia", "email": "mia@example.com",
             "email_opt_in": "1", "phone": "", "birthday_month": "", "birthday_day": "",
             "website": ""}  # fmt: skip
    response = client.post("/join", data=typed, headers={"Origin": "https://bistro.example"})
    assert response.status_code == 200 and "Check your inbox" in response.text
    with Session(api_db) as s:
        assert s.execute(select(SignupRequest.origin)).scalar_one() == "website"
