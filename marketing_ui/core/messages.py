"""The one place a (campaign, customer, delivery, coupon) becomes a message: previews and the worker.

`compiled_email` runs MJML once per campaign version (LRU-cached); everything per recipient
(`email_context`, `render_email`, `render_sms_text`) is string work only, so the send worker
personalizes tens of thousands of messages a second.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr
from typing import Any

from sqlmodel import Session

from marketing_ui.core import tracking
from marketing_ui.core.app_settings import BusinessIdentity, business_identity
from marketing_ui.core.clock import as_utc, zone_or_utc
from marketing_ui.core.config import Settings, get_settings
from marketing_ui.core.coupons import CouponSecret, coupon_page_url, redeem_url
from marketing_ui.core.images import image_resolver_for
from marketing_ui.core.lru import LruCache
from marketing_ui.core.models import Campaign, CampaignChannel, Customer
from marketing_ui.core.qr import cached_qr_png, qr_data_uri
from marketing_ui.core.rendering import (
    SAMPLE_CUSTOMER,
    CompiledEmail,
    RenderedEmail,
    TemplateError,
    compile_email,
    personalize,
    with_coupon_section,
)
from marketing_ui.core.sms import SmsInfo, analyze_sms, render_sms, with_stop_notice
from marketing_ui.core.template_limits import time_limit

_CACHE_SIZE = 64
_PREVIEW_PIXEL = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="
_SAMPLE_TOKEN = "sample-coupon-preview"
SAMPLE_COUPON_CODE = "ABCD-2345"


@dataclass(frozen=True)
class PreviewResult:
    """What the preview and editor pages show; errors instead of exceptions so typing never breaks."""

    subject: str = ""
    html: str = ""
    text: str = ""
    sms_text: str = ""
    sms_info: SmsInfo | None = None
    errors: list[str] = field(default_factory=list)


# Compiling (once per campaign version) ------------------------------------------------------


_compiled: LruCache[CompiledEmail] = LruCache(_CACHE_SIZE)


def _compile(campaign: Campaign, settings: Settings) -> CompiledEmail:
    source = with_coupon_section(campaign.mjml_body) if campaign.has_qr_code else campaign.mjml_body
    return compile_email(
        source,
        campaign.subject,
        campaign.preheader,
        track_links=campaign.track_opens_clicks,
        image_resolver=image_resolver_for(settings),
    )


def compiled_email(campaign: Campaign, settings: Settings | None = None) -> CompiledEmail:
    """MJML rendered once per (campaign id, version, variant, environment); raises TemplateError.

    Only saved campaigns are cached: every saved edit bumps the version. An unsaved campaign
    (id None, the editor's live preview) is compiled afresh each time. An A/B test variant is a
    copy of the campaign with the variant's subject, preheader and body
    (ab_tests.variant_campaign), so the key holds those too: each variant compiles once.
    """
    settings = settings or get_settings()
    if campaign.id is None:
        return _compile(campaign, settings)
    variant = (campaign.subject, campaign.preheader, campaign.mjml_body)
    key = (campaign.id, campaign.version, variant, settings.app_env, settings.public_base_url)
    found = _compiled.get(key)
    if found is None:
        found = _compile(campaign, settings)
        _compiled.put(key, found)
    return found


def clear_compiled_cache() -> None:
    """Forget compiled emails (tests that switch environments)."""
    _compiled.clear()


# Per-recipient context ------------------------------------------------------------------------


def format_offer_expiry(expires_at: datetime | None, timezone: str) -> str:
    """ "August 4, 2025" in the business's time zone (a date near midnight UTC must not shift)."""
    if expires_at is None:
        return ""
    local = as_utc(expires_at).astimezone(zone_or_utc(timezone))
    return f"{local:%B} {local.day}, {local.year}"


def _qr_image(coupon: CouponSecret, settings: Settings) -> str:
    """Development inlines the QR (no public server needed); production links the QR endpoint."""
    if settings.is_production:
        return tracking.qr_image_url(coupon.token)
    return qr_data_uri(redeem_url(coupon.token, settings.public_base_url))


def _sample_qr(settings: Settings) -> str:
    """Always inline in previews: the sample token exists nowhere, so no endpoint could serve it."""
    png = cached_qr_png(redeem_url(_SAMPLE_TOKEN, settings.public_base_url))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _click_url(delivery_id: int, links: list[str]) -> Callable[[int], str]:
    def click_url(n: int) -> str:
        return tracking.click_url(delivery_id, links[n])

    return click_url


def _preview_click_url(links: list[str]) -> Callable[[int], str]:
    def click_url(n: int) -> str:
        return links[n] if 0 <= n < len(links) else "#"

    return click_url


def email_context(
    campaign: Campaign,
    *,
    first_name: str | None,
    last_name: str | None,
    customer_uid: str | None,
    delivery_id: int | None,
    business: BusinessIdentity,
    coupon: CouponSecret | None,
    compiled: CompiledEmail | None,
    settings: Settings | None = None,
    tracked: bool = True,
) -> dict[str, Any]:
    """Every personalization field for one recipient (also the SMS context: pass compiled=None).

    Without a delivery id (previews) tracking and view-online links are harmless placeholders
    and the unsubscribe link points nowhere, so clicking around a preview changes no customer.
    `tracked=False` renders a real delivery for an admin's eyes: no pixel, plain links.
    Empty names become None so the template's `default("there")` applies.
    """
    settings = settings or get_settings()
    if delivery_id is None:
        view_online = f"{settings.api_base_url}/v/preview"
    elif tracked:
        view_online = tracking.view_online_url(delivery_id)
    else:
        view_online = tracking.view_online_preview_url(delivery_id)
    if customer_uid and delivery_id is not None:
        unsubscribe = tracking.unsubscribe_url(customer_uid, campaign.id)
    else:
        unsubscribe = f"{settings.api_base_url}/u/preview"
    context: dict[str, Any] = {
        "first_name": first_name or None,
        "last_name": last_name or None,
        "offer_text": campaign.offer_text or None,
        "offer_expires": format_offer_expiry(campaign.offer_expires_at, business.timezone) or None,
        "unsubscribe_url": unsubscribe,
        "view_in_browser_url": view_online,
        "business_name": business.business_name,
        "business_address": business.postal_address,
        "sender_name": campaign.from_name or business.sender_name,
        "qr_code_url": "",
        "coupon_code": None,
        "coupon_url": None,
    }
    if campaign.has_qr_code:
        if coupon is not None:
            context["qr_code_url"] = _qr_image(coupon, settings)
            context["coupon_code"] = coupon.short_code
            context["coupon_url"] = coupon_page_url(coupon.token, settings.api_base_url)
        else:
            context["qr_code_url"] = _sample_qr(settings)
            context["coupon_code"] = SAMPLE_COUPON_CODE
            context["coupon_url"] = coupon_page_url(_SAMPLE_TOKEN, settings.api_base_url)
    if compiled is not None and compiled.tracked:
        if delivery_id is not None and tracked:
            context["open_pixel_url"] = tracking.open_pixel_url(delivery_id)
            context["click_url"] = _click_url(delivery_id, compiled.links)
        else:
            context["open_pixel_url"] = _PREVIEW_PIXEL
            context["click_url"] = _preview_click_url(compiled.links)
    return context


def delivery_context(
    campaign: Campaign,
    *,
    delivery_id: int,
    first_name: str,
    last_name: str,
    customer_uid: str,
    business: BusinessIdentity,
    coupon: CouponSecret | None,
    compiled: CompiledEmail | None = None,
    tracked: bool = True,
) -> dict[str, Any]:
    """The template context of one real delivery (email or SMS).

    A QR campaign's delivery without its issued coupon raises ValueError: a real message never
    carries the preview's sample coupon.
    """
    if campaign.has_qr_code and coupon is None:
        raise ValueError("no coupon was issued for it")
    return email_context(
        campaign,
        first_name=first_name,
        last_name=last_name,
        customer_uid=customer_uid,
        delivery_id=delivery_id,
        business=business,
        coupon=coupon,
        compiled=compiled,
        tracked=tracked,
    )


def render_delivery(
    campaign: Campaign,
    *,
    delivery_id: int,
    first_name: str,
    last_name: str,
    customer_uid: str,
    business: BusinessIdentity,
    coupon: CouponSecret | None,
    compiled: CompiledEmail | None = None,
    tracked: bool = True,
) -> tuple[RenderedEmail, dict[str, Any]]:
    """One real delivery's email as its recipient gets it, and the context it was rendered with.

    The worker, the view-online page and the benchmarks all render through here.
    """
    compiled = compiled or compiled_email(campaign)
    context = delivery_context(
        campaign,
        delivery_id=delivery_id,
        first_name=first_name,
        last_name=last_name,
        customer_uid=customer_uid,
        business=business,
        coupon=coupon,
        compiled=compiled,
        tracked=tracked,
    )
    return render_email(campaign, context, compiled), context


def render_email(
    campaign: Campaign, context: dict[str, Any], compiled: CompiledEmail
) -> RenderedEmail:
    """One recipient's subject, HTML and text (customer data HTML-escaped by the sandbox)."""
    return personalize(compiled, context)


def from_address(campaign: Campaign | None, business: BusinessIdentity) -> str:
    """`"Name" <address>`, quoted so a sender name with commas or quotes cannot forge headers.

    Without a campaign (a transactional email such as a signup confirmation): the business's.
    """
    name = " ".join(((campaign and campaign.from_name) or business.sender_name).split())
    return formataddr((name, (campaign and campaign.from_email) or business.sender_email))


def email_headers(unsubscribe_url: str, reply_to: str | None = None) -> dict[str, str]:
    """One-click unsubscribe (RFC 8058) that Gmail and Yahoo require of bulk senders."""
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if reply_to:
        headers["Reply-To"] = reply_to
    return headers


def render_sms_text(campaign: Campaign, context: dict[str, Any]) -> str:
    """The SMS as sent: personalized body, the coupon link for QR offers, the STOP notice last."""
    text = render_sms(campaign.sms_body, context)
    coupon_link = context.get("coupon_url")
    if campaign.has_qr_code and coupon_link and coupon_link not in text:
        text = f"{text}\n{coupon_link}" if text else coupon_link
    return with_stop_notice(text)


# Preview --------------------------------------------------------------------------------------


def _has(channel: str, wanted: CampaignChannel) -> bool:
    return channel in (wanted, CampaignChannel.BOTH)


def _sample_context(
    campaign: Campaign,
    first: str,
    last: str,
    business: BusinessIdentity,
    settings: Settings,
    compiled: CompiledEmail | None,
) -> dict:
    return email_context(
        campaign,
        first_name=first,
        last_name=last,
        customer_uid=None,
        delivery_id=None,
        business=business,
        coupon=None,
        compiled=compiled,
        settings=settings,
    )


def sample_email(
    campaign: Campaign, first: str, last: str, business: BusinessIdentity, settings: Settings
) -> tuple[RenderedEmail, dict]:
    """The email as a named person would get it outside a real send (preview, send test)."""
    compiled = compiled_email(campaign, settings)
    context = _sample_context(campaign, first, last, business, settings, compiled)
    return render_email(campaign, context, compiled), context


def sample_sms(
    campaign: Campaign, first: str, last: str, business: BusinessIdentity, settings: Settings
) -> str:
    """The SMS text as a named person would get it outside a real send."""
    return render_sms_text(
        campaign, _sample_context(campaign, first, last, business, settings, None)
    )


def preview(
    session: Session,
    campaign: Campaign,
    customer_id: int | None = None,
    settings: Settings | None = None,
) -> PreviewResult:
    """The campaign as one customer (or the sample customer) would get it, with a sample QR.

    `campaign` may be unsaved (id None): the editor previews what is being typed. All its
    renders share one deadline, so a preview never takes much longer than MAX_SECONDS.
    """
    with time_limit():
        return _preview(session, campaign, customer_id, settings or get_settings())


def _preview(
    session: Session, campaign: Campaign, customer_id: int | None, settings: Settings
) -> PreviewResult:
    business = business_identity(session)
    first, last = SAMPLE_CUSTOMER
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None:
            return PreviewResult(errors=["That customer no longer exists."])
        first, last = customer.first_name, customer.last_name
    errors: list[str] = []
    subject = body = text = sms_text = ""
    sms_info = None
    if _has(campaign.channel, CampaignChannel.EMAIL):
        try:
            rendered, _ = sample_email(campaign, first, last, business, settings)
            subject, body, text = rendered.subject, rendered.html, rendered.text
        except (TemplateError, ValueError) as exc:
            errors.append(str(exc))
    if _has(campaign.channel, CampaignChannel.SMS):
        try:
            sms_text = sample_sms(campaign, first, last, business, settings)
            sms_info = analyze_sms(sms_text)
        except TemplateError as exc:
            errors.append(str(exc))
    return PreviewResult(subject, body, text, sms_text, sms_info, errors)
