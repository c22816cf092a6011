"""Campaign preview: desktop/mobile widths, a real or the sample customer, plain text, send test."""

from __future__ import annotations

import asyncio

import reflex as rx

from marketing_ui.core import messages, sending
from marketing_ui.core.campaigns import EDITABLE_STATUSES
from marketing_ui.core.customers import CustomerFilter, list_customers
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.core.rendering import SAMPLE_CUSTOMER_LABEL
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_id


def _preview_of(
    campaign_id: int, customer_id: int | None
) -> tuple[Campaign, messages.PreviewResult] | None:
    """Runs in a worker thread: rendering must never hold up the event loop."""
    with session_scope() as session:
        campaign = session.get(Campaign, campaign_id) if campaign_id else None
        if campaign is None:
            return None
        return campaign, messages.preview(session, campaign, customer_id)


def _send_test(campaign_id: int, recipients: str) -> list[str]:
    """Runs in a worker thread: a test send renders the message and calls the provider."""
    with session_scope() as session:
        return sending.send_test(session, campaign_id, recipients)


class CampaignPreviewState(AuthState):
    shown_campaign_id: int = 0
    name: str = ""
    status: str = ""
    editable: bool = True  # draft or scheduled: can still be edited and sent
    channel: str = "email"
    not_found: bool = False
    width: str = "desktop"
    customer_query: str = ""
    customer_options: list[dict[str, str]] = []
    customer_id: int = 0  # 0 = the sample customer
    customer_label: str = SAMPLE_CUSTOMER_LABEL
    html: str = ""
    subject: str = ""
    text: str = ""
    sms_text: str = ""
    sms_counter: str = ""
    errors: str = ""
    test_recipients: str = ""
    test_message: str = ""
    test_error: str = ""

    @rx.var
    def frame_width(self) -> str:
        return "375px" if self.width == "mobile" else "640px"

    @rx.var
    def has_email(self) -> bool:
        return self.channel in ("email", "both")

    @rx.var
    def has_sms(self) -> bool:
        return self.channel in ("sms", "both")

    @rx.event
    async def load(self):
        self.shown_campaign_id = route_id(self)
        self.customer_id = 0
        self.customer_label = SAMPLE_CUSTOMER_LABEL
        self.customer_options = []
        self.customer_query = ""
        self.test_message = self.test_error = ""
        await self._render()

    async def _render(self) -> None:
        found = await asyncio.to_thread(
            _preview_of, self.shown_campaign_id, self.customer_id or None
        )
        self.not_found = found is None
        if found is None:
            return
        campaign, result = found
        self.name, self.status, self.channel = campaign.name, campaign.status, campaign.channel
        self.editable = campaign.status in EDITABLE_STATUSES
        self.html, self.subject, self.text = result.html, result.subject, result.text
        self.sms_text = result.sms_text
        info = result.sms_info
        self.sms_counter = (
            f"{info.characters} characters · {info.segments} segment"
            f"{'' if info.segments == 1 else 's'} · {info.encoding}"
            if info
            else ""
        )
        self.errors = "\n".join(result.errors)

    @rx.event
    def set_width(self, value: str | list[str]):
        self.width = "mobile" if value == "mobile" else "desktop"

    @rx.event
    def search_customers(self, value: str):
        self.customer_query = value
        if len(value.strip()) < 2:
            self.customer_options = []
            return
        with session_scope() as session:
            page = list_customers(session, CustomerFilter(search=value.strip()), limit=8)
        self.customer_options = [{"id": str(r.id), "label": r.display_name} for r in page.rows]

    @rx.event
    async def choose_customer(self, customer_id: str):
        chosen = next((o for o in self.customer_options if o["id"] == customer_id), None)
        if chosen is None:
            return
        self.customer_id = int(customer_id)
        self.customer_label = chosen["label"]
        self.customer_options = []
        self.customer_query = ""
        await self._render()

    @rx.event
    async def use_sample(self):
        self.customer_id = 0
        self.customer_label = SAMPLE_CUSTOMER_LABEL
        await self._render()

    @rx.event
    def set_test_recipients(self, value: str):
        self.test_recipients = value

    @rx.event
    async def send_test(self):
        try:
            outcomes = await asyncio.to_thread(
                _send_test, self.shown_campaign_id, self.test_recipients
            )
        except ValueError as exc:
            self.test_error, self.test_message = str(exc), ""
            return
        self.test_error = ""
        self.test_message = "\n".join(str(o) for o in outcomes) or "Test sent."
