"""Shared setup for endpoint tests: the app pointed at the test database, and seed helpers.

Test modules import the fixtures they use from here (`from tests.api import api_db, client`).
"""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

import marketing_ui.api.preferences
import marketing_ui.api.print_materials
import marketing_ui.api.signup
import marketing_ui.api.static_assets
import marketing_ui.api.tracking
import marketing_ui.api.unsubscribe
import marketing_ui.api.view_online
import marketing_ui.api.webhooks  # noqa: F401  (each registers its routes)
from marketing_ui.api.app import build_api
from marketing_ui.core import auth
from marketing_ui.core.config import reset_settings_cache
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import reset_engine_cache
from marketing_ui.core.messages import clear_compiled_cache
from marketing_ui.core.models import Campaign, CampaignStatus, Delivery, DeliveryStatus

PUBLIC_API = "https://hooks.example.test"
TWILIO_TOKEN = "twilio-test-auth-token"
RESEND_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@pytest.fixture
def api_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Point the app's settings and engine at the parametrized test database (SQLite and PG)."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PUBLIC_API_URL", PUBLIC_API)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    monkeypatch.setenv("RESEND_WEBHOOK_SECRET", RESEND_SECRET)
    monkeypatch.setenv("TRACKING_WRITE_MODE", "sync")
    reset_settings_cache()
    reset_engine_cache()
    clear_compiled_cache()  # compiled emails are keyed by campaign id: another test's database
    yield engine
    reset_engine_cache()
    reset_settings_cache()
    clear_compiled_cache()


@pytest.fixture
def client(api_db: Engine) -> Iterator[TestClient]:
    with TestClient(build_api(), base_url=PUBLIC_API, follow_redirects=False) as c:
        yield c


@dataclass(frozen=True)
class Seeded:
    customer_id: int
    customer_uid: str
    campaign_id: int
    delivery_id: int


def seed_email_delivery(
    session: Session,
    *,
    email: str = "ann@example.com",
    phone: str = "",
    status: str = DeliveryStatus.SENT,
    provider_message_id: str | None = None,
    channel: str = "email",
    campaign_name: str = "Monday special",
) -> Seeded:
    """A consenting customer, a sent campaign and one delivery to them; committed."""
    customer = create_customer(
        session,
        CustomerInput(
            first_name="Ann",
            email=email,
            phone=phone,
            email_consent=bool(email),
            sms_consent=bool(phone),
        ),
    )
    campaign = Campaign(name=campaign_name, subject="Hi", status=CampaignStatus.SENT)
    session.add(campaign)
    session.flush()
    delivery = Delivery(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        customer_id=customer.id,  # type: ignore[arg-type]
        channel=channel,
        status=status,
        provider_message_id=provider_message_id,
    )
    session.add(delivery)
    session.commit()
    return Seeded(customer.id, customer.uid, campaign.id, delivery.id)  # type: ignore[arg-type]


def add_delivery(
    session: Session,
    customer_id: int,
    *,
    status: str = DeliveryStatus.PENDING,
    channel: str = "email",
) -> int:
    """Another campaign's delivery to the same customer (e.g. still queued)."""
    campaign = Campaign(name="Next week", subject="Soon", status=CampaignStatus.SENDING)
    session.add(campaign)
    session.flush()
    delivery = Delivery(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        customer_id=customer_id,
        channel=channel,
        status=status,
    )
    session.add(delivery)
    session.commit()
    return delivery.id  # type: ignore[return-value]


def login_token(engine: Engine, redis_client: redis.Redis, role: str = "admin") -> str:
    """The session token of a new dashboard user of `role` (the `mk_session` cookie)."""
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session:
        auth.create_user(session, name, "long-enough-pass", role=role)
        session.commit()
        return auth.login(session, redis_client, name, "long-enough-pass", f"ip-{name}")


@pytest.fixture
def live_server(api_db: Engine) -> Iterator[str]:
    """The endpoints served by a real uvicorn on a free loopback port; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(
        uvicorn.Config(
            build_api(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
