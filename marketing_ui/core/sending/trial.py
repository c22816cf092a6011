""" "Send a test": a campaign rendered for the owner's own inbox or phone, outside its statistics."""

import re
import uuid
from dataclasses import dataclass
from itertools import product

from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import ab_tests, audit
from marketing_ui.core.app_settings import business_identity, sending_limits
from marketing_ui.core.audience import channels_of
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import blind_indexer
from marketing_ui.core.customers import CustomerError, check_email, check_phone, looks_like_phone
from marketing_ui.core.messages import (
    email_headers,
    from_address,
    sample_email,
    sample_sms,
)
from marketing_ui.core.models import (
    Campaign,
    Channel,
    Customer,
)
from marketing_ui.core.rendering import SAMPLE_CUSTOMER
from marketing_ui.core.sending.commands import SendError

MAX_TEST_RECIPIENTS = 5  # a test is for the owner's own inbox and phone, not a small send
_TEST_SEPARATORS = re.compile(r"[,;\r\n]+")  # never spaces: "+1 415 555 0199" is one number


@dataclass(frozen=True)
class TestRecipient:
    """One checked entry of the "send a test" box: what was typed and where it goes."""

    typed: str
    channel: Channel
    address: str  # the normalized email or the E.164 number


def parse_test_recipients(text: str, campaign_channel: str) -> list[TestRecipient]:
    """Entries separated by commas, semicolons or new lines, each an email or a phone number.

    Raises SendError naming every entry that cannot be used and why, or saying the box is empty.
    """
    entries = [entry.strip() for entry in _TEST_SEPARATORS.split(text or "") if entry.strip()]
    if not entries:
        raise SendError("Enter an email address or a phone number to send the test to.")
    if len(entries) > MAX_TEST_RECIPIENTS:
        raise SendError(
            f"A test goes to at most {MAX_TEST_RECIPIENTS} recipients; you entered "
            f"{len(entries)}. Separate them with commas, semicolons or new lines."
        )
    channels = channels_of(campaign_channel)
    only = {Channel.EMAIL: "email", Channel.SMS: "SMS"}
    recipients: list[TestRecipient] = []
    problems: list[str] = []
    for typed in entries:
        if "@" in typed:
            channel = Channel.EMAIL
        elif looks_like_phone(typed):
            channel = Channel.SMS
        else:
            wanted = " or ".join(
                "an email address" if c == Channel.EMAIL else "a phone number" for c in channels
            )
            problems.append(f"“{typed}” is not {wanted}.")
            continue
        if channel not in channels:
            kind = "an email address" if channel == Channel.EMAIL else "a phone number"
            problems.append(
                f"“{typed}” is {kind}, but this campaign sends only {only[channels[0]]}."
            )
            continue
        try:
            address = check_email(typed) if channel == Channel.EMAIL else check_phone(typed)
        except CustomerError as exc:
            kind = "email address" if channel == Channel.EMAIL else "phone number"
            reason = str(exc).split(": ", 1)[-1]
            problems.append(f"“{typed}” is not a valid {kind}: {reason}")
            continue
        recipients.append(TestRecipient(typed, channel, address))
    if problems:
        raise SendError("\n".join(problems))
    return recipients


def _customer_for(session: Session, channel: Channel, value: str) -> Customer | None:
    bidx = blind_indexer()
    if channel == Channel.EMAIL:
        return session.execute(
            select(Customer).where(Customer.email_bidx == bidx.email(value))
        ).scalar_one_or_none()
    return session.execute(
        select(Customer).where(Customer.phone_bidx == bidx.phone(value))
    ).scalar_one_or_none()


def _versions(session: Session, campaign: Campaign) -> list[tuple[str, Campaign]]:
    """What a test shows: the campaign, or with an A/B test each variant, labelled."""
    if campaign.ab_test_percent <= 0:
        return [("", campaign)]
    assert campaign.id is not None
    others = [v for v in ab_tests.variants(session, campaign.id) if v.label != "A"]
    if not others:
        return [("", campaign)]
    return [("A", campaign)] + [(v.label, ab_tests.variant_campaign(campaign, v)) for v in others]


def send_test(session: Session, campaign_id: int, recipients: str) -> list[str]:
    """Send the campaign now to a few addresses/numbers, marked as a test; one status line each.

    `recipients` is the text of the "send a test" box (see parse_test_recipients, which raises
    SendError before anything is sent when an entry is unusable). A recipient who is a customer
    gets their own name, anyone else the sample customer's. A campaign with an A/B test sends
    each variant, marked "[Test B]". Nothing is counted in the campaign's statistics and no
    delivery rows are written.
    """
    from marketing_ui.core.sending.providers import OutgoingEmail, OutgoingSms
    from marketing_ui.core.sending.throttle import limited_email_provider, limited_sms_provider

    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise SendError(f"Campaign #{campaign_id} does not exist.")
    checked = parse_test_recipients(recipients, campaign.channel)
    business = business_identity(session)
    settings = get_settings()
    limits = sending_limits(session)  # a test send takes its turn like every request
    results: list[str] = []
    sent = 0
    for recipient, (label, version) in product(checked, _versions(session, campaign)):
        raw, channel, value = recipient.typed, recipient.channel, recipient.address
        customer = _customer_for(session, channel, value)
        first, last = (customer.first_name, customer.last_name) if customer else SAMPLE_CUSTOMER
        key = f"test-{uuid.uuid4().hex}"
        mark = f"[Test {label}] " if label else "[Test] "
        which = f" (variant {label})" if label else ""
        try:
            if channel == Channel.EMAIL:
                rendered, context = sample_email(version, first, last, business, settings)
                message = OutgoingEmail(
                    key=key,
                    to=value,
                    from_=from_address(campaign, business),
                    subject=f"{mark}{rendered.subject}",
                    html=rendered.html,
                    text=rendered.text,
                    headers=email_headers(context["unsubscribe_url"]),
                    tags={"test": "1", "campaign_id": str(campaign_id)},
                )
                outcome = limited_email_provider(limits, settings).send_batch([message], key)[0]
            else:
                body = mark + sample_sms(version, first, last, business, settings)
                outcome = limited_sms_provider(limits, settings).send(
                    OutgoingSms(key=key, to=value, from_=settings.twilio_from_number, body=body)
                )
        except Exception as exc:  # noqa: BLE001 - a test send reports, never crashes the page
            results.append(f"{raw}{which}: not sent ({type(exc).__name__}: {exc})")
            continue
        if outcome.ok:
            sent += 1
            results.append(f"{raw}: test {channel.value}{which} sent.")
        else:
            results.append(f"{raw}{which}: not sent ({outcome.error}).")
    audit.record(
        session, "campaign.test_send", "campaign", campaign_id, f"{sent} of {len(results)} sent"
    )
    session.commit()
    return results
