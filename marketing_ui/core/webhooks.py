"""Provider webhooks: verify Resend (Svix) and Twilio signatures, parse payloads, apply them.

Verification always runs on the raw request (Svix signs the exact body bytes, Twilio the public
URL plus the form fields), before anything is parsed or stored. Even a signed body is then
treated as hostile: JSON nested deeper than MAX_JSON_DEPTH is refused before `json.loads`
recurses into it, and text a database cannot hold (NUL, unpaired surrogates) is refused in forms
and ignored in JSON fields, so the answer is a 4xx, never a 500. Applying an event goes through
marketing_ui.core.events, which stores each provider event once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from sqlmodel import Session
from svix.webhooks import Webhook
from twilio.request_validator import RequestValidator

from marketing_ui.core import deliverability, events, signup
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.clock import as_utc
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import normalize_phone
from marketing_ui.core.models import Channel, EventType
from marketing_ui.core.signup_limits import signup_limiter

MAX_FORM_FIELDS = 100
MAX_JSON_DEPTH = 20  # Resend events nest 3 deep; json.loads recurses once per level

STOP_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT", "OPTOUT"}
)
START_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

# Twilio error codes in an `undelivered`/`failed` status report that mean the number itself is
# bad (a hard bounce: suppressed, counted by the deliverability guard): unknown handset,
# landline or unreachable carrier, invalid number, not a mobile number. Others (unreachable
# handset 30003, carrier filtering 30007, ...) are a failure of that one message.
# (marketing_ui/core/sending/providers/twilio_sms.SUPPRESS_CODES is the list for refusals at send time.)
TWILIO_BAD_NUMBER_CODES = frozenset({"30005", "30006", "21211", "21614"})

TWILIO_STATUS_PATH = "/webhooks/twilio/status"
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"
RESEND_PATH = "/webhooks/resend"


class WebhookError(ValueError):
    """A request to refuse; `status` is the HTTP code, the message never quotes the payload."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ResendEvent:
    """The parts of a Resend webhook we act on."""

    event_id: str  # the svix-id header: the same for every retry of one event
    type: str
    email_id: str
    at: datetime | None
    bounce_type: str = ""
    bounce_subtype: str = ""
    click_link: str = ""


# Resend / Svix --------------------------------------------------------------------------


def verify_resend(body: bytes, headers: Mapping[str, str], secret: str) -> ResendEvent:
    """Check the Svix signature and timestamp (5 min tolerance) against the raw body, then parse."""
    if not secret:  # not set up here: no endpoint to call (a 4xx, as for any other stranger)
        raise WebhookError(404, "Resend webhooks are not set up here (no signing secret)")
    wanted = {
        name: headers.get(name, "") for name in ("svix-id", "svix-timestamp", "svix-signature")
    }
    if not all(wanted.values()):
        raise WebhookError(401, "missing svix signature headers")
    if (
        len(wanted["svix-id"]) > events.MAX_PROVIDER_EVENT_ID
        or len(wanted["svix-signature"]) > 2000
    ):
        raise WebhookError(401, "malformed svix headers")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookError(400, "body is not UTF-8") from None
    try:
        Webhook(secret).verify(body, wanted)
    except Exception:  # noqa: BLE001 - svix raises several types for bad input; all mean "no"
        raise WebhookError(401, "invalid or stale signature") from None
    return _parse_resend(body, wanted["svix-id"])


def storable(text: str) -> bool:
    """Whether a database can hold it: no NUL (PostgreSQL refuses it), no unpaired surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: object, limit: int = 200) -> str:
    """A string field, or "" when it is missing, not a string or not storable."""
    return value[:limit] if isinstance(value, str) and storable(value) else ""


# A string, or an unterminated one up to the end: always matches at a quote, so never rescans.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"?')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, without parsing it (no recursion)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        depth += _BRACKET_STEP[byte]
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
    return deepest


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(at)


def _parse_resend(body: bytes, event_id: str) -> ResendEvent:
    if json_depth(body) > MAX_JSON_DEPTH:
        raise WebhookError(400, f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookError(400, "body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise WebhookError(400, "expected an object with type and data")
    data = payload["data"]
    bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
    click = data.get("click") if isinstance(data.get("click"), dict) else {}
    return ResendEvent(
        event_id=event_id,
        type=_text(payload.get("type"), 64),
        email_id=_text(data.get("email_id"), 128),
        at=_parse_time(payload.get("created_at")) or _parse_time(data.get("created_at")),
        bounce_type=_text(bounce.get("type"), 40),
        bounce_subtype=_text(bounce.get("subType"), 40),
        click_link=_text(click.get("link"), events.MAX_DETAIL),
    )


def apply_resend_event(session: Session, event: ResendEvent) -> str:
    """Apply one verified event; returns 'stored', 'duplicate', 'unmatched' or 'ignored'."""
    delivery = events.delivery_by_provider_id(session, event.email_id, Channel.EMAIL.value)
    if delivery is None:
        # Not one of ours (a test send from the Resend dashboard) or unknown: acknowledge it,
        # because a non-2xx makes Svix retry for days and finally disable the endpoint.
        return "unmatched"
    kw = {"provider_event_id": event.event_id, "at": event.at}
    match event.type:
        case "email.sent":
            stored = events.record_provider_event(session, delivery, EventType.SENT, **kw)
        case "email.delivered":
            stored = events.mark_delivered(session, delivery, **kw)
        case "email.delivery_delayed":
            stored = events.record_provider_event(session, delivery, EventType.DELAYED, **kw)
        case "email.bounced":
            # Resend sends email.bounced for permanent rejections; only an explicit
            # "Transient" type is treated as soft. The bounce message may quote the
            # address, so only the type and subtype are kept.
            hard = event.bounce_type.lower() not in ("transient", "undetermined")
            reason = "/".join(filter(None, (event.bounce_type, event.bounce_subtype))) or "bounce"
            stored = events.apply_bounce(session, delivery, hard=hard, reason=reason, **kw)
            if stored and hard:
                deliverability.after_signal(session, delivery.campaign_id)
        case "email.complained":
            stored = events.apply_complaint(session, delivery, **kw)
            if stored:
                deliverability.after_signal(session, delivery.campaign_id)
        case "email.opened":
            stored = events.record_provider_event(
                session, delivery, EventType.OPENED, detail="resend", **kw
            )
        case "email.clicked":
            stored = events.record_provider_event(
                session, delivery, EventType.CLICKED, detail=event.click_link, **kw
            )
        case _:
            return "ignored"
    return "stored" if stored else "duplicate"


# Twilio -----------------------------------------------------------------------------------


def twilio_public_url(path: str, query: str = "") -> str:
    """The URL Twilio called, as it signed it (the public base, not the proxy's Host)."""
    return get_settings().api_base_url + path + (f"?{query}" if query else "")


def status_callback_url() -> str:
    """What the SMS sender passes as StatusCallback so delivery reports reach us."""
    return twilio_public_url(TWILIO_STATUS_PATH)


def parse_form(body: bytes) -> dict[str, str]:
    """A urlencoded form as a dict; repeated or too many fields and bad UTF-8 are refused."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise WebhookError(400, "malformed form body") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise WebhookError(400, "repeated form field")
    if not all(storable(name) and storable(value) for name, value in pairs):
        raise WebhookError(400, "malformed form body")
    return form


def verify_twilio(url: str, form: Mapping[str, str], signature: str, auth_token: str) -> None:
    if not auth_token:  # not set up here: no endpoint to call
        raise WebhookError(404, "Twilio webhooks are not set up here (no auth token)")
    if not signature or len(signature) > 200:
        raise WebhookError(401, "missing or malformed X-Twilio-Signature")
    if not RequestValidator(auth_token).validate(url, dict(form), signature):
        raise WebhookError(401, "invalid signature")


def apply_twilio_status(session: Session, form: Mapping[str, str]) -> str:
    """delivered / undelivered / failed -> delivery status and an event, once per (sid, status).

    A number that does not exist (TWILIO_BAD_NUMBER_CODES) is a hard bounce, like an email's.
    """
    sid = form.get("MessageSid", "")
    status = form.get("MessageStatus", "").lower()
    if not sid or len(sid) > 64 or not status or len(status) > 32:
        raise WebhookError(400, "MessageSid and MessageStatus are required")
    if status not in ("delivered", "undelivered", "failed"):
        return "ignored"
    delivery = events.delivery_by_provider_id(session, sid, Channel.SMS.value)
    if delivery is None:
        return "unmatched"
    event_id = f"twilio:{sid}:{status}"
    if status == "delivered":
        stored = events.mark_delivered(session, delivery, provider_event_id=event_id)
    else:
        code = form.get("ErrorCode", "")[:12]
        reason = f"{status}" + (f" (Twilio error {code})" if code.isdigit() else "")
        if code in TWILIO_BAD_NUMBER_CODES:
            stored = events.apply_bounce(
                session, delivery, hard=True, reason=reason, provider_event_id=event_id
            )
            if stored:
                deliverability.after_signal(session, delivery.campaign_id)
        else:
            stored = events.mark_failed(session, delivery, reason, provider_event_id=event_id)
    return "stored" if stored else "duplicate"


def keyword_of(body: str) -> str:
    """The opt-out/opt-in/help keyword a reply is, or "" (Twilio's exact-match rule)."""
    word = " ".join(body.split()).upper()
    if word in STOP_KEYWORDS:
        return "stop"
    if word in START_KEYWORDS:
        return "start"
    if word in HELP_KEYWORDS:
        return "help"
    return ""


def _e164(sender: str) -> str | None:
    try:
        return normalize_phone(sender, get_settings().default_region)
    except ValueError:
        return None


def apply_twilio_inbound(session: Session, form: Mapping[str, str]) -> str:
    """Act on an inbound SMS; returns the reply text for TwiML ("" for no reply)."""
    sender = form.get("From", "")
    if not sender or len(sender) > 32:
        raise WebhookError(400, "From is required")
    body = form.get("Body", "")
    sid = form.get("MessageSid", "")[:64] or None
    business = business_identity(session).business_name
    keyword = keyword_of(body)
    e164 = _e164(sender)
    if not keyword and e164 and signup.is_join_keyword(session, body):
        return signup.text_to_join(
            session, e164, sid or "", may_message=signup_limiter().may_message
        )
    if keyword == "start" and e164 and " ".join(body.split()).upper() == "YES":
        outcome = signup.confirm_sms_yes(session, e164, sid or "")
        if outcome is not None:
            return signup.sms_reply(session, outcome)
    match keyword:
        case "stop":
            if e164:
                signup.cancel_sms_request(session, e164)
            events.sms_opt_out(
                session,
                sender,
                keyword=" ".join(body.split()).upper(),
                provider_event_id=f"twilio-in:{sid}" if sid else None,
            )
            return f"{business}: you are unsubscribed from our texts. Reply START to resubscribe."
        case "start":
            events.sms_opt_in(session, sender, keyword=" ".join(body.split()).upper())
            return f"{business}: you are subscribed again. Reply STOP to opt out."
        case "help":
            return f"{business}: offers by text. Msg&data rates may apply. Reply STOP to opt out."
        case _:
            return ""


def twiml(reply: str) -> str:
    """A TwiML <Response>, with one <Message> when there is something to say."""
    inner = f"<Message>{escape(reply)}</Message>" if reply else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
