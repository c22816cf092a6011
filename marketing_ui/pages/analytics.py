"""Analytics overview: all campaigns compared, trends, audience growth and consent changes."""

import reflex as rx

from marketing_ui.components.charts import chart_card
from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.theme import MUTED
from marketing_ui.core.analytics.revenue import ATTRIBUTION_NOTE
from marketing_ui.state.analytics import AnalyticsState as S

register_nav("Analytics", "/analytics", "chart-bar", 40)

NO_CAMPAIGNS = "No campaign has been sent yet — numbers appear here after the first send."

COLUMNS = (
    ("Campaign", "name"),
    ("Sent date", "sent_at"),
    ("Sent", "sent"),
    ("Delivered", "delivered"),
    ("Opened", "opened"),
    ("Opens: human · machine", "opens_split"),
    ("Clicked", "clicked"),
    ("Redeemed", "redeemed"),
    ("Unsubscribes", "unsubscribes"),
    ("Revenue", "revenue"),
    ("Return", "return"),
    ("Lift (visit rate, 95%)", "lift"),
)


def filter_bar(state: type) -> rx.Component:
    """From/to dates and channel; shared by the overview and the campaign page."""
    return rx.hstack(
        rx.vstack(
            rx.text("From", size="1", color=MUTED),
            rx.input(type="date", value=state.since, on_change=state.set_since, id="filter-since"),
            spacing="1",
        ),
        rx.vstack(
            rx.text("To", size="1", color=MUTED),
            rx.input(type="date", value=state.until, on_change=state.set_until, id="filter-until"),
            spacing="1",
        ),
        rx.vstack(
            rx.text("Channel", size="1", color=MUTED),
            rx.select(
                ["all", "email", "sms"],
                value=state.channel,
                on_change=state.set_channel,
                id="filter-channel",
            ),
            spacing="1",
        ),
        rx.button("Clear", variant="ghost", on_click=state.clear_filters, id="filter-clear"),
        align="end",
        spacing="4",
        wrap="wrap",
    )


def machine_toggle(state: type) -> rx.Component:
    """Human engagement: count proxy and scanner opens and clicks as people's, or not."""
    return rx.tooltip(
        rx.text(
            rx.hstack(
                rx.switch(
                    checked=state.include_machine,
                    on_change=state.set_include_machine,
                    id="include-machine",
                ),
                "Include machine opens and clicks",
                spacing="2",
                align="center",
            ),
            as_="label",
            size="2",
        ),
        content=MACHINE_NOTE,
    )


MACHINE_NOTE = (
    "Opens and clicks made by mail privacy proxies (Apple Mail Privacy Protection) and "
    "security scanners (known agents, within seconds of the send, every link at once) are "
    "left out of the numbers and rates unless this is on; they are always shown apart."
)

NOTED = ("delivered", "opened")  # columns that can be "–", with the reason as a tooltip


def _cell(row: rx.Var, key: str) -> rx.Component:
    if key not in NOTED:
        return rx.table.cell(row[key])
    return rx.table.cell(row[key], title=row[f"{key}_note"], class_name=f"cell-{key}")


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row["name"], href="/campaigns/" + row["id"] + "/analytics")),
        *[_cell(row, key) for _, key in COLUMNS[1:]],
        class_name="campaign-row",
    )


def campaigns_table() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("All campaigns", size="4"),
                rx.text(
                    "Rates are of messages sent. – does not apply: SMS has no opens, and the "
                    "development outbox does not report delivery.",
                    size="1",
                    color=rx.color("gray", 10),
                ),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                    href=S.exports["campaigns"],
                    is_external=True,
                    id="campaigns-csv",
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.rows.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(*[rx.table.column_header_cell(h) for h, _ in COLUMNS])
                    ),
                    rx.table.body(rx.foreach(S.rows, _row)),
                    width="100%",
                    size="1",
                    id="campaigns-table",
                ),
                rx.center(
                    rx.text(NO_CAMPAIGNS, size="2", color=MUTED),
                    height="120px",
                    id="campaigns-empty",
                ),
            ),
            rx.text(
                ATTRIBUTION_NOTE.replace("this campaign's", "a campaign's")
                + " Return is (revenue − message cost) / message cost, with the prices in "
                "Settings.",
                size="1",
                color=MUTED,
                id="revenue-note",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


AUTOMATION_COLUMNS = (
    ("Automation", "name"),
    ("State", "state"),
    ("Sent", "sent"),
    ("Opened", "opened"),
    ("Clicked", "clicked"),
    ("Redeemed", "redeemed"),
    ("Visits within 7 days", "visits"),
    ("Revenue", "revenue"),
    ("Return", "return"),
)


def _automation_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row["name"], href="/automations/" + row["kind"])),
        *[rx.table.cell(row[key]) for _, key in AUTOMATION_COLUMNS[1:]],
        class_name="automation-row",
    )


def automations_table() -> rx.Component:
    """Each automation's last 30 days (the date filter above does not apply)."""
    return rx.cond(
        S.automation_rows.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("Automations", size="4"),
                    rx.text("Last 30 days.", size="1", color=rx.color("gray", 10)),
                    align="center",
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[rx.table.column_header_cell(h) for h, _ in AUTOMATION_COLUMNS]
                        )
                    ),
                    rx.table.body(rx.foreach(S.automation_rows, _automation_row)),
                    width="100%",
                    size="1",
                    id="automations-table",
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
    )


@template(route="/analytics", title="Analytics", on_load=S.load)
def analytics_overview() -> rx.Component:
    has_rows = S.rows.length() > 0
    return rx.vstack(
        filter_bar(S),
        machine_toggle(S),
        campaigns_table(),
        automations_table(),
        chart_card(
            "Rates by campaign",
            S.rates_fig,
            S.exports["campaigns"],
            has_rows,
            NO_CAMPAIGNS,
            "rates-chart",
        ),  # fmt: skip
        chart_card(
            "Revenue at the counter and message cost",
            S.revenue_fig,
            S.exports["campaigns"],
            S.has_revenue,
            "Ticket amounts entered when redeeming a campaign's coupons show here, next to what "
            "its messages cost.",
            "revenue-chart",
        ),
        chart_card(
            "Messages, opens and clicks per day",
            S.trend_fig,
            S.exports["trend"],
            S.has_trend,
            "Daily sends, opens and clicks appear here once a campaign goes out.",
            "trend-chart",
        ),
        rx.grid(
            chart_card(
                "Audience growth and consent changes",
                S.audience_fig,
                S.exports["audience"],
                S.has_audience,
                "Customers added and opt-ins/opt-outs per day appear here once you add customers.",
                "audience-chart",
            ),
            chart_card(
                "Coupon redemption rate",
                S.redemption_fig,
                S.exports["redemptions"],
                S.has_redemptions,
                "Campaigns with a QR coupon show how many coupons were redeemed here.",
                "redemption-chart",
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )
