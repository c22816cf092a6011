"""A campaign's status as a coloured badge: the one colour per status used on every page."""

import reflex as rx

from marketing_ui.core.statuses import CampaignStatus

STATUS_COLORS = {
    CampaignStatus.DRAFT: "gray",
    CampaignStatus.SCHEDULED: "blue",
    CampaignStatus.SENDING: "amber",
    CampaignStatus.PAUSED: "orange",
    CampaignStatus.SENT: "grass",
    CampaignStatus.CANCELLED: "brown",
    CampaignStatus.FAILED: "red",
}


def status_badge(status: rx.Var) -> rx.Component:
    """The status in its colour."""
    return rx.match(
        status,
        *[
            (name.value, rx.badge(name.value, color_scheme=color, variant="soft", size="2"))
            for name, color in STATUS_COLORS.items()
        ],
        rx.badge(status, variant="soft", size="2"),
    )
