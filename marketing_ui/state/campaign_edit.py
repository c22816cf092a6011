"""Create a campaign from the library, then edit it with a live preview, SMS counter and images."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import reflex as rx

from marketing_ui.core import campaigns, messages
from marketing_ui.core.app_settings import business_identity
from marketing_ui.core.automations.config import KIND_NAMES
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.images import (
    MAX_UPLOAD_BYTES,
    ImageError,
    list_images,
    save_uploaded_image,
    uploads_dir,
)
from marketing_ui.core.models import Campaign
from marketing_ui.core.rendering import FIELDS, list_templates
from marketing_ui.core.time_display import format_date
from marketing_ui.state.access import upload_limit
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_id

CONTENT_FIELDS = (
    "name",
    "channel",
    "subject",
    "preheader",
    "from_name",
    "from_email",
    "mjml_body",
    "sms_body",
    "offer_text",
)


def _preview_of(draft: Campaign) -> messages.PreviewResult:
    """Runs in a worker thread: rendering must never hold up the event loop."""
    with session_scope() as session:
        return messages.preview(session, draft)


def _save(campaign_id: int, changes: dict, version: int) -> Campaign:
    """Runs in a worker thread: saving checks the template, which renders it."""
    with session_scope() as session:
        return campaigns.update_campaign(session, campaign_id, changes, expected_version=version)


class NewCampaignState(AuthState):
    """The "new campaign" page: a name, a channel and a template from the library."""

    templates: list[dict[str, str]] = []
    chosen: str = "monday_special"
    name: str = ""
    channel: str = "email"
    error: str = ""

    @rx.event
    def load(self):
        self.templates = [
            {"name": t.name, "title": t.title, "description": t.description}
            for t in list_templates()
        ]
        self.error = ""
        self.name = ""

    @rx.event
    def choose(self, name: str):
        self.chosen = name

    @rx.event
    def set_name(self, value: str):
        self.name = value

    @rx.event
    def set_channel(self, value: str):
        self.channel = value

    @rx.event
    def create(self):
        try:
            with session_scope() as session:
                campaign = campaigns.create_campaign(session, self.name, self.chosen, self.channel)
        except campaigns.CampaignError as exc:
            self.error = str(exc)
            return None
        return rx.redirect(f"/campaigns/{campaign.id}/edit")


class CampaignEditState(AuthState):
    """The editor; the preview is recomputed from what is typed (debounced in the page)."""

    shown_campaign_id: int = 0
    version: int = 0
    status: str = ""
    editable: bool = True
    not_found: bool = False
    name: str = ""
    channel: str = "email"
    subject: str = ""
    preheader: str = ""
    from_name: str = ""
    from_email: str = ""
    template_name: str = ""
    mjml_body: str = ""
    sms_body: str = ""
    has_qr_code: bool = False
    offer_text: str = ""
    offer_expires: str = ""  # YYYY-MM-DD in the business time zone
    track_opens_clicks: bool = True
    timezone: str = "UTC"
    dirty: bool = False
    # Set when this campaign is an automation's message: it has no send step of its own.
    automation_kind: str = ""
    automation_name: str = ""
    second_chance_on: bool = False
    second_chance_hours: str = ""
    second_chance_subject: str = ""

    preview_html: str = ""
    preview_subject: str = ""
    preview_error: str = ""
    sms_preview: str = ""
    sms_counter: str = ""
    sms_warning: str = ""
    save_message: str = ""
    save_error: str = ""

    insert_target: str = "mjml"
    fields: list[dict[str, str]] = [
        {"name": name, "help": help_text} for name, help_text in FIELDS.items()
    ]
    images: list[dict[str, str]] = []
    image_message: str = ""
    image_error: str = ""

    @rx.var
    def has_email(self) -> bool:
        return self.channel in ("email", "both")

    @rx.var
    def has_sms(self) -> bool:
        return self.channel in ("sms", "both")

    # Loading -------------------------------------------------------------------------

    @rx.event
    async def load(self):
        self.save_message = self.save_error = self.image_message = self.image_error = ""
        campaign_id = route_id(self)
        with session_scope() as session:
            campaign = session.get(Campaign, campaign_id) if campaign_id else None
            self.timezone = business_identity(session).timezone
            kind = campaigns.automation_of_template(session, campaign_id) if campaign else None
        self.automation_kind = kind or ""
        self.automation_name = KIND_NAMES.get(kind, "") if kind else ""
        self.not_found = campaign is None
        if campaign is None:
            return
        self._copy_from(campaign)
        self.images = list_images(get_settings())
        await self._rebuild_preview()

    def _copy_from(self, campaign: Campaign) -> None:
        self.shown_campaign_id = campaign.id
        self.version = campaign.version
        self.status = campaign.status
        self.editable = campaign.status in campaigns.EDITABLE_STATUSES
        for name in CONTENT_FIELDS:
            setattr(self, name, getattr(campaign, name))
        self.template_name = campaign.template_name
        self.has_qr_code = campaign.has_qr_code
        self.track_opens_clicks = campaign.track_opens_clicks
        self.offer_expires = format_date(campaign.offer_expires_at, self.timezone)
        self.second_chance_on = campaign.second_chance_hours is not None
        self.second_chance_hours = str(campaign.second_chance_hours or "")
        self.second_chance_subject = campaign.second_chance_subject
        self.dirty = False

    def _expires_at(self) -> datetime | None:
        """The end of the chosen day in the business's time zone: the offer holds all day."""
        if not self.offer_expires:
            return None
        day = datetime.strptime(self.offer_expires, "%Y-%m-%d").date()
        return campaigns.offer_expiry(day, self.timezone)

    def _draft(self) -> Campaign:
        """What is on screen as an unsaved campaign (id None, so the render cache is bypassed)."""
        values = {name: getattr(self, name) for name in CONTENT_FIELDS}
        try:
            expires = self._expires_at()
        except ValueError:
            expires = None
        return Campaign(
            **values,
            id=None,
            has_qr_code=self.has_qr_code,
            offer_expires_at=expires,
            track_opens_clicks=self.track_opens_clicks,
        )

    async def _rebuild_preview(self) -> None:
        result = await asyncio.to_thread(_preview_of, self._draft())
        self.preview_html = result.html
        self.preview_subject = result.subject
        self.preview_error = "\n".join(result.errors)
        self.sms_preview = result.sms_text
        info = result.sms_info
        if info is None:
            self.sms_counter = ""
            self.sms_warning = ""
        else:
            per = "160/153" if info.encoding == "GSM-7" else "70/67"
            plural = "" if info.segments == 1 else "s"
            self.sms_counter = (
                f"{info.characters} characters · {info.segments} segment{plural} · "
                f"{info.encoding} ({per} per segment)"
            )
            self.sms_warning = (
                "These characters force UCS-2 (70 characters a segment): "
                + " ".join(repr(ch)[1:-1] if ch.isspace() else ch for ch in info.non_gsm)
                if info.non_gsm
                else ""
            )

    # Editing ------------------------------------------------------------------------

    async def _changed(self) -> None:
        self.dirty = True
        self.save_message = ""
        await self._rebuild_preview()

    @rx.event
    def set_name(self, value: str):
        self.name = value
        self.dirty = True

    @rx.event
    async def set_channel(self, value: str):
        self.channel = value
        await self._changed()

    @rx.event
    async def set_subject(self, value: str):
        self.subject = value
        await self._changed()

    @rx.event
    async def set_preheader(self, value: str):
        self.preheader = value
        await self._changed()

    @rx.event
    async def set_from_name(self, value: str):
        self.from_name = value
        await self._changed()

    @rx.event
    def set_from_email(self, value: str):
        self.from_email = value
        self.dirty = True

    @rx.event
    async def set_mjml_body(self, value: str):
        self.mjml_body = value
        await self._changed()

    @rx.event
    async def set_sms_body(self, value: str):
        self.sms_body = value
        await self._changed()

    @rx.event
    async def set_has_qr_code(self, value: bool):
        self.has_qr_code = bool(value)
        await self._changed()

    @rx.event
    async def set_offer_text(self, value: str):
        self.offer_text = value
        await self._changed()

    @rx.event
    async def set_offer_expires(self, value: str):
        self.offer_expires = value
        await self._changed()

    @rx.event
    async def set_track_opens_clicks(self, value: bool):
        self.track_opens_clicks = bool(value)
        await self._changed()

    @rx.event
    def set_second_chance_on(self, value: bool):
        self.second_chance_on = bool(value)
        if self.second_chance_on and not self.second_chance_hours:
            self.second_chance_hours = "48"
        self.dirty = True

    @rx.event
    def set_second_chance_hours(self, value: str):
        self.second_chance_hours = value
        self.dirty = True

    @rx.event
    def set_second_chance_subject(self, value: str):
        self.second_chance_subject = value
        self.dirty = True

    @rx.event
    def set_insert_target(self, target: str):
        self.insert_target = target

    @rx.event
    async def insert_field(self, payload: str):
        """Insert `{{ field }}` at the cursor; the browser sends [field, text, cursor]."""
        try:
            name, text, cursor = json.loads(payload)
        except (TypeError, ValueError):
            return
        if name not in FIELDS or not isinstance(text, str):
            return
        snippet = (
            '{{ first_name | default("there") }}' if name == "first_name" else f"{{{{ {name} }}}}"
        )
        at = cursor if isinstance(cursor, int) and 0 <= cursor <= len(text) else len(text)
        new_text = text[:at] + snippet + text[at:]
        if self.insert_target == "sms":
            self.sms_body = new_text
        else:
            self.mjml_body = new_text
        await self._changed()

    @rx.event
    async def save(self):
        try:
            expires = self._expires_at()
        except ValueError:
            self.save_error = "The expiry date is not a valid date."
            return
        changes = {name: getattr(self, name) for name in CONTENT_FIELDS}
        changes.update(
            has_qr_code=self.has_qr_code,
            offer_expires_at=expires,
            track_opens_clicks=self.track_opens_clicks,
            second_chance_hours=self.second_chance_hours if self.second_chance_on else "",
            second_chance_subject=self.second_chance_subject,
        )
        try:
            campaign = await asyncio.to_thread(_save, self.shown_campaign_id, changes, self.version)
        except campaigns.CampaignError as exc:
            self.save_error = str(exc)
            self.save_message = ""
            return
        self._copy_from(campaign)
        self.save_error = ""
        self.save_message = f"Saved (version {campaign.version})."

    # Images -------------------------------------------------------------------------

    @rx.event
    @upload_limit(MAX_UPLOAD_BYTES)
    async def upload_image(self, files: list[rx.UploadFile]):
        saved = []
        try:
            for upload in files:
                data = await upload.read()
                saved.append(
                    save_uploaded_image(data, upload.name or "image", uploads_dir(get_settings()))
                )
        except ImageError as exc:
            self.image_error, self.image_message = str(exc), ""
        else:
            self.image_error = ""
            self.image_message = (
                "Uploaded: " + ", ".join(f"asset:{n}" for n in saved)
                if saved
                else "Choose an image first."
            )
        self.images = list_images(get_settings())
