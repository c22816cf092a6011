"""All tables. Datetimes are timezone-aware UTC; PII columns hold ciphertext only."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from marketing_ui.core.clock import utcnow
from marketing_ui.core.statuses import (  # noqa: F401  (column types)
    CampaignStatus,
    DeliveryStatus,
    FailureKind,
    WaitReason,
)


def new_uid() -> str:
    return uuid.uuid4().hex


def _ts(nullable: bool = False, index: bool = False, default: bool = True):
    """A timezone-aware timestamp column (each call builds its own Column)."""
    return Field(
        default_factory=utcnow if default and not nullable else (lambda: None),
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class CampaignChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    BOTH = "both"


class PauseReason(StrEnum):
    """Why the deliverability guard paused a campaign ("" on Campaign: it did not)."""

    COMPLAINTS = "complaints"  # spam complaints passed their limit
    HARD_BOUNCES = "hard_bounces"  # hard bounces (email) or non-existent numbers (SMS)


class SuppressionReason(StrEnum):
    """Why an address is suppressed; the provider's own words, if any, are in `detail`."""

    BOUNCE = "bounce"  # accepted, then bounced hard (email) or the number does not exist (SMS)
    COMPLAINT = "complaint"  # the recipient marked a message as spam
    STOP = "stop"  # the recipient texted STOP (lifted only by their START)
    INVALID = "invalid"  # the provider refused the address when sending


class CouponStatus(StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    CANCELLED = "cancelled"


class ImportStatus(StrEnum):
    UPLOADED = "uploaded"  # file stored and checked, the owner is choosing the mapping
    QUEUED = "queued"  # started; waiting for a worker
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    ABANDONED = "abandoned"  # uploaded but never started: the file was deleted


class InvalidPhone(StrEnum):
    """What an import does with a row whose phone does not parse (the owner's choice)."""

    REJECT_ROW = "reject_row"
    DROP_PHONE = "drop_phone"  # keep the row without the phone (it needs an email), noted


class EventType(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FAILED = "failed"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    REDEEMED = "redeemed"


# Accounts ---------------------------------------------------------------------


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(80), nullable=False, unique=True))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    role: str = Field(default=Role.ADMIN, sa_column=Column(String(16), nullable=False))
    active: bool = True
    created_at: datetime = _ts()
    last_login_at: datetime | None = _ts(nullable=True)


class AuditEntry(SQLModel, table=True):
    """Who changed what, and when: one row per admin write. Never holds a PII value."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_at", "at", "id"),
        Index("ix_audit_object", "object_type", "object_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    actor: str = Field(sa_column=Column(String(80), nullable=False))  # kept if the user goes
    action: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    object_type: str = Field(sa_column=Column(String(24), nullable=False))
    object_id: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    summary: str = Field(default="", sa_column=Column(String(300), nullable=False))


class LoginSession(SQLModel, table=True):
    __tablename__ = "login_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts(index=True)


# Customers and segments ---------------------------------------------------------


class Customer(SQLModel, table=True):
    __table_args__ = (
        Index("ix_customer_name", "last_name", "first_name"),
        Index("ix_customer_created", "created_at", "id"),
        Index("ix_customer_birthday", "birthday_month", "birthday_day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(
        default_factory=new_uid, sa_column=Column(String(32), nullable=False, unique=True)
    )  # row identity bound into the encryption AAD and unsubscribe tokens
    first_name: str = Field(default="", sa_column=Column(String(120), nullable=False))
    last_name: str = Field(default="", sa_column=Column(String(120), nullable=False))
    email_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    phone_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    email_bidx: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )
    phone_bidx: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )
    email_consent: bool = Field(default=False, index=True)
    sms_consent: bool = Field(default=False, index=True)
    phone_region: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    timezone: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    last_activity_at: datetime | None = _ts(nullable=True, index=True)
    # Visits (redemptions and counter check-ins), kept in step by core/visits.py.
    last_visit_at: datetime | None = _ts(nullable=True, index=True)
    visit_count: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    # Birthday: month and day, year optional (29 February allowed; see core/visits.py).
    birthday_month: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    birthday_day: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    birthday_year: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Erased at the customer's request (issue 15): contact data and names removed, the row kept
    # so that analytics stay whole and anonymous.
    erased_at: datetime | None = _ts(nullable=True)


class SkipReason(StrEnum):
    """Why a frozen delivery was not sent (Delivery.skip_reason)."""

    CONSENT = "consent"  # consent withdrawn before its turn
    SUPPRESSED = "suppressed"  # the address is on the suppression list
    FREQUENCY_CAP = "frequency_cap"  # the customer had enough marketing messages this window
    HOLDOUT = "holdout"  # drawn into the campaign's holdout group: never messaged, compared


class VisitSource(StrEnum):
    REDEMPTION = "redemption"  # a coupon redeemed at the counter
    CHECK_IN = "check_in"  # staff found the customer (phone, email or personal QR)


class Visit(SQLModel, table=True):
    """One visit of a customer; a redemption is at most one visit (unique coupon_id)."""

    __table_args__ = (
        Index("ix_visit_customer_at", "customer_id", "at"),
        Index("ix_visit_at", "at"),
        # Only the redemptions' visits: planner statistics of the unique index count every
        # check-in's NULL as one value (SQLite then scans visits per coupon).
        Index(
            "ix_visit_coupon",
            "coupon_id",
            sqlite_where=text("coupon_id IS NOT NULL"),
            postgresql_where=text("coupon_id IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", ondelete="CASCADE")
    at: datetime = _ts()
    source: str = Field(sa_column=Column(String(16), nullable=False))
    coupon_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("coupon.id"), nullable=True, unique=True)
    )
    user_id: int | None = Field(default=None, foreign_key="user.id")
    # The ticket amount staff entered (issue 16), in minor units of `currency`; NULL: none given.
    amount_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, sa_column=Column(String(3), nullable=True))
    created_at: datetime = _ts()


class Tag(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(80), nullable=False, unique=True))
    color: str = Field(default="gray", sa_column=Column(String(20), nullable=False))
    created_at: datetime = _ts()


class CustomerTag(SQLModel, table=True):
    __tablename__ = "customer_tag"
    __table_args__ = (Index("ix_customer_tag_tag", "tag_id", "customer_id"),)
    customer_id: int = Field(foreign_key="customer.id", primary_key=True, ondelete="CASCADE")
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, ondelete="CASCADE")


class ConsentEvent(SQLModel, table=True):
    __tablename__ = "consent_event"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    granted: bool
    source: str = Field(
        sa_column=Column(String(32), nullable=False)
    )  # import, manual, unsubscribe_link, stop, ...
    note: str = Field(default="", sa_column=Column(String(255), nullable=False))
    created_at: datetime = _ts(index=True)
    # Proof of consent (issue 15). `source` above says how (signup_form, text_to_join,
    # confirm_link, sms_yes, preferences, import, manual, unsubscribe_link, stop, ...);
    # `origin` says where a signup came from (the `src` of /join: "table-tent", "website");
    # `proof_hash` is an HMAC of the client IP and user agent (never the values themselves);
    # `wording_version` names the consent text the customer was shown (core/signup.py).
    origin: str = Field(default="", sa_column=Column(String(64), nullable=False, server_default=""))
    proof_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    wording_version: str = Field(
        default="", sa_column=Column(String(32), nullable=False, server_default="")
    )


class SignupRequest(SQLModel, table=True):
    """A signup waiting for its confirmation (email link or SMS YES): one per channel and address.

    Nothing is subscribed until confirmed (core/signup.py). The address is encrypted (AAD bound
    to this row's uid) and found by its blind index; a second signup of the same address
    updates this row (the UNIQUE makes concurrent signups one row). Rows are purged after
    they expire, confirmed or not: the customer then holds the address.
    """

    __tablename__ = "signup_request"
    __table_args__ = (
        UniqueConstraint("channel", "value_bidx", name="uq_signup_request_value"),
        Index("ix_signup_request_expires", "expires_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(
        default_factory=new_uid, sa_column=Column(String(32), nullable=False, unique=True)
    )
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    value_bidx: str = Field(sa_column=Column(String(64), nullable=False))
    value_enc: str = Field(sa_column=Column(Text, nullable=False))
    # The blind index of the other channel's address given in the same form: the confirmed
    # address joins that customer rather than making a second one.
    partner_bidx: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    first_name: str = Field(default="", sa_column=Column(String(120), nullable=False))
    birthday_month: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    birthday_day: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    birthday_year: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    origin: str = Field(default="", sa_column=Column(String(64), nullable=False))
    wording_version: str = Field(default="", sa_column=Column(String(32), nullable=False))
    proof_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    requested_at: datetime = _ts()
    expires_at: datetime = _ts()
    confirmed_at: datetime | None = _ts(nullable=True)


class Suppression(SQLModel, table=True):
    """Addresses that must never be messaged again (hard bounce, complaint, STOP, invalid).

    Only the blind index is kept: the address itself lives (encrypted) on the customer, so
    deleting a customer erases it while the suppression still holds.
    """

    __table_args__ = (
        UniqueConstraint("channel", "value_bidx", name="uq_suppression_value"),
        Index("ix_suppression_created", "created_at", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    value_bidx: str = Field(sa_column=Column(String(64), nullable=False))
    reason: str = Field(sa_column=Column(String(255), nullable=False))  # a SuppressionReason
    detail: str = Field(
        default="", sa_column=Column(String(255), nullable=False, server_default="")
    )  # the provider's words (bounce type, refusal), never the address
    created_at: datetime = _ts()


class SuppressionLift(SQLModel, table=True):
    """A suppression an admin lifted: who, when, why, and what it was (the history of lifts)."""

    __tablename__ = "suppression_lift"
    __table_args__ = (Index("ix_suppression_lift_value", "channel", "value_bidx"),)
    id: int | None = Field(default=None, primary_key=True)
    suppression_id: int  # the deleted row's id, as the audit log names it
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    value_bidx: str = Field(sa_column=Column(String(64), nullable=False))
    reason: str = Field(sa_column=Column(String(255), nullable=False))
    detail: str = Field(default="", sa_column=Column(String(255), nullable=False))
    suppressed_at: datetime = _ts()
    lifted_at: datetime = _ts(index=True)
    lifted_by_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    lifted_by: str = Field(sa_column=Column(String(80), nullable=False))  # kept if the user goes
    note: str = Field(sa_column=Column(String(255), nullable=False))  # the admin's reason


class Segment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    rules_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


def _count() -> int:
    """A counter column that existing rows get as 0 when a migration adds it."""
    return Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class ImportJob(SQLModel, table=True):
    """One uploaded file and its import: the history the Import page lists, and the job's state."""

    __tablename__ = "import_job"
    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(sa_column=Column(String(255), nullable=False))
    # The uploaded file (plaintext PII): NULL once deleted, when the import ends or is abandoned.
    stored_path: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    mode: str = Field(default="add_only", sa_column=Column(String(16), nullable=False))
    mapping_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    tags_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    phone_region: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    invalid_phone: str = Field(
        default=InvalidPhone.REJECT_ROW,
        sa_column=Column(String(16), nullable=False, server_default=InvalidPhone.REJECT_ROW.value),
    )
    status: str = Field(default=ImportStatus.QUEUED, sa_column=Column(String(16), nullable=False))
    rows_total: int = 0
    rows_done: int = 0
    created_count: int = 0
    updated_count: int = 0
    unchanged_count: int = _count()
    skipped_count: int = _count()
    phones_dropped_count: int = _count()
    error_count: int = 0
    report_path: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()
    started_at: datetime | None = _ts(nullable=True)
    progress_at: datetime | None = _ts(nullable=True)  # the worker's last write: a stall shows
    finished_at: datetime | None = _ts(nullable=True)


# Settings and assets -------------------------------------------------------------


class AppSetting(SQLModel, table=True):
    """Editable settings (business identity, provider rates) as JSON values by key."""

    __tablename__ = "app_setting"
    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value_json: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _ts()


class Asset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    content_type: str = Field(sa_column=Column(String(64), nullable=False))
    size_bytes: int
    created_at: datetime = _ts()


# Campaigns and sending ----------------------------------------------------------------


class Campaign(SQLModel, table=True):
    __table_args__ = (Index("ix_campaign_status_created", "status", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    channel: str = Field(default=CampaignChannel.EMAIL, sa_column=Column(String(8), nullable=False))
    subject: str = Field(default="", sa_column=Column(String(255), nullable=False))
    preheader: str = Field(default="", sa_column=Column(String(255), nullable=False))
    from_name: str = Field(default="", sa_column=Column(String(120), nullable=False))
    from_email: str = Field(default="", sa_column=Column(String(255), nullable=False))
    template_name: str = Field(default="blank", sa_column=Column(String(64), nullable=False))
    mjml_body: str = Field(default="", sa_column=Column(Text, nullable=False))
    sms_body: str = Field(default="", sa_column=Column(Text, nullable=False))
    has_qr_code: bool = False
    offer_text: str = Field(default="", sa_column=Column(String(255), nullable=False))
    offer_expires_at: datetime | None = _ts(nullable=True)
    track_opens_clicks: bool = True
    status: str = Field(default=CampaignStatus.DRAFT, sa_column=Column(String(16), nullable=False))
    version: int = 1  # bumped on every edit; the render cache keys on it
    audience_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    scheduled_at: datetime | None = _ts(nullable=True, index=True)
    sent_at: datetime | None = _ts(nullable=True)  # when sending started ("sent date")
    finished_at: datetime | None = _ts(nullable=True)
    failure_reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    failure_kind: str = Field(  # a FailureKind: what failure_reason is about
        default="", sa_column=Column(String(16), nullable=False, server_default="")
    )
    # Set by the deliverability guard when it pauses the campaign (a PauseReason; "" when the
    # owner paused it): what passed which limit, on which channel, out of how many messages.
    auto_pause_reason: str = Field(
        default="", sa_column=Column(String(16), nullable=False, server_default="")
    )
    auto_pause_channel: str = Field(
        default="", sa_column=Column(String(8), nullable=False, server_default="")
    )
    auto_pause_count: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    auto_pause_sample: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    auto_pause_limit_pct: float = Field(
        default=0.0, sa_column=Column(Float, nullable=False, server_default="0")
    )
    # The guard judges messages sent from this moment on (its last automatic pause; NULL: all).
    guard_since: datetime | None = _ts(nullable=True)
    archived: bool = False
    # Set on an automation's message template and on the batches it sends (NULL: a campaign).
    # No FOREIGN KEY: adding one would make SQLite rebuild this much-referenced table.
    automation_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, nullable=True, index=True),
    )
    # Second chance: resend after N hours to recipients who neither opened nor clicked.
    second_chance_hours: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    second_chance_subject: str = Field(
        default="", sa_column=Column(String(255), nullable=False, server_default="")
    )
    # Holdout (issue 16): the share of the audience drawn at the freeze and never messaged
    # (0-50 %), and the days after the send over which analytics compares the two groups.
    holdout_percent: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    lift_window_days: int = Field(
        default=14, sa_column=Column(Integer, nullable=False, server_default="14")
    )
    # A/B test (core/ab_tests.py): the share of the audience sent the variants first (0: no test),
    # what decides the winner, after how long; ab_phase is an AbPhase ("" when there is no test).
    ab_test_percent: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    ab_metric: str = Field(
        default="clicks", sa_column=Column(String(16), nullable=False, server_default="clicks")
    )
    ab_window_hours: int = Field(
        default=24, sa_column=Column(Integer, nullable=False, server_default="24")
    )
    ab_phase: str = Field(
        default="", sa_column=Column(String(16), nullable=False, server_default="")
    )
    # No FOREIGN KEY (campaign_variant already points here; SQLite would rebuild this table).
    ab_winner_variant_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    ab_decided_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AbPhase(StrEnum):
    """Where a campaign's A/B test is (Campaign.ab_phase)."""

    NONE = ""  # no test
    TESTING = "testing"  # the test share went out; the rest waits for the winner
    DECIDED = "decided"  # the winner went (or goes) to the rest


class AbMetric(StrEnum):
    """What decides an A/B test: unique human clickers or redemptions, per delivered message."""

    CLICKS = "clicks"
    REDEMPTIONS = "redemptions"


class CampaignVariant(SQLModel, table=True):
    """One version (A-D) of a campaign's subject, preheader, body and offer in an A/B test.

    A holds the campaign's own content (copied when the test is set up and kept in step on save).
    """

    __tablename__ = "campaign_variant"
    __table_args__ = (UniqueConstraint("campaign_id", "label", name="uq_campaign_variant_label"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaign.id", ondelete="CASCADE"), nullable=False)
    )
    label: str = Field(sa_column=Column(String(1), nullable=False))
    subject: str = Field(default="", sa_column=Column(String(255), nullable=False))
    preheader: str = Field(default="", sa_column=Column(String(255), nullable=False))
    mjml_body: str = Field(default="", sa_column=Column(Text, nullable=False))
    sms_body: str = Field(default="", sa_column=Column(Text, nullable=False))
    offer_text: str = Field(default="", sa_column=Column(String(255), nullable=False))
    created_at: datetime = _ts()


class AutomationKind(StrEnum):
    WELCOME = "welcome"
    BIRTHDAY = "birthday"
    WINBACK = "winback"
    THANK_YOU = "thank_you"
    SECOND_CHANCE = "second_chance"


class Automation(SQLModel, table=True):
    """A pre-built automation; its message is a template campaign (Campaign.automation_id)."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    enabled: bool = False
    channel: str = Field(default=CampaignChannel.EMAIL, sa_column=Column(String(8), nullable=False))
    template_campaign_id: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True)
    )  # no FK: campaign.automation_id already points here
    delay_hours: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    days_before: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    inactive_days: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    period_days: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    include_imports: bool = False  # welcome: also for consent gained by import
    offer_valid_days: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )  # > 0: a batch's coupons expire this many days after it is sent; 0: no coupon
    enabled_at: datetime | None = _ts(nullable=True)  # triggers before this never fire
    last_run_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AutomationOccurrence(SQLModel, table=True):
    """(automation, customer, occurrence) happens once: the UNIQUE makes re-runs harmless.

    `occurrence` names the trigger: the consent event for welcome, the birthday's year,
    the win-back period, the visit for thank-you, the original campaign for second chance.
    """

    __tablename__ = "automation_occurrence"
    __table_args__ = (
        UniqueConstraint(
            "automation_id", "customer_id", "occurrence", name="uq_automation_occurrence"
        ),
        Index("ix_automation_occurrence_batch", "campaign_id"),
        Index("ix_automation_occurrence_created", "automation_id", "created_at"),
        Index("ix_automation_occurrence_recent", "automation_id", "customer_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    automation_id: int = Field(foreign_key="automation.id")
    customer_id: int = Field(foreign_key="customer.id", ondelete="CASCADE")
    occurrence: str = Field(sa_column=Column(String(64), nullable=False))
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")  # the batch
    created_at: datetime = _ts()


# Provider message ids of the development outbox start with this; the outbox never reports
# delivery, so analytics leaves such messages out of the delivered rate.
OUTBOX_PROVIDER_ID_PREFIX = "outbox-"


class Delivery(SQLModel, table=True):
    """One message to one customer on one channel; the unique key makes double sends impossible."""

    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id", "channel", name="uq_delivery_recipient"),
        Index("ix_delivery_campaign_status", "campaign_id", "status"),
        Index("ix_delivery_status_lease", "status", "lease_until"),
        Index("ix_delivery_customer", "customer_id"),
        Index("ix_delivery_send_key", "send_key"),
    )
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    campaign_id: int = Field(foreign_key="campaign.id")
    customer_id: int = Field(foreign_key="customer.id")
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    status: str = Field(
        default=DeliveryStatus.PENDING, sa_column=Column(String(16), nullable=False)
    )
    attempts: int = 0
    provider_message_id: str | None = Field(
        default=None, sa_column=Column(String(128), nullable=True, index=True)
    )
    error: str = Field(default="", sa_column=Column(Text, nullable=False))
    # The provider request this delivery joined (email batch); a retry replays the same group
    # with the same idempotency key, so an accepted-but-unrecorded batch is never sent twice.
    send_key: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    lease_until: datetime | None = _ts(nullable=True)
    # The worker process holding the claim (its Redis heartbeat); gone heartbeat -> taken over.
    lease_holder: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # A WaitReason: why it is pending now (kept while in flight, cleared when done). `error`
    # is only the human-readable last reason.
    # Why a delivery was skipped rather than sent (a SkipReason; "" when it was not skipped).
    skip_reason: str = Field(
        default="", sa_column=Column(String(16), nullable=False, server_default="")
    )
    wait_reason: str = Field(
        default="", sa_column=Column(String(24), nullable=False, server_default="")
    )
    # First moment the provider's answer was unknown (timeout, worker lost); retries reuse the
    # idempotency key / look the SMS up, and give up before Resend forgets the key (24 h).
    unknown_since: datetime | None = _ts(nullable=True)
    next_attempt_at: datetime | None = _ts(nullable=True)
    sent_at: datetime | None = _ts(nullable=True)
    # SMS segments the provider accepted (what it bills); NULL for email and before sending.
    segments: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # The A/B test variant this recipient gets (campaign_variant.id; NULL: the campaign itself).
    # No FOREIGN KEY: adding one would make SQLite rebuild this, the biggest table.
    variant_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Coupon(SQLModel, table=True):
    """A per-delivery QR coupon. Only hashes (and an encrypted copy for rendering) are stored."""

    __table_args__ = (Index("ix_coupon_campaign_status", "campaign_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id")
    delivery_id: int = Field(foreign_key="delivery.id", sa_column_kwargs={"unique": True})
    customer_id: int = Field(foreign_key="customer.id", index=True)
    uid: str = Field(
        default_factory=new_uid, sa_column=Column(String(32), nullable=False, unique=True)
    )
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    short_code_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # AES-GCM of "<token> <short code>" (one cipher operation per coupon), AAD = coupon uid.
    secret_enc: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=CouponStatus.ISSUED, sa_column=Column(String(16), nullable=False))
    expires_at: datetime | None = _ts(nullable=True)
    redeemed_at: datetime | None = _ts(nullable=True)
    redeemed_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()


class Redemption(SQLModel, table=True):
    """The audit trail of redeem and undo actions on coupons."""

    id: int | None = Field(default=None, primary_key=True)
    coupon_id: int = Field(foreign_key="coupon.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(sa_column=Column(String(8), nullable=False))  # redeem | undo
    note: str = Field(default="", sa_column=Column(String(255), nullable=False))
    # The ticket amount staff entered (issue 16), in minor units of `currency`; NULL: none given.
    amount_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, sa_column=Column(String(3), nullable=True))
    created_at: datetime = _ts()


class Event(SQLModel, table=True):
    """Everything that happened to a delivery; provider events are stored once by their id."""

    __table_args__ = (
        Index("ix_event_campaign_type_time", "campaign_id", "type", "created_at"),
        Index("ix_event_type_time", "type", "created_at"),
        Index("ix_event_delivery", "delivery_id"),
        # Ids never reused on SQLite (an undone redemption deletes the newest row), so the
        # analytics watermark on Event.id never skips a row.
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id")
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    channel: str = Field(default="email", sa_column=Column(String(8), nullable=False))
    type: str = Field(sa_column=Column(String(16), nullable=False))
    provider_event_id: str | None = Field(
        default=None, sa_column=Column(String(128), nullable=True, unique=True)
    )
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))  # url, bounce reason…
    # An open or click made by a proxy or scanner, not a person (core/engagement.py), and why.
    machine: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    machine_reason: str = Field(
        default="", sa_column=Column(String(16), nullable=False, server_default="")
    )
    created_at: datetime = _ts()


class CampaignStatHourly(SQLModel, table=True):
    """Event counts per campaign, channel, type and UTC hour, folded in by core.analytics."""

    __tablename__ = "campaign_stat_hourly"
    __table_args__ = (Index("ix_campaign_stat_hourly_type_hour", "type", "hour"),)
    campaign_id: int = Field(primary_key=True)
    channel: str = Field(sa_column=Column(String(8), primary_key=True))
    type: str = Field(sa_column=Column(String(16), primary_key=True))
    hour: int = Field(sa_column=Column(BigInteger, primary_key=True))  # hours since 1970 UTC
    total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    uniq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class DeliveryFirstEvent(SQLModel, table=True):
    """The hour of each delivery's first event of a type: makes unique counts additive."""

    __tablename__ = "delivery_first_event"
    delivery_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    type: str = Field(sa_column=Column(String(16), primary_key=True))
    campaign_id: int
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    hour: int = Field(sa_column=Column(BigInteger, nullable=False))


class CampaignTally(SQLModel, table=True):
    """Per-campaign delivery and coupon counts by status, recomputed for campaigns that changed."""

    __tablename__ = "campaign_tally"
    campaign_id: int = Field(primary_key=True)
    channel: str = Field(sa_column=Column(String(8), primary_key=True))
    metric: str = Field(sa_column=Column(String(32), primary_key=True))  # delivery:sent, coupon:…
    n: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class AnalyticsWatermark(SQLModel, table=True):
    """How far core.analytics has folded a source table (by id), and the id it waits to settle."""

    __tablename__ = "analytics_watermark"
    name: str = Field(sa_column=Column(String(32), primary_key=True))
    last_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    pending_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    pending_at: datetime | None = _ts(nullable=True)
    refreshed_at: datetime | None = _ts(nullable=True)


class OutboxMessage(SQLModel, table=True):
    """What the development outbox provider 'sent'; recipient encrypted like every address."""

    __tablename__ = "outbox_message"
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(
        default_factory=new_uid, sa_column=Column(String(32), nullable=False, unique=True)
    )
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", index=True)
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(128), nullable=True, unique=True)
    )
    channel: str = Field(sa_column=Column(String(8), nullable=False))
    to_enc: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(default="", sa_column=Column(String(255), nullable=False))
    html: str = Field(default="", sa_column=Column(Text, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    headers_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    is_test: bool = False
    created_at: datetime = _ts(index=True)
