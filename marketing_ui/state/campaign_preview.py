"""Campaign preview: desktop/mobile widths, a real or the sample customer, plain text, send test."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core import messages
from marketing_ui.core.campaigns import EDITABLE_STATUSES
from marketing_ui.core.customers import CustomerFilter, list_customers
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.state.auth import AuthState
from marketing_ui.state.campaign_edit import campaign_id_from_path


def sending_module():  # noqa: ANN201 - a module or None
    """The send pipeline's module once it is installed; None means "not available yet"."""
    try:
        from marketing_ui.core import sending
    except ImportError:
        return None
    return sending


class CampaignPreviewState(AuthState):
    campaign_id: int = 0
    name: str = ""
    status: str = ""
    editable: bool = True  # draft or scheduled: can still be edited and sent
    channel: str = "email"
    not_found: bool = False
    width: str = "desktop"
    customer_query: str = ""
    customer_options: list[dict[str, str]] = []
    customer_id: int = 0  # 0 = the sample customer
    customer_label: str = "Sample customer (Alex Rivera)"
    html: str = ""
    subject: str = ""
    text: str = ""
    sms_text: str = ""
    sms_counter: str = ""
    errors: str = ""
    test_recipients: str = ""
    test_message: str = ""
    test_error: str = ""
    test_available: bool = False

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
    def load(self):
        self.campaign_id = campaign_id_from_path(self.router.url.path) or 0
        self.customer_id = 0
        self.customer_label = "Sample customer (Alex Rivera)"
        self.customer_options = []
        self.customer_query = ""
        self.test_message = self.test_error = ""
        module = sending_module()
        self.test_available = module is not None and hasattr(module, "send_test")
        self._render()

    def _render(self) -> None:
        with session_scope() as session:
            campaign = session.get(Campaign, self.campaign_id) if self.campaign_id else None
            self.not_found = campaign is None
            if campaign is None:
                return
            self.name, self.status, self.channel = campaign.name, campaign.status, campaign.channel
            self.editable = campaign.status in EDITABLE_STATUSES
            result = messages.preview(session, campaign, self.customer_id or None)
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
    def choose_customer(self, customer_id: str):
        chosen = next((o for o in self.customer_options if o["id"] == customer_id), None)
        if chosen is None:
            return
        self.customer_id = int(customer_id)
        self.customer_label = chosen["label"]
        self.customer_options = []
        self.customer_query = ""
        self._render()

    @rx.event
    def use_sample(self):
        self.customer_id = 0
        self.customer_label = "Sample customer (Alex Rivera)"
        self._render()

    @rx.event
    def set_test_recipients(self, value: str):
        self.test_recipients = value

    @rx.event
    def send_test(self):
        module = sending_module()
        if module is None or not hasattr(module, "send_test"):
            self.test_error = "Sending is not available yet in this installation."
            return
        try:
            with session_scope() as session:
                outcomes = module.send_test(session, self.campaign_id, self.test_recipients)
        except ValueError as exc:
            self.test_error, self.test_message = str(exc), ""
            return
        self.test_error = ""
        self.test_message = "\n".join(str(o) for o in outcomes) or "Test sent."
