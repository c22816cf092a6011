"""Send-confirm: the audience, exact counts after consent and suppression, duration, send or schedule."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from marketing_ui.core import campaigns, segments, sending, tags
from marketing_ui.core.app_settings import business_identity, sending_limits
from marketing_ui.core.audience import Audience, recipient_counts
from marketing_ui.core.clock import utcnow, zone_or_utc
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.core.sending import holdout
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_id

MAX_CHOICES = 200
CHANNEL_NAMES = {"email": "Email", "sms": "SMS"}


def format_duration(seconds: float) -> str:
    """ "about 3 min 20 s", "under a second", "about 2 h 5 min"."""
    if seconds < 1:
        return "under a second"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"about {hours} h {minutes} min"
    if minutes:
        return f"about {minutes} min {secs} s" if secs else f"about {minutes} min"
    return f"about {secs} s"


def estimate(count: int, rate_per_s: float) -> str:
    """The send time at the provider rate from Settings; 0 means no limit is configured."""
    if count == 0:
        return "nothing to send"
    if rate_per_s <= 0:
        return "unlimited rate (as fast as the provider accepts)"
    return f"{format_duration(count / rate_per_s)} at {rate_per_s:g}/s"


class CampaignSendState(AuthState):
    shown_campaign_id: int = 0
    name: str = ""
    status: str = ""
    channel: str = "email"
    not_found: bool = False
    editable: bool = True
    problems: list[str] = []
    everyone: bool = True
    segments: list[dict[str, str]] = []  # id, name, include ("1"/""), exclude ("1"/"")
    tags: list[dict[str, str]] = []
    counts: list[dict[str, str]] = []  # channel, count, duration
    total: int = 0
    holdout_percent: str = "0"  # "Hold out N% of the audience" (the input's text)
    holdout_error: str = ""
    holdout_note: str = ""  # "About 123 of 1,234 customers will be held out …"
    audience_error: str = ""
    timezone: str = "UTC"
    schedule_date: str = ""
    schedule_time: str = "09:00"
    action_error: str = ""
    confirm_open: bool = False

    @rx.var
    def can_send(self) -> bool:
        return self.editable and not self.problems and self.total > 0 and self.audience_error == ""

    @rx.event
    def load(self):
        self.shown_campaign_id = route_id(self)
        self.action_error = ""
        self.confirm_open = False
        with session_scope() as session:
            campaign = (
                session.get(Campaign, self.shown_campaign_id) if self.shown_campaign_id else None
            )
            self.not_found = campaign is None
            if campaign is None:
                return
            self.name, self.status, self.channel = campaign.name, campaign.status, campaign.channel
            self.holdout_percent, self.holdout_error = str(campaign.holdout_percent), ""
            self.editable = campaign.status in campaigns.EDITABLE_STATUSES
            self.timezone = business_identity(session).timezone
            try:
                audience = Audience.from_json(campaign.audience_json)
            except ValueError:
                audience = Audience()
            segment_choices = segments.choices(session, MAX_CHOICES)
            tag_choices = tags.choices(session, MAX_CHOICES)
            self.problems = campaigns.validate_for_send(session, campaign)
        self.everyone = audience.everyone
        self.segments = [
            {
                "id": str(i),
                "name": n,
                "include": "1" if i in audience.segment_ids else "",
                "exclude": "1" if i in audience.exclude_segment_ids else "",
            }
            for i, n in segment_choices
        ]
        self.tags = [
            {
                "id": str(i),
                "name": n,
                "include": "1" if i in audience.tag_ids else "",
                "exclude": "1" if i in audience.exclude_tag_ids else "",
            }
            for i, n in tag_choices
        ]
        self._count()

    def _audience(self) -> Audience:
        def ids(items: list[dict[str, str]], key: str) -> list[int]:
            return [int(item["id"]) for item in items if item[key]]

        return Audience(
            everyone=self.everyone,
            segment_ids=[] if self.everyone else ids(self.segments, "include"),
            tag_ids=[] if self.everyone else ids(self.tags, "include"),
            exclude_segment_ids=ids(self.segments, "exclude"),
            exclude_tag_ids=ids(self.tags, "exclude"),
        )

    def _count(self) -> None:
        audience = self._audience()
        try:
            with session_scope() as session:
                counts = recipient_counts(session, audience, self.channel)
                held = sending.held_back_counts(session, audience, self.channel, utcnow())
                limits = sending_limits(session)
        except ValueError as exc:
            self.audience_error = str(exc)
            self.counts, self.total = [], 0
            return
        self.audience_error = ""
        rates = {"email": limits.email_ceiling_per_s, "sms": limits.sms_segments_per_s}
        percent = int(self.holdout_percent) if self.holdout_percent.isdigit() else 0
        rows = []
        for channel, count in counts.items():
            eligible = count - held.get(channel, 0)
            out = holdout.expected_held_out(eligible, percent)
            rows.append(
                {
                    "channel": CHANNEL_NAMES.get(channel, channel),
                    "count": f"{eligible - out:,}",
                    "held_back": (
                        f"{held[channel]:,} held back by the frequency cap (Settings)"
                        if held.get(channel)
                        else ""
                    ),
                    "held_out": f"about {out:,} held out ({percent}%)" if out else "",
                    "duration": estimate(eligible - out, rates.get(channel, 0)),
                }
            )
        self.counts = rows
        self.total = sum(counts.values()) - sum(held.values())
        eligible = max((c - held.get(ch, 0) for ch, c in counts.items()), default=0)
        self.holdout_note = (
            f"About {holdout.expected_held_out(eligible, percent):,} customers will be held out "
            f"({percent}%, drawn at random when the send starts): never messaged, and compared "
            "with those messaged on the campaign's analytics page."
            if percent
            else ""
        )

    def _save_and_count(self) -> None:
        self._count()
        if not self.editable or self.audience_error:
            return
        try:
            with session_scope() as session:
                campaign = campaigns.save_audience(
                    session, self.shown_campaign_id, self._audience()
                )
                self.problems = campaigns.validate_for_send(session, campaign)
        except campaigns.CampaignError as exc:
            self.action_error = str(exc)

    def _toggle(self, items: list[dict[str, str]], item_id: str, key: str) -> list[dict[str, str]]:
        other = "exclude" if key == "include" else "include"
        out = []
        for item in items:
            if item["id"] == item_id:
                item = {**item, key: "" if item[key] else "1"}
                if item[key]:
                    item[other] = ""  # one cannot both include and exclude the same group
            out.append(item)
        return out

    @rx.event
    def set_everyone(self, value: bool):
        self.everyone = bool(value)
        self._save_and_count()

    @rx.event
    def toggle_segment(self, item_id: str, key: str):
        self.segments = self._toggle(self.segments, item_id, key)
        self._save_and_count()

    @rx.event
    def toggle_tag(self, item_id: str, key: str):
        self.tags = self._toggle(self.tags, item_id, key)
        self._save_and_count()

    @rx.event
    def set_holdout(self, value: str):
        """Store "hold out N% of the audience" (0-50); refused by name, the old value kept."""
        try:
            with session_scope() as session:
                campaign = campaigns.save_holdout(session, self.shown_campaign_id, value)
        except campaigns.CampaignError as exc:
            self.holdout_error = str(exc)
            return
        self.holdout_percent, self.holdout_error = str(campaign.holdout_percent), ""
        self._count()

    @rx.event
    def set_schedule_date(self, value: str):
        self.schedule_date = value

    @rx.event
    def set_schedule_time(self, value: str):
        self.schedule_time = value

    @rx.event
    def open_confirm(self):
        self.confirm_open = self.can_send

    @rx.event
    def close_confirm(self):
        self.confirm_open = False

    @rx.event
    def send_now(self):
        self.confirm_open = False
        if not self.can_send:
            self.action_error = "Fix the problems listed above first."
            return None
        try:
            with session_scope() as session:
                sending.start_send(session, self.shown_campaign_id)
        except ValueError as exc:  # CampaignError and the pipeline's own refusals
            self.action_error = str(exc)
            return None
        return rx.redirect(f"/campaigns/{self.shown_campaign_id}/progress")

    @rx.event
    def schedule(self):
        if not self.can_send:
            self.action_error = "Fix the problems listed above first."
            return None
        try:
            local = datetime.strptime(
                f"{self.schedule_date} {self.schedule_time}", "%Y-%m-%d %H:%M"
            ).replace(tzinfo=zone_or_utc(self.timezone))
        except ValueError:
            self.action_error = "Choose a date and a time to schedule."
            return None
        when_utc = local.astimezone(UTC)
        if when_utc <= datetime.now(UTC):
            self.action_error = "That time has already passed; choose a later one."
            return None
        try:
            with session_scope() as session:
                sending.schedule_send(session, self.shown_campaign_id, when_utc)
        except ValueError as exc:
            self.action_error = str(exc)
            return None
        return rx.redirect("/campaigns")
