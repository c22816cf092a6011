"""Dashboard home page."""

import reflex as rx

from marketing_ui.components.layout import stat_card, template
from marketing_ui.components.theme import MUTED
from marketing_ui.state.dashboard import DashboardState


@template(route="/", title="Dashboard", on_load=DashboardState.load)
def dashboard() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Welcome back, ",
            DashboardState.username,
            ". Here is your audience at a glance.",
            color=MUTED,
        ),
        rx.flex(
            stat_card("Customers", DashboardState.customers, "users", "count-customers"),
            stat_card(
                "Email subscribers", DashboardState.email_subscribers, "mail-check", "count-email"
            ),
            stat_card(
                "SMS subscribers", DashboardState.sms_subscribers, "message-square", "count-sms"
            ),
            stat_card("Segments", DashboardState.segments, "filter", "count-segments"),
            stat_card("Campaigns", DashboardState.campaigns, "megaphone", "count-campaigns"),
            stat_card(
                "Campaigns sent", DashboardState.campaigns_sent, "send", "count-campaigns-sent"
            ),
            stat_card("Messages sent", DashboardState.messages_sent, "inbox", "count-messages"),
            wrap="wrap",
            gap="16px",
        ),
        spacing="5",
        width="100%",
    )
