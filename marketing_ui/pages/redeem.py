"""Redeem at the counter: type a short code, or scan a QR (the phone opens /redeem/<token>);
check a customer in by exact phone, email or their personal QR."""

import reflex as rx

from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.theme import MUTED
from marketing_ui.state.redeem import RedeemState

register_nav("Redeem", "/redeem", "scan-line", 60, staff=True)

_RESULT_ICONS = {
    "ok": "circle-check-big",
    "undone": "undo-2",
    "already_redeemed": "circle-alert",
    "not_redeemed": "circle-alert",
}


def _result() -> rx.Component:
    icon = rx.match(
        RedeemState.result,
        *[(kind, rx.icon(name, size=26)) for kind, name in _RESULT_ICONS.items()],
        rx.icon("circle-x", size=26),
    )
    return rx.cond(
        RedeemState.result != "",
        rx.callout.root(
            rx.callout.icon(icon),
            rx.callout.text(RedeemState.message, style={"font_size": "20px", "font_weight": "700"}),
            color_scheme=RedeemState.result_color,
            variant="surface",
            size="3",
            width="100%",
            id="redeem-result",
            data_result=RedeemState.result,
        ),
    )


def _code_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.text("Coupon code", size="3", weight="medium"),
                rx.input(
                    name="code",
                    id="code-input",
                    placeholder="ABCD-EFGH",
                    auto_complete="off",
                    auto_capitalize="characters",
                    spell_check=False,
                    max_length=32,
                    size="3",
                    width="100%",
                    style={
                        "font_size": "28px",
                        "height": "60px",
                        "letter_spacing": "0.12em",
                        "text_transform": "uppercase",
                        "font_family": "ui-monospace, Menlo, Consolas, monospace",
                    },
                ),
                rx.button(
                    rx.icon("search", size=20),
                    "Find coupon",
                    type="submit",
                    size="4",
                    width="100%",
                    id="find-code",
                ),
                rx.text(
                    "Or scan the customer's QR code with your phone camera.",
                    size="2",
                    color=MUTED,
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=RedeemState.lookup_code,
            reset_on_submit=True,
        ),
        width="100%",
    )


def _amount_field(field_id: str, error: rx.Var) -> rx.Component:
    """The optional ticket amount, with the Settings currency's symbol and its own error."""
    return rx.vstack(
        rx.text("Ticket amount (optional)", size="2", weight="medium"),
        rx.hstack(
            rx.text(RedeemState.currency_symbol, size="4", weight="medium"),
            rx.input(
                name="amount",
                id=field_id,
                placeholder="12.50",
                input_mode="decimal",
                auto_complete="off",
                max_length=32,
                size="3",
                width="100%",
            ),
            align="center",
            width="100%",
        ),
        rx.cond(error != "", rx.text(error, color_scheme="red", size="2", id=field_id + "-error")),
        spacing="1",
        width="100%",
    )


def _fact(label: str, value: rx.Var, fact_id: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="3", color=MUTED, min_width="96px"),
        rx.text(value, size="3", weight="medium", id=fact_id),
        align="baseline",
        spacing="3",
    )


def _state_badge() -> rx.Component:
    state = RedeemState.coupon["state"]
    return rx.badge(
        state,
        color_scheme=rx.match(
            state, ("issued", "grass"), ("redeemed", "indigo"), ("expired", "red"), "red"
        ),
        size="3",
        variant="solid",
        id="coupon-state",
    )


def _undo_form() -> rx.Component:
    return rx.cond(
        RedeemState.can_undo,
        rx.form(
            rx.vstack(
                rx.separator(),
                rx.text("Redeemed by mistake? (admin)", size="2", weight="medium"),
                rx.hstack(
                    rx.input(
                        name="note",
                        id="undo-note",
                        placeholder="Why (kept in the audit log)",
                        max_length=255,
                        width="100%",
                    ),
                    rx.button(
                        rx.icon("undo-2", size=16),
                        "Undo redemption",
                        type="submit",
                        color_scheme="gray",
                        variant="soft",
                        id="undo-button",
                    ),
                    width="100%",
                ),
                spacing="2",
                width="100%",
            ),
            on_submit=RedeemState.undo,
            reset_on_submit=True,
            width="100%",
        ),
    )


def _coupon_card() -> rx.Component:
    c = RedeemState.coupon
    return rx.cond(
        c.contains("short_code"),
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.text(
                        c["short_code"],
                        size="7",
                        weight="bold",
                        font_family="ui-monospace, Menlo, Consolas, monospace",
                        white_space="nowrap",
                        id="coupon-code",
                    ),
                    rx.spacer(),
                    _state_badge(),
                    width="100%",
                    align="center",
                ),
                rx.heading(c["offer"], size="7", id="coupon-offer"),
                _fact("Customer", c["first_name"], "coupon-customer"),
                _fact("Campaign", c["campaign"], "coupon-campaign"),
                _fact("Expires", c["expires"], "coupon-expires"),
                rx.cond(
                    c["redeemed_at"] != "",
                    _fact("Redeemed", c["redeemed_at"] + " by " + c["redeemed_by"], "coupon-used"),
                ),
                rx.cond(
                    c["amount"] != "",
                    _fact("Ticket", c["amount"], "coupon-amount"),
                ),
                rx.cond(
                    RedeemState.can_redeem,
                    rx.form(
                        rx.vstack(
                            _amount_field("amount-input", RedeemState.amount_error),
                            rx.button(
                                rx.icon("circle-check-big", size=28),
                                "Redeem",
                                type="submit",
                                size="4",
                                color_scheme="grass",
                                width="100%",
                                height="72px",
                                font_size="26px",
                                id="redeem-button",
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        on_submit=RedeemState.redeem,
                        reset_on_submit=False,
                        width="100%",
                    ),
                ),
                _undo_form(),
                spacing="3",
                width="100%",
            ),
            width="100%",
            id="coupon-card",
        ),
    )


def _next_button() -> rx.Component:
    return rx.cond(
        RedeemState.result != "",
        rx.button(
            rx.icon("scan-line", size=18),
            "Next coupon",
            on_click=RedeemState.next_coupon,
            variant="soft",
            size="3",
            width="100%",
            id="next-coupon",
        ),
    )


def _check_in_result() -> rx.Component:
    return rx.cond(
        RedeemState.checkin_result != "",
        rx.callout.root(
            rx.callout.icon(
                rx.cond(
                    RedeemState.checkin_result == "ok",
                    rx.icon("circle-check-big", size=22),
                    rx.icon("circle-x", size=22),
                )
            ),
            rx.callout.text(RedeemState.checkin_message, weight="bold"),
            color_scheme=RedeemState.checkin_color,
            variant="surface",
            width="100%",
            id="checkin-result",
            data_result=RedeemState.checkin_result,
        ),
    )


def _customer_card() -> rx.Component:
    c = RedeemState.card
    return rx.cond(
        c.contains("first_name"),
        rx.vstack(
            rx.heading(c["first_name"], size="6", id="checkin-name"),
            _fact("Contact", c["contact"], "checkin-contact"),
            _fact("Last visit", c["last_visit"], "checkin-last-visit"),
            _fact("Visits", c["visits"], "checkin-visits"),
            rx.form(
                rx.vstack(
                    _amount_field("checkin-amount-input", RedeemState.checkin_amount_error),
                    rx.button(
                        rx.icon("user-check", size=20),
                        "Record visit",
                        type="submit",
                        size="3",
                        color_scheme="grass",
                        disabled=RedeemState.checkin_result == "ok",
                        id="record-visit",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=RedeemState.record_check_in,
                reset_on_submit=False,
                width="100%",
            ),
            rx.hstack(
                rx.button(
                    "Next customer",
                    on_click=RedeemState.next_customer,
                    size="3",
                    variant="soft",
                    color_scheme="gray",
                    id="next-customer",
                ),
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
            id="checkin-card",
        ),
    )


def _check_in_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Check in a customer", size="3", weight="medium"),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="contact",
                        id="checkin-input",
                        placeholder="Phone or email (exact)",
                        auto_complete="off",
                        spell_check=False,
                        max_length=200,
                        size="3",
                        width="100%",
                    ),
                    rx.button(
                        rx.icon("search", size=18),
                        "Find",
                        type="submit",
                        size="3",
                        id="find-customer",
                    ),
                    width="100%",
                ),
                on_submit=RedeemState.find_customer,
                reset_on_submit=True,
                width="100%",
            ),
            _check_in_result(),
            _customer_card(),
            rx.text(
                "Or scan the customer's personal QR code with your phone camera.",
                size="2",
                color=MUTED,
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="checkin",
    )


def _column(*children: rx.Component) -> rx.Component:
    return rx.vstack(*children, spacing="4", width="100%", max_width="560px")


def _denied_note() -> rx.Component:
    """Staff sent here from an admin page learn why instead of wondering."""
    return rx.cond(
        (RedeemState.denied_page != "") & ~RedeemState.is_admin,
        rx.callout(
            "That page (" + RedeemState.denied_page + ") is for admins; your account can "
            "redeem coupons.",
            icon="info",
            color_scheme="blue",
            width="100%",
            id="denied-note",
        ),
    )


@template(route="/redeem", title="Redeem", on_load=RedeemState.load_form, staff=True)
def redeem() -> rx.Component:
    return _column(_denied_note(), _result(), _coupon_card(), _code_form(), _check_in_form())


@template(
    route="/redeem/[token]", title="Redeem coupon", on_load=RedeemState.load_token, staff=True
)
def redeem_scanned() -> rx.Component:
    return _column(
        _result(),
        _coupon_card(),
        rx.cond(RedeemState.card.contains("first_name"), _check_in_form()),
        rx.cond(RedeemState.result == "limited", rx.fragment(), _next_button()),
        rx.link("Type a code instead", href="/redeem", size="2", id="type-code-link"),
    )
