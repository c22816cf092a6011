"""Segments page: saved segments with live counts, and the builder with a debounced live count."""

import reflex as rx

from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.rule_builder import rule_builder
from marketing_ui.components.theme import MUTED
from marketing_ui.state.segments import SegmentsState as S
from marketing_ui.state.segments import SegmentView

register_nav("Segments", "/segments", "filter", 30)

WIDE_ONLY = rx.breakpoints(initial="none", sm="table-cell")  # columns a phone has no room for


def _segment_row(seg: rx.Var[SegmentView]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(seg.name, weight="medium")),
        rx.table.cell(rx.text(seg.customers, class_name="segment-count")),
        rx.table.cell(rx.text(seg.rules, size="2", color=MUTED), display=WIDE_ONLY),
        rx.table.cell(rx.text(seg.updated, size="2", color=MUTED), display=WIDE_ONLY),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    rx.icon("pencil", size=14),
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=S.edit_segment(seg.id),
                    class_name="segment-edit",
                ),
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=S.ask_delete(seg.id),
                    class_name="segment-delete",
                ),
                justify="end",
            )
        ),
        align="center",
        class_name="segment-row",
        data_name=seg.name,
    )


def _list() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Saved segments", size="4"),
                rx.hstack(
                    rx.button(
                        rx.icon("refresh-cw", size=14),
                        "Refresh counts",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=S.load,
                    ),
                    rx.button(
                        rx.icon("plus", size=16),
                        "New segment",
                        on_click=S.new_segment,
                        id="new-segment",
                    ),
                    align="center",
                    spacing="3",
                    margin_left="auto",
                ),
                width="100%",
                align="center",
                gap="8px",
                wrap="wrap",
            ),
            rx.cond(
                S.segment_list.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Customers now"),
                            rx.table.column_header_cell("Rules", display=WIDE_ONLY),
                            rx.table.column_header_cell("Changed", display=WIDE_ONLY),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(S.segment_list, _segment_row)),
                    width="100%",
                    id="segments-table",
                ),
                rx.center(
                    rx.vstack(
                        rx.icon("filter", size=32, color=rx.color("gray", 9)),
                        rx.text("No segments yet.", weight="medium"),
                        rx.text(
                            "A segment is a saved set of rules (tags, consent, activity) that picks a "
                            "campaign's audience. Its count is always live.",
                            size="2",
                            color=MUTED,
                            text_align="center",
                        ),
                        align="center",
                        spacing="2",
                        max_width="460px",
                    ),
                    padding="32px",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _sample() -> rx.Component:
    return rx.cond(
        S.sample.length() > 0,
        rx.vstack(
            rx.foreach(
                S.sample,
                lambda r: rx.hstack(
                    rx.vstack(
                        rx.text(r["name"], size="2", weight="medium"),
                        rx.text(r["email"], size="1", color=MUTED),
                        spacing="0",
                        min_width="0",
                        flex="1",
                    ),
                    rx.badge(r["consent"], variant="soft", color_scheme="gray"),
                    align="center",
                    width="100%",
                    padding="6px 0",
                    border_bottom=f"1px solid {rx.color('gray', 4)}",
                    class_name="sample-row",
                ),
            ),
            spacing="0",
            width="100%",
            id="segment-sample",
        ),
        rx.text("Nobody matches yet.", size="2", color=MUTED),
    )


def _editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading(rx.cond(S.edit_id != "", "Edit segment", "New segment"), size="4"),
                rx.hstack(
                    rx.button(
                        "Cancel", variant="soft", color_scheme="gray", on_click=S.cancel_edit
                    ),
                    rx.button(
                        rx.icon("save", size=14), "Save segment", on_click=S.save, id="save-segment"
                    ),
                    spacing="3",
                    margin_left="auto",
                ),
                width="100%",
                align="center",
                gap="8px",
                wrap="wrap",
            ),
            rx.input(
                placeholder="Segment name, e.g. VIPs who get email",
                value=S.name,
                on_change=S.set_name,
                size="3",
                width="100%",
                id="segment-name",
            ),
            rx.cond(
                S.save_error != "",
                rx.callout(
                    S.save_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    id="segment-error",
                ),
            ),
            rx.grid(
                rule_builder(),
                rx.card(
                    rx.vstack(
                        rx.text("Matching customers", size="2", color=MUTED),
                        rx.hstack(
                            rx.heading(
                                S.live_count,
                                size="8",
                                id="live-count",
                                data_counting=rx.cond(S.counting, "1", ""),
                            ),
                            rx.cond(S.counting, rx.spinner(size="2")),
                            align="center",
                        ),
                        rx.cond(
                            S.problems > 0,
                            rx.text(
                                "Unfinished rules are not counted yet.",
                                size="1",
                                color=rx.color("amber", 11),
                            ),
                        ),
                        rx.text("Newest matches", size="2", weight="medium", margin_top="8px"),
                        _sample(),
                        spacing="2",
                        width="100%",
                    ),
                    background=rx.color("accent", 2),
                ),
                columns=rx.breakpoints(
                    initial="minmax(0, 1fr)", md="minmax(0, 3fr) minmax(0, 2fr)"
                ),
                spacing="4",
                width="100%",
                align_items="start",
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
        id="segment-editor",
    )


def _confirm_delete() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete segment “", S.delete_name, "”?"),
            rx.alert_dialog.description(
                "Customers are not touched; only the saved rules go. Campaigns already sent keep their audience."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    "Delete",
                    color_scheme="red",
                    on_click=S.confirm_delete,
                    id="segment-delete-confirm",
                ),
                justify="end",
                spacing="3",
                margin_top="12px",
            ),
        ),
        open=S.delete_id != "",
        on_open_change=S.set_delete_open,
    )


@template(route="/segments", title="Segments", on_load=S.load)
def segments_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.list_message != "",
            rx.callout(S.list_message, icon="info", size="1", id="segments-message"),
        ),
        rx.cond(S.editing, _editor(), _list()),
        _confirm_delete(),
        spacing="4",
        width="100%",
    )
