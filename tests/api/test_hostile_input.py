"""Malformed, oversized and hostile requests to every public endpoint: 4xx, no crash, no change."""
# ruff: noqa: F811  (fixtures imported from tests.api are used as arguments)

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient
from svix.webhooks import Webhook
from twilio.request_validator import RequestValidator

from marketing_ui.api.app import build_api
from marketing_ui.api.tracking import PIXEL_GIF
from marketing_ui.core.models import ConsentEvent, Customer, Delivery, Event, Suppression
from marketing_ui.core.tracking import unsubscribe_token
from tests.api import (  # noqa: F401
    PUBLIC_API,
    RESEND_SECRET,
    TWILIO_TOKEN,
    api_db,
    client,
    login_token,
    seed_email_delivery,
)

SQLISH = "1' OR '1'='1; DROP TABLE event; --"
BIG = b"x" * (256 * 1024 + 1)
FORM = "application/x-www-form-urlencoded"


def _snapshot(engine: Engine) -> tuple:
    with Session(engine) as s:
        return (
            s.execute(select(func.count()).select_from(Event)).scalar_one(),
            s.execute(select(func.count()).select_from(ConsentEvent)).scalar_one(),
            s.execute(select(func.count()).select_from(Suppression)).scalar_one(),
            tuple(s.execute(select(Delivery.status).order_by(Delivery.id)).scalars()),
            tuple(
                s.execute(
                    select(
                        Customer.email_consent,
                        Customer.sms_consent,
                        Customer.birthday_month,
                        Customer.birthday_day,
                        Customer.birthday_year,
                        Customer.erased_at,
                    )
                ).all()
            ),
        )


@pytest.fixture
def seeded(api_db: Engine):  # noqa: ANN201
    with Session(api_db, expire_on_commit=False) as s:
        return seed_email_delivery(s, phone="+12025550143", provider_message_id="re_1")


def _chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


POST_ENDPOINTS = ["/webhooks/resend", "/webhooks/twilio/status", "/webhooks/twilio/inbound"]


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_oversized_bodies_get_413(client: TestClient, api_db: Engine, seeded, path: str) -> None:  # noqa: ANN001
    before = _snapshot(api_db)
    declared = client.post(path, content=BIG, headers={"Content-Type": FORM})
    assert declared.status_code == 413
    streamed = client.post(path, content=_chunks(BIG), headers={"Content-Type": FORM})  # chunked
    assert streamed.status_code == 413
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    for suffix in ("", "/prefs", "/data", "/erase"):
        response = client.post(f"/u/{token}{suffix}", content=BIG, headers={"Content-Type": FORM})
        assert response.status_code == 413, suffix
    assert _snapshot(api_db) == before


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\xfa", FORM),
        (b"From=%FF%FE&Body=STOP", FORM),
        (b"From=%2B12025550143&Body=STOP&Body=START", FORM),
        (SQLISH.encode(), FORM),
        (b"{}", "application/json"),
        (b"[1,2,3]", "application/json"),
        (b"From=%2B12025550143&Body=STOP", "text/plain"),
        (b"", ""),
        (b"<xml/>", "application/xml"),
        (b"\x00" * 100, "application/octet-stream"),
    ],
)
def test_garbage_bodies_are_refused_without_change(
    client: TestClient,
    api_db: Engine,
    seeded,
    path: str,
    body: bytes,
    content_type: str,  # noqa: ANN001
) -> None:
    before = _snapshot(api_db)
    headers = {"Content-Type": content_type} if content_type else {}
    headers["X-Twilio-Signature"] = "bm90IGEgc2ln"
    headers.update({"svix-id": "msg_1", "svix-timestamp": "1", "svix-signature": "v1,AAAA"})
    response = client.post(path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (path, body, response.status_code)
    assert _snapshot(api_db) == before


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_signed_but_malformed_payloads_are_4xx(client: TestClient, api_db: Engine, seeded) -> None:  # noqa: ANN001
    before = _snapshot(api_db)
    now = datetime.now(UTC)
    for payload in [
        "[]",
        '"x"',
        '{"type": "email.delivered"}',
        '{"type": 1, "data": []}',
        "not json",
    ]:
        sig = Webhook(RESEND_SECRET).sign("msg_m", now, payload)
        response = client.post(
            "/webhooks/resend",
            content=payload.encode(),
            headers={
                "Content-Type": "application/json",
                "svix-id": "msg_m",
                "svix-timestamp": str(int(now.timestamp())),
                "svix-signature": sig,
            },
        )
        assert response.status_code == 400, payload
    # A signed event with hostile field values matches nothing and stores nothing.
    payload = json.dumps(
        {"type": "email.bounced", "data": {"email_id": SQLISH * 10, "bounce": {"type": ["x"]}}}
    )
    sig = Webhook(RESEND_SECRET).sign("msg_h", now, payload)
    response = client.post(
        "/webhooks/resend",
        content=payload.encode(),
        headers={
            "Content-Type": "application/json",
            "svix-id": "msg_h",
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": sig,
        },
    )
    assert response.status_code == 200
    assert response.json()["result"] == "unmatched"
    # Twilio status without the fields it needs, correctly signed.
    form = {"MessageSid": SQLISH}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_API + "/webhooks/twilio/status", form
    )
    response = client.post(
        "/webhooks/twilio/status",
        data=form,
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 400
    assert _snapshot(api_db) == before


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_hostile_paths_on_get_endpoints(client: TestClient, api_db: Engine, seeded) -> None:  # noqa: ANN001
    before = _snapshot(api_db)
    pixel_paths = [
        "/t/o/99999999999999999999999999999999/abc.gif",
        f"/t/o/{SQLISH}/abc.gif",
        "/t/o/１２/abc.gif",  # full-width digits
        "/t/o/0/abc.gif",
        f"/t/o/1/{'A' * 5000}.gif",
        "/t/o/1/%FF%FE.gif",
    ]
    for path in pixel_paths:
        response = client.get(path)
        assert response.status_code == 200 and response.content == PIXEL_GIF, path
    bad_gets = [
        "/t/c/99999999999999999999999999/abc?u=https%3A%2F%2Fevil.example",
        f"/t/c/1/abc?u={SQLISH}",
        "/t/c/1/abc?u=%FF%FE",
        f"/t/c/1/{'A' * 5000}?u=https%3A%2F%2Fx.example",
        f"/u/{SQLISH}",
        "/u/%FF%FE",
        "/u/" + "a." * 3000,
        "/v/1/abc",
        f"/v/{SQLISH}/abc",
        "/v/99999999999999999999999/abc",
        "/v/1/%C3%A9%C3%A9",  # non-ASCII signature
        "/t/c/1/%C3%A9?u=https%3A%2F%2Fx.example",
        f"/u/{seeded.customer_uid}.1.%C3%A9",
        f"/u/{SQLISH}/erase",
        "/u/%FF%FE/erase",
        f"/u/{seeded.customer_uid}.1.%C3%A9/erase",
    ]
    for path in bad_gets:
        response = client.get(path)
        assert 400 <= response.status_code < 500, path
        assert "location" not in response.headers
    assert _snapshot(api_db) == before


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_missing_headers_and_wrong_methods(client: TestClient, api_db: Engine, seeded) -> None:  # noqa: ANN001
    before = _snapshot(api_db)
    for path in POST_ENDPOINTS:
        assert client.post(path, data={"From": "+12025550143", "Body": "STOP"}).status_code in (
            401,
            415,
        )
        assert client.get(path).status_code == 405
    assert client.post("/t/o/1/abc.gif").status_code == 405
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    for suffix in ("/prefs", "/data"):
        assert client.get(f"/u/{token}{suffix}").status_code == 405
    assert client.put(f"/u/{token}/erase", data={"erase": "confirm"}).status_code == 405
    bad_length = client.post(
        "/webhooks/resend", content=b"{}", headers={"Content-Length": "abc", "Content-Type": FORM}
    )
    assert 400 <= bad_length.status_code < 500
    assert _snapshot(api_db) == before


def test_no_contact_data_in_logs(
    client: TestClient,
    api_db: Engine,
    seeded,
    caplog: pytest.LogCaptureFixture,  # noqa: ANN001
) -> None:
    caplog.set_level(logging.DEBUG)
    now = datetime.now(UTC)
    payload = json.dumps(
        {
            "type": "email.bounced",
            "data": {
                "email_id": "re_1",
                "to": ["ann@example.com"],
                "bounce": {"type": "Permanent", "message": "ann@example.com unknown"},
            },
        }
    )
    sig = Webhook(RESEND_SECRET).sign("msg_log", now, payload)
    client.post(
        "/webhooks/resend",
        content=payload.encode(),
        headers={
            "Content-Type": "application/json",
            "svix-id": "msg_log",
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": sig,
        },
    )
    form = {"From": "+12025550143", "Body": "STOP", "MessageSid": "SMlog"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_API + "/webhooks/twilio/inbound", form
    )
    reply = client.post(
        "/webhooks/twilio/inbound", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert reply.status_code == 200
    with Session(api_db) as s:
        customer = s.get(Customer, seeded.customer_id)
        assert (customer.email_consent, customer.sms_consent) == (False, False)
        details = " ".join(s.execute(select(Event.detail)).scalars())
        notes = " ".join(s.execute(select(ConsentEvent.note)).scalars())
    logged = caplog.text
    for secret in ("ann@example.com", "2025550143", RESEND_SECRET, TWILIO_TOKEN):
        assert secret not in logged
        assert secret not in details
        assert secret not in notes


# Signed but hostile: what a leaked webhook secret or a buggy provider could send -------------


def _post_resend(client: TestClient, payload: bytes, msg_id: str = "msg_hostile"):  # noqa: ANN202
    now = datetime.now(UTC)
    signature = Webhook(RESEND_SECRET).sign(msg_id, now, payload.decode("utf-8"))
    return client.post(
        "/webhooks/resend",
        content=payload,
        headers={
            "Content-Type": "application/json",
            "svix-id": msg_id,
            "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": signature,
        },
    )


@pytest.fixture
def lenient_client(api_db: Engine) -> Iterator[TestClient]:
    """A client that reports a server error as a 500 instead of raising it in the test."""
    with TestClient(build_api(), base_url=PUBLIC_API, raise_server_exceptions=False) as c:
        yield c


DELIVERED = '{"type": "email.delivered", "data": {"email_id": "re_1", "x": %s}}'


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 400),  # deep arrays: RecursionError in json before
        (b'{"a":' * 40_000 + b"1" + b"}" * 40_000, 400),
        ((DELIVERED % ("[" * 40 + "]" * 40)).encode(), 400),  # a real event with a deep field
        ((DELIVERED % ("9" * 5000)).encode(), 400),  # a number Python refuses to read
        ((DELIVERED % "1e999999").encode(), 200),  # infinity is just an ignored field
        (b"\xef\xbb\xbf{}", 400),  # a byte-order mark is not JSON
        (b'{"type": "email.delivered", "data": {"email_id": "' + b"[" * 5000 + b'"}}', 200),
        (b'{"type": "email.delivered", "data": {"email_id": "re_1\\u0000"}}', 200),
        (b'{"type": "email.delivered", "data": {"email_id": "re_1\\udc80"}}', 200),
        (b'{"type": "email.bounced\\u0000", "data": {"email_id": "re_1"}}', 200),
        (
            b'{"type": "email.clicked", "data": {"email_id": "re_2", "click": {"link": "\\ud800"}}}',
            200,
        ),
        (b'{"type": "email.sent", "data": {"email_id": "re_1", "created_at": "\\u0000"}}', 200),
    ],
)
def test_signed_hostile_json_gets_4xx_or_is_ignored(
    lenient_client: TestClient,
    api_db: Engine,
    seeded,  # noqa: ANN001
    payload: bytes,
    status: int,
) -> None:
    before = _snapshot(api_db)
    response = _post_resend(lenient_client, payload)
    assert response.status_code == status, response.text
    if status == 400:
        assert _snapshot(api_db) == before
    assert "\\u0000" not in response.text and "re_1" not in response.text  # never echoed


def test_brackets_inside_strings_do_not_count_as_nesting(
    client: TestClient,
    api_db: Engine,
    seeded,  # noqa: ANN001
) -> None:
    deep_text = "[" * 50 + "{" * 50
    payload = json.dumps({"type": "email.sent", "data": {"email_id": deep_text}}).encode()
    response = _post_resend(client, payload, "msg_brackets")
    assert response.status_code == 200 and response.json()["result"] == "unmatched"
    nested = _post_resend(client, (DELIVERED % ("[" * 40 + "]" * 40)).encode(), "msg_nested")
    assert nested.status_code == 400 and "nested" in nested.json()["error"]


def _post_twilio(client: TestClient, path: str, form: dict[str, str]):  # noqa: ANN202
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_API + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/webhooks/twilio/status", {"MessageSid": "SM\x00x", "MessageStatus": "delivered"}, 400),
        ("/webhooks/twilio/status", {"MessageSid": "SM1", "MessageStatus": "failed\x00"}, 400),
        ("/webhooks/twilio/status", {"MessageSid": "SM1", "MessageStatus": "x" * 33}, 400),
        ("/webhooks/twilio/inbound", {"From": "+1202555\x000143", "Body": "STOP"}, 400),
        (
            "/webhooks/twilio/inbound",
            {"From": "+12025550143", "Body": "STOP", "MessageSid": "S\x00"},
            400,
        ),
        ("/webhooks/twilio/inbound", {"From": "not a phone", "Body": "STOP"}, 200),
        ("/webhooks/twilio/inbound", {"From": "+", "Body": "START"}, 200),
        ("/webhooks/twilio/inbound", {"From": "+12025550199", "Body": "x" * 200_000}, 200),
    ],
)
def test_signed_hostile_forms_get_4xx_or_change_nothing(
    lenient_client: TestClient,
    api_db: Engine,
    seeded,  # noqa: ANN001
    path: str,
    form: dict[str, str],
    status: int,
) -> None:
    before = _snapshot(api_db)
    response = _post_twilio(lenient_client, path, form)
    assert response.status_code == status, response.text
    assert _snapshot(api_db) == before


@pytest.mark.parametrize("path_suffix", ["", "/resubscribe", "/prefs", "/data", "/erase"])
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"confirm=1%00", FORM),
        (b"List-Unsubscribe=One-Click%00", FORM),
        (b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"),
        (b"[" * 4000, "application/json"),
    ],
)
def test_unsubscribe_forms_refuse_garbage(
    lenient_client: TestClient,
    api_db: Engine,
    seeded,  # noqa: ANN001
    path_suffix: str,
    body: bytes,
    content_type: str,
) -> None:
    before = _snapshot(api_db)
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    response = lenient_client.post(
        f"/u/{token}{path_suffix}", content=body, headers={"Content-Type": content_type}
    )
    assert 400 <= response.status_code < 500, (body, response.status_code)
    assert _snapshot(api_db) == before


@pytest.mark.parametrize(
    "payload",
    [
        b'"\\' * 128 * 1024,  # a quote then backslashes: a naive string pattern rescans (minutes)
        b'"' * 256 * 1024,
        b'["a",' * 50 * 1024,
    ],
)
def test_hostile_json_is_measured_in_linear_time(
    client: TestClient,
    api_db: Engine,
    seeded,  # noqa: ANN001
    payload: bytes,
) -> None:
    started = time.monotonic()
    response = _post_resend(client, payload, "msg_linear")
    assert response.status_code == 400
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("path_suffix", "form"),
    [
        ("/prefs", {"action": "sms_off\x00"}),
        ("/prefs", {"action": "drop_table"}),
        ("/prefs", {"action": SQLISH}),
        ("/prefs", {}),
        ("/prefs", {"action": "birthday", "birthday_month": "²", "birthday_day": "1"}),
        ("/prefs", {"action": "birthday", "birthday_month": "9" * 4000, "birthday_day": "1"}),
        ("/prefs", {"action": "birthday", "birthday_month": "-1", "birthday_day": "1"}),
        ("/prefs", {"action": "birthday", "birthday_month": "7", "birthday_day": " 1e3"}),
        ("/prefs", {"action": "birthday", "birthday_month": "7", "birthday_day": "٤"}),
        (
            "/prefs",
            {
                "action": "birthday",
                "birthday_month": "7",
                "birthday_day": "4",
                "birthday_year": "3000",
            },
        ),
        ("/prefs", {"action": "birthday", "birthday_month": "", "birthday_day": "4"}),
        ("/erase", {"erase": "confirm\x00"}),
        ("/erase", {"erase": "CONFIRM"}),
        ("/erase", {}),
    ],
)
def test_preference_forms_refuse_hostile_values_without_change(
    lenient_client: TestClient,
    api_db: Engine,
    seeded,  # noqa: ANN001
    path_suffix: str,
    form: dict[str, str],
) -> None:
    before = _snapshot(api_db)
    token = unsubscribe_token(seeded.customer_uid, seeded.campaign_id)
    response = lenient_client.post(f"/u/{token}{path_suffix}", data=form)
    assert 400 <= response.status_code < 500, (form, response.status_code)
    assert SQLISH not in response.text
    assert _snapshot(api_db) == before


# The print download (admin only): hostile parameters are a 400 naming the field ------------------

HOSTILE_PRINT_PATHS = [
    ("/api/print/..%2F..%2Fetc%2Fpasswd.pdf", 404),  # no such route: the slashes are path
    (f"/api/print/{SQLISH}.pdf", 400),
    ("/api/print/%FF%FE.pdf", 400),
    ("/api/print/tent.pdf.pdf", 400),
    ("/api/print/" + "t" * 5000 + ".pdf", 400),
    (f"/api/print/tent.pdf?src={SQLISH}", 400),
    ("/api/print/tent.pdf?src=%FF%FE", 400),
    ("/api/print/tent.pdf?src=%00", 400),
    ("/api/print/tent.pdf?src=..%2F..%2Fx", 400),
    ("/api/print/tent.pdf?src=" + "a" * 10_000, 400),
    ("/api/print/tent.pdf?src=ok&src=%00", 400),  # the last of repeated values is the one read
    ("/api/print/poster-a4.pdf?cta=" + "%F0%9F%8D%95" * 100, 400),
    ("/api/print/poster-a4.pdf?cta=%1B%5B31m", 400),
    ("/api/print/poster-letter.pdf?cta=" + "x" * 30_000, 400),
]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_hostile_print_requests_are_400(
    lenient_client: TestClient,
    api_db: Engine,
    seeded,  # noqa: ANN001
    redis_client,  # noqa: ANN001
) -> None:
    before = _snapshot(api_db)
    lenient_client.cookies.set("mk_session", login_token(api_db, redis_client))
    for path, status in HOSTILE_PRINT_PATHS:
        response = lenient_client.get(path)
        assert response.status_code == status, (path[:80], response.status_code)
        assert response.headers["content-type"].startswith("text/plain")
        assert SQLISH not in response.text and "\x00" not in response.text  # never echoed
    # Odd but harmless text prints: a call to action of emoji or non-Latin script.
    assert lenient_client.get("/api/print/tent.pdf?cta=%E6%9D%B1%E4%BA%AC").status_code == 200
    assert _snapshot(api_db) == before


# The public signup (/join) and its confirm link ------------------------------------------------


def _signup_rows(engine: Engine) -> int:
    from marketing_ui.core.models import SignupRequest

    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(SignupRequest)).scalar_one()


@pytest.fixture
def no_signup_brakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hostile requests by the dozen from one test client: the per-IP brake is not under test."""
    import marketing_ui.api.signup as signup_api
    from marketing_ui.core.signup_limits import SignupLimits

    monkeypatch.setattr(signup_api, "LIMITS", SignupLimits(per_ip=1_000_000))


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\xfa", FORM),
        (b"first_name=%FF%FE&email_opt_in=1", FORM),
        (b"first_name=a&first_name=b&email=x%40example.com&email_opt_in=1", FORM),
        (b"first_name=N%00&email=x%40example.com&email_opt_in=1", FORM),
        (b"email=x%40example.com%00&email_opt_in=1&first_name=N", FORM),
        (b"first_name=N&email=x%40example.com&email_opt_in=1&src=%ED%A0%80", FORM),
        (SQLISH.encode(), FORM),
        (b'{"first_name": "N"}', "application/json"),
        (b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x"),
        (b"first_name=N", "text/plain"),
        (b"", ""),
        (b"&".join(b"f%d=1" % i for i in range(200)), FORM),  # too many fields
    ],
)
def test_join_refuses_garbage_without_storing(
    lenient_client: TestClient,
    api_db: Engine,
    no_signup_brakes: None,
    body: bytes,
    content_type: str,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = lenient_client.post("/join", content=body, headers=headers)
    assert 400 <= response.status_code < 500, (body, response.status_code)
    assert _signup_rows(api_db) == 0


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "fields",
    [
        {"first_name": SQLISH, "email": SQLISH, "email_opt_in": "1"},
        {"first_name": "N" * 100_00, "email": "x@example.com", "email_opt_in": "1"},
        {"first_name": "N", "email": "x" * 7000 + "@example.com", "email_opt_in": "1"},
        {"first_name": "N", "phone": "+" + "9" * 5000, "sms_opt_in": "1"},
        {"first_name": "N", "phone": "１２０２５５５０１４３", "sms_opt_in": "1", "email": ""},
        {"first_name": "N", "email": "x@example.com", "email_opt_in": "1",
         "birthday_month": "9" * 5000, "birthday_day": "1"},
        {"first_name": "N", "email": "x@example.com", "email_opt_in": "1",
         "birthday_month": "-1", "birthday_day": "1e3"},
        {"first_name": "N", "email": "x@example.com", "email_opt_in": "1",
         "birthday_month": "２", "birthday_day": "٣"},
        {"first_name": "\u202eN\u200b", "email": "x@example.com", "email_opt_in": "1"},
        {"first_name": "<script>alert(1)</script>", "email": "<b>@example.com", "email_opt_in": "1"},
        {"first_name": "N", "email_opt_in": "yes please", "email": "x@example.com"},
    ],
)  # fmt: skip
def test_join_answers_hostile_values_with_a_page_never_a_500(
    lenient_client: TestClient,
    api_db: Engine,
    no_signup_brakes: None,
    fields: dict[str, str],
) -> None:
    response = lenient_client.post("/join", data=fields)
    assert response.status_code in (200, 400, 413), response.status_code
    assert "<script>alert" not in response.text  # echoed values are escaped
    if response.status_code != 200:
        assert _signup_rows(api_db) == 0


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_join_src_and_confirm_tokens_are_hostile_proof(
    lenient_client: TestClient, api_db: Engine, no_signup_brakes: None
) -> None:
    for src in (SQLISH, "%FF%FE", "x" * 10_000, '"><script>alert(1)</script>', "%00"):
        page = lenient_client.get(f"/join?src={src}")
        assert page.status_code == 200 and "<script>alert" not in page.text
    assert (
        lenient_client.post("/join", content=BIG, headers={"Content-Type": FORM}).status_code == 413
    )
    for token in (
        SQLISH,
        "%FF%FE",
        "a." * 3000,
        "0" * 32 + ".1.%C3%A9",
        "0" * 32 + "." + "9" * 40 + ".AAAA",
        "0" * 32 + ".99999999999.AAAAAAAAAAAAAAAAAAAAAA",
    ):
        shown = lenient_client.get(f"/join/confirm/{token}")
        assert 400 <= shown.status_code < 500, (token, shown.status_code)
        posted = lenient_client.post(f"/join/confirm/{token}", data={"confirm": "1"})
        assert 400 <= posted.status_code < 500, (token, posted.status_code)
    for body, kind in ((b"confirm=1%00", FORM), (b"[" * 4000, "application/json"), (BIG, FORM)):
        response = lenient_client.post(
            "/join/confirm/x.1.y", content=body, headers={"Content-Type": kind}
        )
        assert 400 <= response.status_code < 500
    assert lenient_client.put("/join").status_code == 405
    assert _signup_rows(api_db) == 0
