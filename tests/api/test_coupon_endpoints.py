"""Coupon endpoints: QR images that decode to the redeem URL, the public coupon page, the CSV export."""

from __future__ import annotations

import csv
import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import redis
import zxingcpp
from PIL import Image
from sqlmodel import SQLModel
from starlette.testclient import TestClient

import marketing_ui.api.coupons  # noqa: F401  (registers the routes)
from marketing_ui.api.app import build_api
from marketing_ui.core import auth
from marketing_ui.core.clock import utcnow
from marketing_ui.core.coupons import (
    find_by_token,
    issue_coupons,
    redeem,
    redeem_url,
    secrets_for_deliveries,
)
from marketing_ui.core.db import get_engine, session_scope
from marketing_ui.core.models import Campaign, Customer, Delivery


@dataclass(frozen=True)
class Seeded:
    campaign_id: int
    token: str
    short_code: str


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The public API on the test run's SQLite app database."""
    SQLModel.metadata.create_all(get_engine())
    with TestClient(build_api()) as c:
        yield c


def _seed(expires_in: timedelta = timedelta(days=7), recipients: int = 1) -> Seeded:
    with session_scope() as session:
        campaign = Campaign(
            name="Monday special",
            has_qr_code=True,
            offer_text="Free dessert with any main",
            offer_expires_at=utcnow() + expires_in,
        )
        customers = [Customer(first_name=f"Ana{i}") for i in range(recipients)]
        session.add(campaign)
        session.add_all(customers)
        session.flush()
        deliveries = [
            Delivery(campaign_id=campaign.id, customer_id=c.id, channel="sms") for c in customers
        ]
        session.add_all(deliveries)
        session.flush()
        issue_coupons(session, campaign.id)
        session.flush()
        secret = secrets_for_deliveries(session, [deliveries[0].id])[deliveries[0].id]
        return Seeded(campaign.id, secret.token, secret.short_code)


def _get_as(path: str, session_token: str):  # noqa: ANN202 - an httpx Response
    with TestClient(build_api(), cookies={"mk_session": session_token}) as c:
        return c.get(path)


def _login(redis_client: redis.Redis, role: str) -> tuple[int, str]:
    """A fresh account of `role` and its session token."""
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with session_scope() as session:
        user = auth.create_user(session, name, "long-enough-pass", role=role)
        user_id = user.id
    with session_scope() as session:
        token = auth.login(session, redis_client, name, "long-enough-pass", "127.0.0.1")
    return user_id, token


# QR images --------------------------------------------------------------------------------


def test_png_decodes_to_the_redeem_url_and_is_cached_for_a_year(client: TestClient) -> None:
    seeded = _seed()
    response = client.get(f"/qr/{seeded.token}.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = response.headers["etag"]
    assert etag.startswith('"') and seeded.token not in etag
    image = Image.open(io.BytesIO(response.content))
    decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    assert decoded == [redeem_url(seeded.token)]
    assert decoded[0].startswith("http") and decoded[0].endswith(f"/redeem/{seeded.token}")

    again = client.get(f"/qr/{seeded.token}.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag


def test_svg_is_served_as_svg_and_draws_the_same_code(client: TestClient) -> None:
    seeded = _seed()
    response = client.get(f"/qr/{seeded.token}.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    png_etag = client.get(f"/qr/{seeded.token}.png").headers["etag"]
    assert response.headers["etag"] != png_etag  # different bytes, different validators


def test_each_coupon_gets_its_own_qr(client: TestClient) -> None:
    first, second = _seed(), _seed()
    images = [client.get(f"/qr/{s.token}.png").content for s in (first, second)]
    assert images[0] != images[1]


def test_unknown_tokens_get_404_and_no_image(client: TestClient) -> None:
    unknown = "A" * 22
    for path in (f"/qr/{unknown}.png", f"/qr/{unknown}.svg", f"/c/{unknown}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert not response.headers["content-type"].startswith("image/")


HOSTILE = [
    "x" * 10_000,
    "%C3%A9" * 20,
    "caf%C3%A9-token-1234567890",
    "%F0%9F%98%80" * 8,
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fapp.db",
    "abc%00def1234567890123",
    "%27%20OR%201%3D1--%20xxxxxxxxxx",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%FF%FE%FD",
]


@pytest.mark.parametrize("token", HOSTILE)
def test_hostile_tokens_get_4xx_never_500(client: TestClient, token: str) -> None:
    for path in (f"/qr/{token}.png", f"/qr/{token}.svg", f"/c/{token}"):
        response = client.get(path)
        assert 400 <= response.status_code < 500, (path[:60], response.status_code)
        assert "<script>" not in response.text


# Coupon page ---------------------------------------------------------------------------------


def test_coupon_page_shows_code_offer_state_and_an_inline_qr(client: TestClient) -> None:
    seeded = _seed()
    response = client.get(f"/c/{seeded.token}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    page = response.text
    assert seeded.short_code in page and len(seeded.short_code) == 9
    assert "Free dessert with any main" in page
    assert 'data-state="issued"' in page and "Valid until" in page
    assert 'name="viewport"' in page
    assert "<svg" in page and "Demo Bistro" in page  # the QR inline, the business by name
    assert "Ana0" not in page  # a forwarded link shows no personal data


def test_coupon_page_says_when_a_coupon_was_used(client: TestClient, redis_client) -> None:  # noqa: ANN001
    seeded = _seed()
    staff_id, _ = _login(redis_client, "staff")
    with session_scope() as session:
        coupon = find_by_token(session, seeded.token)
        assert coupon is not None

        class Staff:
            id = staff_id

        redeem(session, coupon.coupon_id, Staff())
    page = client.get(f"/c/{seeded.token}").text
    assert 'data-state="redeemed"' in page and "Already used on" in page
    assert "<svg" not in page  # no QR to scan for a spent coupon
    assert "staff-" not in page  # who redeemed it is for the dashboard only


def test_coupon_page_says_expired(client: TestClient) -> None:
    seeded = _seed(expires_in=timedelta(hours=-1))
    page = client.get(f"/c/{seeded.token}").text
    assert 'data-state="expired"' in page and "Expired on" in page


def test_unknown_coupon_page_is_friendly(client: TestClient) -> None:
    response = client.get("/c/" + "B" * 22)
    assert response.status_code == 404
    assert "Coupon not found" in response.text and "Demo Bistro" in response.text


# CSV export ----------------------------------------------------------------------------------


def test_export_needs_an_admin_session(client: TestClient, redis_client) -> None:  # noqa: ANN001
    seeded = _seed(recipients=3)
    path = f"/api/campaigns/{seeded.campaign_id}/coupons.csv"
    assert client.get(path).status_code == 401
    assert _get_as(path, "forged").status_code == 401
    _, staff_token = _login(redis_client, "staff")
    assert _get_as(path, staff_token).status_code == 403

    _, admin_token = _login(redis_client, "admin")
    response = _get_as(path, admin_token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert seeded.short_code in {row["short_code"] for row in rows}
    assert {row["state"] for row in rows} == {"issued"}

    for bad in ("999999", str(2**40), "-1", "abc"):
        response = _get_as(f"/api/campaigns/{bad}/coupons.csv", admin_token)
        assert response.status_code == 404, bad
