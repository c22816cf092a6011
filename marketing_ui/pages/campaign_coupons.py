"""A campaign's coupons: state, redemption time and staff member, search by code, CSV export."""

import reflex as rx

from marketing_ui.components.backend_link import backend_url
from marketing_ui.components.layout import template
from marketing_ui.components.theme import MUTED
from marketing_ui.state.campaign_coupons import STATE_FILTERS, CampaignCouponsState

_STATE_COLORS = (("issued", "grass"), ("redeemed", "indigo"), ("expired", "orange"))


def _state_badge(state: rx.Var) -> rx.Component:
    return rx.badge(state, color_scheme=rx.match(state, *_STATE_COLORS, "red"), variant="soft")


def _amount_cell(row: rx.Var) -> rx.Component:
    """The ticket amount; on a redeemed coupon an admin can correct it (audited)."""
    return rx.cond(
        row["state"] == "redeemed",
        rx.form(
            rx.hstack(
                rx.input(type="hidden", name="coupon_id", value=row["id"]),
                rx.input(
                    name="amount",
                    default_value=row["amount_plain"],
                    placeholder="none",
                    input_mode="decimal",
                    max_length=32,
                    size="1",
                    width="90px",
                    class_name="amount-input",
                ),
                rx.button(
                    "Save", type="submit", size="1", variant="soft", class_name="amount-save"
                ),
                spacing="1",
                align="center",
            ),
            on_submit=CampaignCouponsState.correct_amount,
            reset_on_submit=False,
            key=row["id"] + ":" + row["amount_plain"],
        ),
        rx.text("—", color=MUTED),
    )


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(row["short_code"], font_family="ui-monospace, Menlo, Consolas, monospace")
        ),
        rx.table.cell(_state_badge(row["state"])),
        rx.table.cell(row["customer"]),
        rx.table.cell(row["expires"]),
        rx.table.cell(row["redeemed_at"]),
        rx.table.cell(row["redeemed_by"]),
        rx.table.cell(_amount_cell(row)),
        class_name="coupon-row",
        data_state=row["state"],
    )


def _toolbar() -> rx.Component:
    s = CampaignCouponsState
    return rx.hstack(
        rx.form(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    name="code",
                    id="coupon-search",
                    placeholder="Find a code, e.g. ABCD-EFGH",
                    auto_complete="off",
                    width="260px",
                ),
                rx.button("Search", type="submit", variant="soft", id="coupon-search-submit"),
                rx.cond(
                    s.search != "",
                    rx.button(
                        "Clear", on_click=s.clear_search, variant="ghost", id="coupon-search-clear"
                    ),
                ),
                spacing="2",
            ),
            on_submit=s.search_code,
            reset_on_submit=False,
            width="auto",
        ),
        rx.hstack(
            rx.text("State", size="2", color=MUTED),
            rx.select(
                STATE_FILTERS,
                value=s.state_filter,
                on_change=s.set_state_filter,
                id="coupon-state-filter",
            ),
            align="center",
            spacing="2",
        ),
        rx.spacer(),
        rx.link(
            rx.button(rx.icon("download", size=16), "Export CSV", id="export-csv"),
            href=backend_url(s.export_path),
        ),
        width="100%",
        align="center",
        spacing="3",
        wrap="wrap",
    )


def _empty() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("ticket", size=32, color=rx.color("gray", 9)),
            rx.text(
                rx.cond(
                    CampaignCouponsState.search != "",
                    "No coupon has this code in this campaign.",
                    "No coupons yet. Each recipient gets one when the campaign's audience "
                    "is frozen for sending (campaigns with a QR code only).",
                ),
                color=MUTED,
                text_align="center",
            ),
            align="center",
            spacing="2",
            max_width="420px",
        ),
        padding="40px",
        width="100%",
        id="coupons-empty",
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in ("Code", "State", "Customer", "Expires", "Redeemed", "By", "Ticket")
                ]
            )
        ),
        rx.table.body(rx.foreach(CampaignCouponsState.rows, _row)),
        width="100%",
        variant="surface",
        id="coupons-table",
    )


def _pager() -> rx.Component:
    s = CampaignCouponsState
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            on_click=s.previous_page,
            disabled=s.page_number <= 1,
            variant="soft",
            id="coupons-prev",
        ),
        rx.text("Page ", s.page_number, size="2", id="coupons-page"),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            on_click=s.next_page,
            disabled=~s.has_next,
            variant="soft",
            id="coupons-next",
        ),
        align="center",
        spacing="3",
        justify="end",
        width="100%",
    )


@template(
    route="/campaigns/[campaign_id]/coupons",
    title="Coupons",
    on_load=CampaignCouponsState.load,
)
def campaign_coupons() -> rx.Component:
    s = CampaignCouponsState
    return rx.cond(
        s.found,
        rx.vstack(
            rx.hstack(
                rx.link(rx.icon("arrow-left", size=16), href="/campaigns"),
                rx.heading(s.campaign_name, size="5", id="coupons-campaign"),
                align="center",
                spacing="2",
            ),
            _toolbar(),
            rx.card(
                rx.cond(
                    s.amount_message != "",
                    rx.callout(s.amount_message, icon="check", color_scheme="grass", size="1"),
                ),
                rx.cond(
                    s.amount_error != "",
                    rx.callout(
                        s.amount_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        id="amount-error",
                    ),
                ),
                rx.cond(s.rows.length() > 0, _table(), _empty()),
                width="100%",
                padding="0",
            ),
            _pager(),
            spacing="4",
            width="100%",
        ),
        rx.callout(
            "No such campaign.", icon="triangle-alert", color_scheme="red", id="coupons-missing"
        ),
    )
