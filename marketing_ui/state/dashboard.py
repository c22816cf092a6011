"""Dashboard home: headline counts from the DB."""

import reflex as rx

from marketing_ui.core.db import session_scope
from marketing_ui.core.system_status import dashboard_counts
from marketing_ui.state.auth import AuthState


class DashboardState(AuthState):
    customers: int = 0
    email_subscribers: int = 0
    sms_subscribers: int = 0
    segments: int = 0
    campaigns: int = 0
    campaigns_sent: int = 0
    messages_sent: int = 0

    @rx.event
    def load(self):
        with session_scope() as session:
            counts = dashboard_counts(session)
        self.customers = counts.customers
        self.email_subscribers = counts.email_subscribers
        self.sms_subscribers = counts.sms_subscribers
        self.segments = counts.segments
        self.campaigns = counts.campaigns
        self.campaigns_sent = counts.campaigns_sent
        self.messages_sent = counts.messages_sent
