"""One campaign's analytics: funnel, problems, hourly activity, top links, channels compared."""

import reflex as rx

from marketing_ui.components.charts import chart_card, number_card
from marketing_ui.components.layout import template
from marketing_ui.components.status_badge import status_badge
from marketing_ui.components.theme import MUTED
from marketing_ui.core.analytics.revenue import ATTRIBUTION_NOTE
from marketing_ui.pages.analytics import filter_bar, machine_toggle
from marketing_ui.state.campaign_analytics import CampaignAnalyticsState as S

UNIQUE_NOTE = (
    "Unique opens count each recipient once; total opens count every time the pixel loaded. "
    "Clicks are counted the same way. Opens and clicks are people's: those of privacy proxies "
    "and link scanners are counted apart as machine ones (recipients with only machine opens) "
    "unless you include them. Rates are of messages sent (opens: of emails sent); the "
    "redemption rate is of coupons issued. – means a number does not apply."
)
CHANNEL_ROWS = (
    ("Targeted", "targeted"),
    ("Sent", "sent"),
    ("Delivered", "delivered"),
    ("Delivered rate", "delivered_rate"),
    ("Unique opens", "opened_unique"),
    ("Total opens", "opened_total"),
    ("Open rate", "open_rate"),
    ("Unique clicks", "clicked_unique"),
    ("Total clicks", "clicked_total"),
    ("Click rate", "click_rate"),
    ("Redeemed", "redeemed"),
    ("Bounced", "bounced"),
    ("Unsubscribes", "unsubscribes"),
)


def _headline() -> rx.Component:
    f = S.funnel
    return rx.flex(
        number_card("Targeted", f["targeted"], f["queued"] + " still queued", "stat-targeted"),
        number_card(
            "Sent",
            f["sent"],
            rx.cond(
                f["delivered_note"] != "",
                "– delivered: " + f["delivered_note"],
                f["delivered_rate"] + " delivered",
            ),
            "stat-sent",
        ),
        number_card(
            "Unique opens",
            f["opened_unique"],
            rx.cond(f["open_note"] != "", f["open_note"], f["opens_split"]),
            "stat-opened",
        ),
        number_card("Unique clicks", f["clicked_unique"], f["clicks_split"], "stat-clicked"),
        number_card(
            "Redeemed", f["redeemed"], "of " + f["coupons_issued"] + " coupons", "stat-redeemed"
        ),
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _revenue() -> rx.Component:
    r = S.revenue
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Revenue", size="4"),
                rx.badge(r["currency"], variant="surface"),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                    href=S.exports["revenue"],
                    is_external=True,
                    id="revenue-csv",
                ),
                width="100%",
                align="center",
            ),
            rx.flex(
                number_card(
                    "Revenue",
                    r["revenue"],
                    r["with_amount"]
                    + " of "
                    + r["redemptions"]
                    + " redemptions with an amount"
                    + r["other_currency"],
                    "stat-revenue",
                ),
                number_card(
                    "Per recipient",
                    r["per_recipient"],
                    r["recipients"] + " recipients",
                    "stat-revenue-per-recipient",
                ),  # fmt: skip
                number_card(
                    "Message cost",
                    r["cost"],
                    r["emails"] + " emails, " + r["sms_segments"] + " SMS segments",
                    "stat-cost",
                ),
                number_card("Return", r["return"], "(revenue − cost) / cost", "stat-return"),
                spacing="3",
                wrap="wrap",
                width="100%",
            ),
            rx.text(
                ATTRIBUTION_NOTE
                + " Whole campaign: the date filter above does not apply to this card."
                + " Prices per message are set in Settings.",
                size="1",
                color=MUTED,
                id="revenue-note",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="revenue-card",
    )


LIFT_NOTE = (
    "Messaged: everyone picked to receive this campaign, whether or not the message arrived. "
    "Held out: the random share never messaged. Per customer, over the window: visits (check-ins "
    "and redemptions) and the ticket amounts of those visits. Lift is messaged minus held out, "
    "with a 95% interval; bars show each group's mean and its 95% interval."
)


def _lift_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["label"]),
        rx.table.cell(row["messaged"]),
        rx.table.cell(row["held_out"]),
        rx.table.cell(row["difference"], class_name="lift-difference"),
        rx.table.cell(row["relative"]),
        rx.table.cell(row["interval"], class_name="lift-interval"),
        rx.table.cell(row["verdict"], class_name="lift-verdict"),
        class_name="lift-row",
        data_metric=row["metric"],
    )


def _lift() -> rx.Component:
    headers = ("", "Messaged", "Held out", "Lift", "Relative", "95% interval", "What it says")
    return rx.cond(
        S.has_lift,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("Holdout lift", size="4"),
                    rx.spacer(),
                    rx.link(
                        rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                        href=S.exports["lift"],
                        is_external=True,
                        id="lift-csv",
                    ),
                    width="100%",
                    align="center",
                ),
                rx.text(S.lift_summary, weight="bold", id="lift-summary"),
                rx.flex(
                    rx.text(S.lift_groups, size="2", id="lift-groups"),
                    rx.hstack(
                        rx.text("Window: days after the send", size="2"),
                        rx.input(
                            default_value=S.lift_window,
                            key=S.lift_window,
                            on_blur=S.set_lift_window,
                            type="number",
                            min=1,
                            max=90,
                            width="72px",
                            size="1",
                            id="lift-window",
                        ),
                        align="center",
                        spacing="2",
                    ),
                    rx.text(S.lift_window_text, size="1", color=MUTED),
                    gap="4px 16px",
                    wrap="wrap",
                    align="center",
                ),
                rx.cond(
                    S.lift_error != "",
                    rx.callout(
                        S.lift_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        id="lift-error",
                    ),
                ),
                rx.cond(
                    S.lift_rows.length() > 0,
                    rx.box(
                        rx.plotly.basic(data=S.lift_fig, width="100%"),
                        width="100%",
                        id="lift-chart",
                    ),
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(*[rx.table.column_header_cell(h) for h in headers])
                    ),
                    rx.table.body(rx.foreach(S.lift_rows, _lift_row)),
                    size="1",
                    width="100%",
                    id="lift-table",
                ),
                rx.text(LIFT_NOTE, size="1", color=MUTED),
                spacing="3",
                width="100%",
            ),
            width="100%",
            id="lift-card",
        ),
    )


AB_NOTE = (
    "Counted over the test share, per recipient reached; the bars show each rate's 95% interval. "
    "“Real” means a two-proportion z-test against the best variant gives p < 0.05 on the "
    "metric that decides; “not yet” means the numbers cannot tell them apart. A tie or no data "
    "keeps variant A."
)


def _ab_variant_row(v: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.text("Variant ", v["label"], weight="medium", white_space="nowrap"),
                rx.cond(v["winner"] == "yes", rx.badge("winner", color_scheme="grass")),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(v["delivered"]),
        rx.table.cell(v["clickers"]),
        rx.table.cell(v["click_rate"]),
        rx.table.cell(v["redeemers"]),
        rx.table.cell(v["redemption_rate"]),
        rx.table.cell(v["verdict"]),
        rx.table.cell(
            rx.cond(
                S.ab_info["testing"] == "yes",
                rx.button(
                    "Send to the rest",
                    size="1",
                    variant="soft",
                    on_click=S.pick_winner(v["label"]),
                    class_name="ab-pick",
                    white_space="nowrap",
                ),
            )
        ),
        class_name="ab-row",
    )


def _ab_test() -> rx.Component:
    """Each variant's numbers with intervals, whether the difference is real, and the owner's pick."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("split", size=18),
                rx.heading("A/B test", size="4"),
                rx.badge("winner by ", S.ab_info["metric"], variant="surface"),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                    href=S.exports["ab"],
                    is_external=True,
                    id="ab-csv",
                ),
                width="100%",
                align="center",
            ),
            rx.text(S.ab_info["phase"], size="2", id="ab-phase"),
            rx.cond(
                S.ab_message != "",
                rx.callout(S.ab_message, icon="info", size="1", id="ab-message"),
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Variant"),
                        rx.table.column_header_cell("Reached"),
                        rx.table.column_header_cell("Unique clicks"),
                        rx.table.column_header_cell("Click rate (95%)"),
                        rx.table.column_header_cell("Redemptions"),
                        rx.table.column_header_cell("Redemption rate (95%)"),
                        rx.table.column_header_cell("Against the best"),
                        rx.table.column_header_cell(""),
                    )
                ),
                rx.table.body(rx.foreach(S.ab_rows, _ab_variant_row)),
                width="100%",
                size="1",
            ),
            rx.box(rx.plotly.basic(data=S.ab_fig, width="100%"), width="100%", id="ab-chart"),
            rx.text(AB_NOTE, size="1", color=MUTED),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="ab-card",
    )


def _problems() -> rx.Component:
    f = S.funnel
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Bounces, complaints and failures", size="4"),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                    href=S.exports["failures"],
                    is_external=True,
                    id="failures-csv",
                ),
                width="100%",
            ),
            rx.hstack(
                rx.badge("Bounced ", f["bounced"], color_scheme="orange", id="stat-bounced"),
                rx.badge(
                    "Hard bounce rate ",
                    f["bounce_rate"],
                    color_scheme="orange",
                    id="stat-bounce-rate",
                ),
                rx.badge("Complaints ", f["complaints"], color_scheme="red", id="stat-complaints"),
                rx.badge(
                    "Complaint rate ",
                    f["complaint_rate"],
                    color_scheme="red",
                    id="stat-complaint-rate",
                ),
                rx.badge(
                    "Unsubscribes ", f["unsubscribes"], color_scheme="gray", id="stat-unsubscribes"
                ),  # fmt: skip
                rx.badge("Failed ", f["failed"], color_scheme="red", id="stat-failed"),
                rx.badge(
                    "Skipped (consent withdrawn, held back) ",
                    f["skipped"],
                    color_scheme="gray",
                    id="stat-skipped",
                ),  # fmt: skip
                rx.badge(
                    "Held back by the frequency cap ",
                    f["held_back"],
                    color_scheme="gray",
                    id="stat-held-back",
                ),  # fmt: skip
                rx.cond(
                    f["held_out"] != "0",
                    rx.badge(
                        "Held out (holdout group, by design) ",
                        f["held_out"],
                        color_scheme="blue",
                        id="stat-held-out",
                    ),
                ),
                wrap="wrap",
                spacing="2",
            ),
            rx.cond(
                S.failures.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Channel"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Reason"),
                            rx.table.column_header_cell("Messages"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            S.failures,
                            lambda x: rx.table.row(
                                rx.table.cell(x["channel"]),
                                rx.table.cell(rx.badge(x["status"], variant="soft")),
                                rx.table.cell(x["reason"]),
                                rx.table.cell(x["count"]),
                                class_name="failure-row",
                            ),
                        )
                    ),
                    size="1",
                    width="100%",
                    id="failures-table",
                ),
                rx.text("No message failed or bounced.", size="2", color=MUTED),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _links() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Top clicked links", size="4"),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("download", size=14), "CSV", size="1", variant="soft"),
                    href=S.exports["links"],
                    is_external=True,
                    id="links-csv",
                ),
                width="100%",
            ),
            rx.cond(
                S.links.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Link"),
                            rx.table.column_header_cell("Clicks"),
                            rx.table.column_header_cell("Unique"),
                            rx.table.column_header_cell("Machine"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            S.links,
                            lambda x: rx.table.row(
                                rx.table.cell(
                                    rx.text(x["url"], trim="both", size="2"),
                                    max_width="640px",
                                    overflow="hidden",
                                ),  # fmt: skip
                                rx.table.cell(x["clicks"]),
                                rx.table.cell(x["unique"]),
                                rx.table.cell(x["machine"], color=MUTED),
                                class_name="link-row",
                            ),
                        )
                    ),
                    size="1",
                    width="100%",
                    id="links-table",
                ),
                rx.text(
                    "Links appear here once recipients click them (tracked links only).",
                    size="2",
                    color=MUTED,
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _channel_cell(key: str):  # noqa: ANN202 - a one-argument component builder for foreach
    return lambda c: rx.table.cell(c[key])


def _channels() -> rx.Component:
    return rx.cond(
        S.channels.length() > 1,
        rx.card(
            rx.vstack(
                rx.heading("Email and SMS side by side", size="4"),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(""),
                            rx.foreach(
                                S.channels, lambda c: rx.table.column_header_cell(c["channel"])
                            ),
                        )
                    ),
                    rx.table.body(
                        *[
                            rx.table.row(
                                rx.table.row_header_cell(label),
                                rx.foreach(S.channels, _channel_cell(key)),
                            )
                            for label, key in CHANNEL_ROWS
                        ]
                    ),
                    size="1",
                    width="100%",
                    id="channels-table",
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
    )


def _body() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(
                rx.hstack(
                    rx.icon("arrow-left", size=16), "All campaigns", spacing="1", align="center"
                ),
                href="/analytics",
            ),
            rx.heading(S.name, size="5", id="campaign-name"),
            status_badge(S.status),
            rx.cond(S.live, rx.badge("live", color_scheme="grass", variant="solid")),
            rx.text(S.sent_at, size="2", color=MUTED),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        filter_bar(S),
        machine_toggle(S),
        _headline(),
        rx.callout(UNIQUE_NOTE, icon="info", size="1", id="unique-note"),
        _revenue(),
        _lift(),
        rx.cond(S.has_ab, _ab_test()),
        chart_card(
            "Funnel",
            S.funnel_fig,
            S.exports["funnel"],
            S.funnel["targeted"] != "0",
            "This campaign has no recipients yet — the funnel appears once it is sent.",
            "funnel-chart",
        ),
        chart_card(
            "Opens, clicks and redemptions by hour since send",
            S.hourly_fig,
            S.exports["hourly"],
            S.has_hourly,
            "Activity appears here hour by hour once recipients open, click or redeem.",
            "hourly-chart",
        ),
        _channels(),
        _problems(),
        _links(),
        spacing="4",
        width="100%",
    )


@template(route="/campaigns/[campaign_id]/analytics", title="Campaign analytics", on_load=S.load)
def campaign_analytics() -> rx.Component:
    return rx.cond(
        S.found,
        _body(),
        rx.callout("This campaign does not exist.", icon="triangle-alert", color_scheme="red"),
    )
