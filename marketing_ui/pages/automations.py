"""Automations: welcome, birthday, win-back and thank-you, each switched on or off here."""

import reflex as rx

from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.theme import MUTED
from marketing_ui.state.automations import AutomationsState as S

register_nav("Automations", "/automations", "workflow", 15)


def _card(card: rx.Var) -> rx.Component:
    on = card["enabled"] != ""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.link(
                    rx.heading(card["name"], size="4"),
                    href="/automations/" + card["kind"],
                    id="automation-link-" + card["kind"],
                ),
                rx.spacer(),
                rx.badge(rx.cond(on, "On", "Off"), color_scheme=rx.cond(on, "grass", "gray")),
                rx.switch(
                    checked=on,
                    on_change=lambda value: S.toggle(card["kind"], value),
                    id="automation-switch-" + card["kind"],
                ),
                align="center",
                width="100%",
            ),
            rx.text(card["description"], size="2", color=MUTED),
            rx.hstack(
                rx.badge(card["channel"], variant="surface"),
                rx.text(card["key"], size="2"),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text("Sent in the last 30 days: ", card["sent_30"], size="2", color=MUTED),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="automation-card-" + card["kind"],
        data_enabled=card["enabled"],
    )


@template(route="/automations", title="Automations", on_load=S.load)
def automations() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Messages that go out by themselves when something happens. Each starts switched "
            "off; nothing that happened before you switch one on sends anything.",
            size="2",
            color=MUTED,
        ),
        rx.cond(
            S.message != "",
            rx.callout(S.message, icon="check", color_scheme="grass", size="1", id="auto-message"),
        ),
        rx.cond(
            S.error != "",
            rx.callout(
                S.error, icon="triangle-alert", color_scheme="red", size="1", id="auto-error"
            ),
        ),
        rx.grid(
            rx.foreach(S.cards, _card),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )
