"""Messages: every template personalizes, unsubscribe is everywhere, names are escaped, QR per env."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from marketing_ui.core import tracking
from marketing_ui.core.app_settings import BusinessIdentity
from marketing_ui.core.config import get_settings, new_key, reset_settings_cache
from marketing_ui.core.coupons import CouponSecret
from marketing_ui.core.crypto import sign
from marketing_ui.core.messages import (
    clear_compiled_cache,
    compiled_email,
    email_context,
    email_headers,
    format_offer_expiry,
    from_address,
    preview,
    render_email,
    render_sms_text,
)
from marketing_ui.core.models import Campaign, Customer
from marketing_ui.core.rendering import list_templates
from marketing_ui.core.sms import STOP_NOTICE

BUSINESS = BusinessIdentity(
    business_name="Trattoria", postal_address="1 Via Roma, Springfield", timezone="Europe/Rome"
)
COUPON = CouponSecret(token="tok_abcdefghijklmnopqrstuv", short_code="ABCD-EFGH")


def _campaign(template: str = "monday_special", **fields) -> Campaign:
    from marketing_ui.core.rendering import load_template

    values = {
        "id": 7,
        "name": "Test",
        "subject": "Hi {{ first_name | default('there') }}",
        "mjml_body": load_template(template),
        "from_name": "Maria",
        "from_email": "maria@example.com",
        "has_qr_code": True,
        "offer_text": "2-for-1 pasta",
        "offer_expires_at": datetime(2030, 8, 4, 22, 30, tzinfo=UTC),
        "track_opens_clicks": True,
        "sms_body": "Hi {{ first_name | default('there') }}, {{ offer_text }}",
    }
    values.update(fields)
    return Campaign(**values)


def _context(campaign: Campaign, first_name: str = "Ana", delivery_id: int | None = 42) -> dict:
    compiled = compiled_email(campaign)
    return email_context(
        campaign,
        first_name=first_name,
        last_name="",
        customer_uid="cust0001",
        delivery_id=delivery_id,
        business=BUSINESS,
        coupon=COUPON,
        compiled=compiled,
    )


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_compiled_cache()
    yield
    clear_compiled_cache()


@pytest.mark.parametrize("template", [t.name for t in list_templates()])
def test_every_template_personalizes_with_unsubscribe_and_address(template: str) -> None:
    campaign = _campaign(template)
    compiled = compiled_email(campaign)
    context = _context(campaign)
    email = render_email(campaign, context, compiled)
    unsubscribe = tracking.unsubscribe_url("cust0001", 7)
    assert unsubscribe in email.html
    assert unsubscribe in email.text
    assert "1 Via Roma, Springfield" in email.html
    assert email.subject == "Hi Ana"
    assert tracking.open_pixel_url(42) in email.html
    headers = email_headers(context["unsubscribe_url"])
    assert headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_links_are_tracked_per_delivery() -> None:
    campaign = _campaign("newsletter")
    compiled = compiled_email(campaign)
    assert compiled.links, "the newsletter links somewhere"
    email = render_email(campaign, _context(campaign), compiled)
    assert tracking.click_url(42, compiled.links[0]) in email.html.replace("&amp;", "&")


def test_script_in_a_first_name_arrives_as_text() -> None:
    campaign = _campaign()
    compiled = compiled_email(campaign)
    email = render_email(campaign, _context(campaign, first_name="<script>x</script>"), compiled)
    assert "<script>x</script>" not in email.html
    assert "&lt;script&gt;x&lt;/script&gt;" in email.html


def test_missing_first_name_uses_the_fallback() -> None:
    campaign = _campaign()
    email = render_email(campaign, _context(campaign, first_name=""), compiled_email(campaign))
    assert email.subject == "Hi there"


def test_compiled_once_per_version() -> None:
    campaign = _campaign()
    first = compiled_email(campaign)
    assert compiled_email(campaign) is first
    campaign.version += 1
    assert compiled_email(campaign) is not first


def test_qr_is_inlined_in_development() -> None:
    campaign = _campaign()
    context = _context(campaign)
    assert context["qr_code_url"].startswith("data:image/png;base64,")
    base64.b64decode(context["qr_code_url"].split(",", 1)[1])
    assert context["coupon_code"] == "ABCD-EFGH"
    assert context["coupon_url"].endswith(f"/c/{COUPON.token}")


def test_qr_and_images_are_absolute_urls_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "APP_ENV": "production",
        "PUBLIC_BASE_URL": "https://mail.example.com",
        "DATABASE_URL": "postgresql+psycopg://u@db/app",
        "REDIS_URL": "redis://redis:6379/0",
        "ENCRYPTION_KEYS": f"k1:{new_key()}",
        "BLIND_INDEX_KEY": new_key(),
        "SIGNING_KEY": new_key(),
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    assert get_settings().is_production
    campaign = _campaign()
    context = _context(campaign)
    assert context["qr_code_url"] == f"https://mail.example.com/qr/{COUPON.token}.png"
    email = render_email(campaign, context, compiled_email(campaign))
    assert "data:image" not in email.html
    assert "https://mail.example.com/media/" in email.html
    assert sign("x", "t")  # the production signing key is in use, not the development one


def test_sms_gets_the_coupon_link_and_stop_notice() -> None:
    campaign = _campaign(channel="sms")
    context = email_context(
        campaign,
        first_name="Ana",
        last_name=None,
        customer_uid="cust0001",
        delivery_id=42,
        business=BUSINESS,
        coupon=COUPON,
        compiled=None,
    )
    text = render_sms_text(campaign, context)
    assert text.startswith("Hi Ana, 2-for-1 pasta\n")
    assert f"/c/{COUPON.token}" in text
    assert text.endswith(STOP_NOTICE)
    # An author who already wrote the opt-out gets no second notice.
    campaign.sms_body = "Deal! Text STOP to quit"
    campaign.has_qr_code = False
    assert render_sms_text(campaign, context) == "Deal! Text STOP to quit"


def test_offer_expiry_uses_the_business_time_zone() -> None:
    late_utc = datetime(2030, 8, 4, 22, 30, tzinfo=UTC)
    assert format_offer_expiry(late_utc, "Europe/Rome") == "August 5, 2030"
    assert format_offer_expiry(late_utc, "Not/AZone") == "August 4, 2030"


def test_from_address_quotes_the_name() -> None:
    campaign = _campaign(from_name='Maria, "the chef"')
    assert from_address(campaign, BUSINESS) == '"Maria, \\"the chef\\"" <maria@example.com>'


def test_preview_for_sample_and_real_customer(session: Session) -> None:
    customer = Customer(first_name="<b>Bea</b>", last_name="Q")
    session.add(customer)
    session.commit()
    campaign = _campaign(id=None, channel="both")
    sample = preview(session, campaign)
    assert sample.errors == []
    assert sample.subject == "Hi Alex"
    assert "data:image/png;base64," in sample.html  # the sample QR
    assert "/u/preview" in sample.html  # a preview never carries a working unsubscribe link
    assert sample.sms_text.endswith(STOP_NOTICE)
    assert sample.sms_info is not None and sample.sms_info.segments >= 1
    real = preview(session, campaign, customer.id)
    assert "&lt;b&gt;Bea&lt;/b&gt;" in real.html
    broken = preview(session, _campaign(id=None, mjml_body="<mjml><mj-body>"))
    assert broken.html == "" and "every email must show" in broken.errors[0]


@pytest.mark.parametrize("template", ["blank", "newsletter", "monday_special"])
def test_a_qr_offer_always_shows_its_coupon_once(template: str) -> None:
    """A template that does not place the coupon (blank, newsletter) gets the coupon section
    above its footer; one that does (monday_special) is left alone."""
    campaign = _campaign(template)
    compiled = compiled_email(campaign)
    email = render_email(campaign, _context(campaign), compiled)
    assert email.html.count('class="coupon-code"') == 1  # the code, shown once
    assert email.html.count(f"QR code for coupon {COUPON.short_code}") == 1  # and its QR
    assert email.html.index(COUPON.short_code) < email.html.index("Unsubscribe")
    assert "2-for-1 pasta" in email.html


def test_without_an_offer_no_coupon_section_is_added() -> None:
    campaign = _campaign("blank", has_qr_code=False)
    email = render_email(campaign, _context(campaign), compiled_email(campaign))
    assert 'class="coupon-code"' not in email.html and COUPON.short_code not in email.html
