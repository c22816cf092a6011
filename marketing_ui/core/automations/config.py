"""The owner's settings of each automation: defaults, validation, switching on and off.

Each visible automation's message is a template campaign (a draft with `automation_id` set)
created here with restaurant defaults and edited in the campaign editor. Second chance is a
campaign option (`Campaign.second_chance_hours`); its automation row only owns the occurrences
the engine records, so it is created switched on and never listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.automations import engine
from marketing_ui.core.campaigns import check_content
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.db import insert_ignore
from marketing_ui.core.models import Automation, AutomationKind, Campaign, CampaignChannel
from marketing_ui.core.rendering import TemplateError, load_template
from marketing_ui.core.sms import STOP_NOTICE

VISIBLE_KINDS = (
    AutomationKind.WELCOME,
    AutomationKind.BIRTHDAY,
    AutomationKind.WINBACK,
    AutomationKind.THANK_YOU,
)

# How each form field is named on the page; error messages use the same words.
LABELS = {
    "channel": "Channel",
    "delay_hours": "Delay (hours)",
    "days_before": "Days before the birthday",
    "inactive_days": "Days without a visit",
    "period_days": "At most once every (days)",
    "offer_valid_days": "Offer valid for (days)",
    "include_imports": "Also welcome imported customers",
}

# Which settings each automation has (besides the channel), in the order the page shows them.
SETTINGS: dict[str, tuple[str, ...]] = {
    AutomationKind.WELCOME: ("delay_hours", "include_imports", "offer_valid_days"),
    AutomationKind.BIRTHDAY: ("days_before", "offer_valid_days"),
    AutomationKind.WINBACK: ("inactive_days", "period_days", "offer_valid_days"),
    AutomationKind.THANK_YOU: ("delay_hours", "period_days", "offer_valid_days"),
    AutomationKind.SECOND_CHANCE: (),
}

# (lowest, highest) of each whole-number setting.
BOUNDS = {
    "delay_hours": (1, 720),
    "days_before": (0, 60),
    "inactive_days": (1, 3650),
    "period_days": (1, 3650),
    "offer_valid_days": (0, 365),
}


@dataclass(frozen=True)
class Blueprint:
    """What a fresh installation starts with for one automation (all switched off)."""

    name: str
    description: str
    subject: str
    preheader: str
    text: str  # the email's paragraph in the blank template
    sms: str
    params: Mapping[str, int | bool]
    offer_text: str = ""


BLUEPRINTS: dict[str, Blueprint] = {
    AutomationKind.WELCOME: Blueprint(
        name="Welcome",
        description="Greets a customer soon after they agree to hear from you.",
        subject='Welcome to {{ business_name }}, {{ first_name | default("friend") }}!',
        preheader="We're glad you're here.",
        text="Thank you for joining us. We look forward to seeing you at our table soon.",
        sms="Welcome to {{ business_name }}! We look forward to seeing you soon.",
        params={"delay_hours": 1, "include_imports": False},
    ),
    AutomationKind.BIRTHDAY: Blueprint(
        name="Birthday",
        description="A birthday treat, sent some days before the customer's birthday.",
        subject='Happy birthday, {{ first_name | default("friend") }}! A treat from us',
        preheader="{{ offer_text }}",
        text="Happy birthday from all of us! Celebrate with us: show the coupon below at the "
        "counter.",
        sms="Happy birthday from {{ business_name }}! Your treat: {{ offer_text }}. "
        "Code {{ coupon_code }}",
        params={"days_before": 7, "offer_valid_days": 14},
        offer_text="A free dessert for your birthday",
    ),
    AutomationKind.WINBACK: Blueprint(
        name="Win-back",
        description="Invites back customers who have not visited for a while.",
        subject='We miss you, {{ first_name | default("friend") }}',
        preheader="It has been a while. Come and see what's new.",
        text="It has been a while since your last visit. Our kitchen has new dishes we would "
        "love you to try.",
        sms="We miss you at {{ business_name }}! Come and see what's new on our menu.",
        params={"inactive_days": 45, "period_days": 90, "offer_valid_days": 0},
    ),
    AutomationKind.THANK_YOU: Blueprint(
        name="Thank-you",
        description="Thanks a customer a few hours after a visit.",
        subject="Thank you for visiting {{ business_name }}",
        preheader="It was a pleasure to have you.",
        text="Thank you for your visit today. We hope you enjoyed it and see you again soon.",
        sms="Thank you for visiting {{ business_name }}! See you again soon.",
        params={"delay_hours": 3, "period_days": 30},
    ),
}

KIND_NAMES = {kind: bp.name for kind, bp in BLUEPRINTS.items()} | {
    AutomationKind.SECOND_CHANCE: "Second chance"
}


class AutomationError(ValueError):
    """A setting the owner must fix; `field` names the form field ("" when none)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AutomationView:
    """One automation as the pages show it."""

    id: int
    kind: str
    name: str
    description: str
    enabled: bool
    channel: str
    template_campaign_id: int | None
    delay_hours: int
    days_before: int
    inactive_days: int
    period_days: int
    include_imports: bool
    offer_valid_days: int
    enabled_at: datetime | None
    settings: tuple[str, ...]

    @property
    def key_parameter(self) -> str:
        """The one setting a card shows, in words."""
        if self.kind == AutomationKind.WELCOME:
            return f"{self.delay_hours} h after sign-up"
        if self.kind == AutomationKind.BIRTHDAY:
            return f"{self.days_before} days before the birthday"
        if self.kind == AutomationKind.WINBACK:
            return f"after {self.inactive_days} days without a visit"
        if self.kind == AutomationKind.THANK_YOU:
            return f"{self.delay_hours} h after a visit"
        return ""


def _view(row: Automation) -> AutomationView:
    blueprint = BLUEPRINTS.get(row.kind)
    return AutomationView(
        id=int(row.id or 0),
        kind=row.kind,
        name=KIND_NAMES.get(row.kind, row.kind),
        description=blueprint.description if blueprint else "",
        enabled=row.enabled,
        channel=row.channel,
        template_campaign_id=row.template_campaign_id,
        delay_hours=row.delay_hours,
        days_before=row.days_before,
        inactive_days=row.inactive_days,
        period_days=row.period_days,
        include_imports=row.include_imports,
        offer_valid_days=row.offer_valid_days,
        enabled_at=as_utc(row.enabled_at),
        settings=SETTINGS.get(row.kind, ()),
    )


# Defaults --------------------------------------------------------------------------------


def _blank_with(text: str) -> str:
    """The library's blank email with the automation's paragraph in place of the placeholder."""
    return load_template("blank").replace("Write your message here.", text)


def _template_campaign(session: Session, automation: Automation, bp: Blueprint) -> Campaign:
    identity = business_identity(session)
    campaign = Campaign(
        name=f"Automation: {bp.name}",
        channel=CampaignChannel.EMAIL,
        template_name="blank",
        mjml_body=_blank_with(bp.text),
        subject=bp.subject,
        preheader=bp.preheader,
        sms_body=f"{bp.sms} {STOP_NOTICE}",
        from_name=identity.sender_name,
        from_email=identity.sender_email,
        automation_id=automation.id,
    )
    if bp.offer_text:
        campaign.has_qr_code = True
        campaign.offer_text = bp.offer_text
        # The engine sets each batch's expiry from offer_valid_days; this one is for previews.
        days = int(bp.params.get("offer_valid_days", 14)) or 14
        campaign.offer_expires_at = datetime.now(UTC) + timedelta(days=days)
    return campaign


def ensure_defaults(session: Session) -> None:
    """Create the automations (switched off) and their template messages when missing. Commits.

    Safe to run from several processes at once: the rows are inserted-or-ignored by kind, and a
    template is attached only while the automation still has none.
    """
    now = utcnow()
    rows = [
        {
            "kind": str(kind),
            "enabled": False,
            "channel": CampaignChannel.EMAIL.value,
            "include_imports": False,
            **{k: v for k, v in bp.params.items()},
            "created_at": now,
            "updated_at": now,
        }
        for kind, bp in BLUEPRINTS.items()
    ]
    rows.append(
        {
            "kind": AutomationKind.SECOND_CHANCE.value,
            "enabled": True,
            "channel": CampaignChannel.EMAIL.value,
            "include_imports": False,
            "enabled_at": now,
            "created_at": now,
            "updated_at": now,
        }
    )
    table = Automation.__table__  # type: ignore[attr-defined]
    for row in rows:
        session.execute(insert_ignore(session, table).values(**row))
    session.flush()
    missing = session.execute(
        select(Automation).where(
            Automation.template_campaign_id.is_(None),
            Automation.kind.in_([str(k) for k in BLUEPRINTS]),
        )
    ).scalars()
    for automation in list(missing):
        campaign = _template_campaign(session, automation, BLUEPRINTS[automation.kind])
        session.add(campaign)
        session.flush()
        automation.template_campaign_id = campaign.id
        session.add(automation)
        audit.record(
            session,
            "automation.create",
            "automation",
            automation.id,
            f"{KIND_NAMES[automation.kind]} with message campaign #{campaign.id}",
        )
    session.commit()


# Reading ---------------------------------------------------------------------------------


def _row(session: Session, kind: str) -> Automation:
    row = session.execute(select(Automation).where(Automation.kind == kind)).scalar_one_or_none()
    if row is None:
        raise AutomationError(f"There is no {kind!r} automation.")
    return row


def list_automations(session: Session) -> list[AutomationView]:
    """The four automations the owner manages, in the order the page shows them."""
    rows = {
        r.kind: r
        for r in session.execute(
            select(Automation).where(Automation.kind.in_([str(k) for k in VISIBLE_KINDS]))
        ).scalars()
    }
    return [_view(rows[k]) for k in VISIBLE_KINDS if k in rows]


def get(session: Session, kind: str) -> AutomationView:
    return _view(_row(session, kind))


# Writing ---------------------------------------------------------------------------------


def message_problem(session: Session, row: Automation, channel: str) -> str:
    """Why the automation's message cannot go out on `channel` ("" when it can)."""
    campaign = session.get(Campaign, row.template_campaign_id) if row.template_campaign_id else None
    if campaign is None:
        return "Write the message first: this automation has none."
    email = channel in (CampaignChannel.EMAIL, CampaignChannel.BOTH)
    sms = channel in (CampaignChannel.SMS, CampaignChannel.BOTH)
    if email and not (campaign.subject.strip() and campaign.mjml_body.strip()):
        return "Write the message first: the email needs a subject and a body."
    if sms and not campaign.sms_body.strip():
        return "Write the message first: the SMS text is empty."
    try:
        check_content(Campaign(**{**campaign.model_dump(), "channel": channel}))
    except TemplateError as exc:
        return f"Write the message first: it does not render ({exc})."
    return ""


def _whole_number(name: str, raw: object) -> int:
    low, high = BOUNDS[name]
    text = str(raw).strip()
    try:
        value = int(text)
    except ValueError:
        raise AutomationError(f"{LABELS[name]} must be a whole number.", name) from None
    if value < low or value > high:
        raise AutomationError(f"{LABELS[name]} must be between {low} and {high}.", name)
    return value


def _flag(raw: object) -> bool:
    return str(raw).strip().lower() in {"1", "true", "on", "yes"}


def update(session: Session, kind: str, form: Mapping[str, str]) -> AutomationView:
    """Validate and store the settings in `form` (missing fields keep their value). Commits.

    Raises AutomationError naming the first bad field; nothing is stored then.
    """
    row = _row(session, kind)
    allowed = SETTINGS.get(kind, ())
    changes: dict[str, object] = {}
    if "channel" in form:
        channel = str(form["channel"]).strip()
        if channel not in {c.value for c in CampaignChannel}:
            raise AutomationError("Channel must be email, sms or both.", "channel")
        problem = message_problem(session, row, channel)
        if problem:
            raise AutomationError(
                f"Channel: the message has nothing to send by {channel}. {problem}", "channel"
            )
        changes["channel"] = channel
    for name in allowed:
        if name not in form:
            continue
        changes[name] = (
            _flag(form[name]) if name == "include_imports" else _whole_number(name, form[name])
        )
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if changed:
        for key, value in changed.items():
            setattr(row, key, value)
        row.last_run_at = None  # the next run reads everyone under the new settings
        row.updated_at = utcnow()
        session.add(row)
        audit.record(
            session,
            "automation.update",
            "automation",
            row.id,
            f"{KIND_NAMES.get(kind, kind)}: "
            + ", ".join(f"{k}={v}" for k, v in sorted(changed.items())),
        )
    session.commit()
    session.refresh(row)
    return _view(row)


def set_enabled(session: Session, kind: str, enabled: bool) -> AutomationView:
    """Switch an automation on (from now: nothing that happened before fires) or off. Commits."""
    row = _row(session, kind)
    if enabled == row.enabled:
        return _view(row)
    if enabled:
        problem = message_problem(session, row, row.channel)
        if problem:
            raise AutomationError(problem, "enabled")
        row.enabled_at = utcnow()
        row.last_run_at = None  # the first run reads everyone (engine: what a tick reads)
    else:
        engine.stop(session, int(row.id or 0))  # what is not yet sent is cancelled
    row.enabled = enabled
    row.updated_at = utcnow()
    session.add(row)
    audit.record(
        session,
        "automation.enable" if enabled else "automation.disable",
        "automation",
        row.id,
        KIND_NAMES.get(kind, kind),
    )
    session.commit()
    session.refresh(row)
    return _view(row)
