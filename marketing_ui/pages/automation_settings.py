"""One automation: its settings, on/off switch, its message and what it earned per week."""

import reflex as rx

from marketing_ui.components.layout import template
from marketing_ui.components.theme import MUTED
from marketing_ui.core.analytics.revenue import ATTRIBUTION_NOTE
from marketing_ui.state.automation_settings import AutomationSettingsState as S

WEEK_COLUMNS = (
    ("Week of", "week"),
    ("Sent", "sent"),
    ("Opened", "opened"),
    ("Clicked", "clicked"),
    ("Redeemed", "redeemed"),
    ("Visits within 7 days", "visits"),
    ("Revenue", "revenue"),
    ("Message cost", "cost"),
    ("Return", "return"),
)


def _field(field: rx.Var) -> rx.Component:
    bad = S.error_field == field["name"]
    return rx.vstack(
        rx.text(field["label"], size="2", weight="medium"),
        rx.cond(
            field["flag"] != "",
            rx.switch(
                name=field["name"],
                default_checked=field["value"] == "1",
                id="automation-" + field["name"],
            ),
            rx.input(
                name=field["name"],
                default_value=field["value"],
                type="number",
                width="100%",
                color_scheme=rx.cond(bad, "red", "gray"),
                id="automation-" + field["name"],
            ),
        ),
        rx.text(field["hint"], size="1", color=rx.color("gray", 10)),
        spacing="1",
        width="100%",
    )


def _settings() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Settings", size="4"),
                rx.grid(
                    rx.vstack(
                        rx.text("Channel", size="2", weight="medium"),
                        rx.select(
                            ["email", "sms", "both"],
                            name="channel",
                            default_value=S.channel,
                            id="automation-channel",
                        ),
                        rx.text(
                            "The message must have a part for this channel.",
                            size="1",
                            color=rx.color("gray", 10),
                        ),
                        spacing="1",
                        width="100%",
                    ),
                    rx.foreach(S.fields, _field),
                    columns=rx.breakpoints(initial="1", sm="2", md="3"),
                    spacing="3",
                    width="100%",
                ),
                rx.button("Save settings", type="submit", id="automation-save"),
                spacing="3",
                width="100%",
            ),
            on_submit=S.save,
            reset_on_submit=False,
            key=S.form_key.to(str),
        ),
        width="100%",
        id="automation-settings",
    )


def _header() -> rx.Component:
    cid = S.template_campaign_id.to(str)
    return rx.vstack(
        rx.hstack(
            rx.link("Automations", href="/automations", size="2"),
            rx.text("/", size="2", color=MUTED),
            rx.heading(S.name, size="5"),
            rx.spacer(),
            rx.text(rx.cond(S.enabled, "On", "Off"), size="2", weight="medium"),
            rx.switch(checked=S.enabled, on_change=S.toggle, id="automation-enabled"),
            align="center",
            width="100%",
            data_enabled=rx.cond(S.enabled, "1", ""),
            id="automation-header",
        ),
        rx.text(S.description, size="2", color=MUTED),
        rx.hstack(
            rx.link(
                rx.button(rx.icon("pencil", size=14), "Edit message", variant="soft"),
                href="/campaigns/" + cid + "/edit",
                id="automation-edit-message",
            ),
            rx.link(
                rx.button(rx.icon("eye", size=14), "Preview & test", variant="soft"),
                href="/campaigns/" + cid + "/preview",
                id="automation-preview",
            ),
            spacing="2",
            wrap="wrap",
        ),
        spacing="2",
        width="100%",
    )


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            S.message != "",
            rx.callout(
                S.message, icon="check", color_scheme="grass", size="1", id="automation-message"
            ),
        ),
        rx.cond(
            S.error != "",
            rx.callout(
                S.error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                id="automation-error",
            ),
        ),
    )


def _results() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Results per week", size="4"),
                rx.spacer(),
                rx.button(
                    rx.icon("download", size=14),
                    "CSV",
                    size="1",
                    variant="soft",
                    on_click=S.export_csv,
                    id="automation-csv",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.has_data,
                rx.vstack(
                    rx.box(
                        rx.plotly.basic(data=S.chart, width="100%"),
                        width="100%",
                        id="automation-chart",
                    ),
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(*[rx.table.column_header_cell(h) for h, _ in WEEK_COLUMNS])
                        ),
                        rx.table.body(
                            rx.foreach(
                                S.rows,
                                lambda row: rx.table.row(
                                    *[rx.table.cell(row[key]) for _, key in WEEK_COLUMNS]
                                ),
                            )
                        ),
                        size="1",
                        width="100%",
                        id="automation-weeks",
                    ),
                    rx.text(
                        "These weeks together: revenue ",
                        S.revenue_total["revenue"],
                        ", message cost ",
                        S.revenue_total["cost"],
                        ", return ",
                        S.revenue_total["return"],
                        ". " + ATTRIBUTION_NOTE.replace("this campaign's", "its batches'"),
                        size="2",
                        color=MUTED,
                        id="automation-revenue",
                    ),
                    width="100%",
                ),
                rx.center(
                    rx.text(
                        "Weekly results appear here once this automation has sent something.",
                        size="2",
                        color=MUTED,
                    ),
                    height="120px",
                    width="100%",
                    id="automation-chart-empty",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@template(route="/automations/[kind]", title="Automation", on_load=S.load)
def automation_settings() -> rx.Component:
    return rx.cond(
        S.not_found,
        rx.callout("There is no such automation.", icon="circle-x", color_scheme="red"),
        rx.vstack(_header(), _messages(), _settings(), _results(), spacing="4", width="100%"),
    )
