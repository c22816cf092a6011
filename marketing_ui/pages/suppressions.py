"""Suppressions: addresses and numbers that receive nothing, why and since when (admins only)."""

import reflex as rx

from marketing_ui.components.choice_select import choice_select
from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.responsive_rows import responsive_rows
from marketing_ui.components.theme import MUTED
from marketing_ui.core.suppressions import MAX_NOTE
from marketing_ui.state.suppressions import CHANNEL_CHOICES, CHANNEL_LABELS, REASON_LABELS
from marketing_ui.state.suppressions import SuppressionsState as S

register_nav("Suppressions", "/suppressions", "ban", 55)


def _find() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                name="find",
                default_value=S.find_text,
                placeholder="Whole email address or phone number",
                flex="1 1 240px",
                min_width="0",
                id="suppression-find",
            ),
            rx.button("Find", type="submit", id="suppression-find-submit"),
            rx.cond(
                S.found_mode,
                rx.button(
                    "Show all",
                    type="button",
                    variant="soft",
                    on_click=S.clear_find,
                    id="suppression-show-all",
                ),
            ),
            gap="8px",
            wrap="wrap",
            width="100%",
        ),
        on_submit=S.find,
        reset_on_submit=False,
        key=S.find_form_key.to_string(),
        width="100%",
    )


def _filters() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text("Why", size="1", color=MUTED),
            choice_select(
                S.reason,
                S.set_reason,
                [("all", "Every reason"), *REASON_LABELS.items()],
                min_width="170px",
                id="suppression-reason",
            ),
            spacing="1",
        ),
        rx.vstack(
            rx.text("Channel", size="1", color=MUTED),
            choice_select(
                S.channel,
                S.set_channel,
                [(c, CHANNEL_LABELS.get(c, "Email and SMS")) for c in CHANNEL_CHOICES],
                min_width="170px",
                id="suppression-channel",
            ),
            spacing="1",
        ),
        rx.text(S.total.to_string() + " suppressed", size="2", color=MUTED, id="suppression-total"),
        gap="12px",
        wrap="wrap",
        align="end",
    )


def _address(row: rx.Var) -> rx.Component:
    """Masked, with Show/Hide; the whole value only for the row the admin opened."""
    opened = S.revealed_id == row["id"]
    return rx.hstack(
        rx.text(
            rx.cond(opened, S.revealed, row["address"]),
            size="2",
            weight="medium",
            color=rx.cond(row["known"] != "", "", rx.color("gray", 10)),
            overflow_wrap="anywhere",
            min_width="0",
            class_name="suppression-address",
        ),
        rx.cond(
            row["known"] != "",
            rx.cond(
                opened,
                rx.button("Hide", size="1", variant="ghost", on_click=S.hide),
                rx.button(
                    "Show",
                    size="1",
                    variant="ghost",
                    on_click=S.reveal(row["id"]),
                    class_name="suppression-show",
                ),
            ),
        ),
        align="center",
        spacing="2",
        min_width="0",
    )


def _why(row: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(row["why"], size="2", class_name="suppression-why"),
        rx.cond(
            row["detail"] != "",
            rx.text(row["detail"], size="1", color=rx.color("gray", 10), overflow_wrap="anywhere"),
        ),
        spacing="0",
        min_width="0",
    )


def _lift_button(row: rx.Var) -> rx.Component:
    return rx.cond(
        row["stop"] != "",
        rx.tooltip(
            rx.text("Only by START", size="1", color=rx.color("gray", 10)),
            content="A STOP is undone only by the person texting START.",
        ),
        rx.button(
            "Lift…",
            size="1",
            variant="soft",
            on_click=S.ask_lift(row["id"]),
            class_name="suppression-lift",
        ),
    )


def _table_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_address(row)),
        rx.table.cell(rx.text(row["channel"], size="2")),
        rx.table.cell(_why(row)),
        rx.table.cell(rx.text(row["since"], size="2", white_space="nowrap")),
        rx.table.cell(_lift_button(row), text_align="right"),
        class_name="suppression-row",
        data_id=row["id"],
    )


def _card(row: rx.Var) -> rx.Component:
    """The same entry on a phone: stacked instead of a wide row."""
    return rx.vstack(
        _address(row),
        rx.flex(
            rx.badge(row["channel"], variant="surface"),
            rx.text(row["why"], size="2", class_name="suppression-why"),
            rx.text(row["since"], size="1", color=rx.color("gray", 10)),
            gap="4px 8px",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            row["detail"] != "",
            rx.text(row["detail"], size="1", color=rx.color("gray", 10), overflow_wrap="anywhere"),
        ),
        _lift_button(row),
        spacing="2",
        padding="10px 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        min_width="0",
        class_name="suppression-card",
        data_id=row["id"],
    )


def _list() -> rx.Component:
    return rx.card(
        *responsive_rows(
            ["Address", "Channel", "Why", "Since", ""],
            S.rows,
            _table_row,
            _card,
            "suppression-table",
        ),
        rx.cond(
            (S.rows.length() == 0) & ~S.found_mode,
            rx.text(
                "Nothing is suppressed with these filters.",
                color=MUTED,
                size="2",
                id="suppression-empty",
            ),
        ),
        width="100%",
    )


def _pager() -> rx.Component:
    return rx.cond(
        ~S.found_mode,
        rx.hstack(
            rx.text("Page ", S.page_number, size="2", color=MUTED),
            rx.spacer(),
            rx.button(
                "Previous",
                on_click=S.previous_page,
                disabled=S.page_number <= 1,
                variant="soft",
                id="suppression-previous",
            ),
            rx.button(
                "Next",
                on_click=S.next_page,
                disabled=S.next_cursor == "",
                variant="soft",
                id="suppression-next",
            ),
            width="100%",
            align="center",
        ),
    )


def _lift_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Lift this suppression?"),
            rx.dialog.description(
                S.lift_address, " — ", S.lift_why, size="2", overflow_wrap="anywhere"
            ),
            rx.form(
                rx.vstack(
                    rx.text(
                        "The address can receive messages again only where the customer's "
                        "consent allows; lifting gives no consent back.",
                        size="2",
                        color=MUTED,
                    ),
                    rx.text("Reason", size="2", weight="medium"),
                    rx.text_area(
                        name="note",
                        placeholder="Why may this address receive messages again?",
                        max_length=MAX_NOTE,
                        width="100%",
                        id="lift-note",
                    ),
                    rx.cond(
                        S.lift_error != "",
                        rx.callout(
                            S.lift_error,
                            icon="triangle-alert",
                            color_scheme="red",
                            size="1",
                            width="100%",
                            id="lift-error",
                        ),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Lift suppression", type="submit", id="lift-confirm"),
                        justify="end",
                        width="100%",
                        wrap="wrap",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.confirm_lift,
                reset_on_submit=False,
                key=S.lift_form_key.to_string(),
            ),
            max_width="520px",
        ),
        open=S.lift_open,
        on_open_change=S.set_lift_open,
    )


def _lifts() -> rx.Component:
    return rx.cond(
        S.lifts.length() > 0,
        rx.card(
            rx.heading("Recently lifted", size="4", margin_bottom="8px"),
            rx.vstack(
                rx.foreach(
                    S.lifts,
                    lambda x: rx.vstack(
                        rx.text(
                            x["address"],
                            " · ",
                            x["channel"],
                            " · was: ",
                            x["was"],
                            size="2",
                            weight="medium",
                            overflow_wrap="anywhere",
                        ),  # fmt: skip
                        rx.text(
                            x["at"],
                            " by ",
                            x["by"],
                            ": ",
                            x["note"],
                            size="2",
                            color=MUTED,
                            overflow_wrap="anywhere",
                        ),  # fmt: skip
                        spacing="0",
                        width="100%",
                        class_name="lift-row",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            id="recent-lifts",
        ),
    )


@template(route="/suppressions", title="Suppressions", on_load=S.load)
def suppressions_page() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Addresses and numbers that receive nothing: hard bounces, spam complaints, STOP "
            "replies and addresses the provider refused. Shown masked; open one to see it. "
            "Find one by typing the whole address.",
            size="2",
            color=MUTED,
        ),
        _find(),
        _filters(),
        rx.cond(
            S.error != "",
            rx.callout(S.error, color_scheme="red", icon="triangle-alert", id="suppression-error"),
        ),
        rx.cond(
            S.message != "",
            rx.callout(S.message, icon="info", size="1", id="suppression-message"),
        ),
        _list(),
        _pager(),
        _lifts(),
        _lift_dialog(),
        width="100%",
        spacing="4",
    )
