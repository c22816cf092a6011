"""Audit log: every admin write, who made it and when (admins only)."""

import reflex as rx

from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.responsive_rows import responsive_rows
from marketing_ui.components.theme import MUTED
from marketing_ui.state.audit_log import ANY_AREA, AREAS
from marketing_ui.state.audit_log import AuditLogState as S

register_nav("Audit log", "/audit", "scroll-text", 95)


def _filters() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text("Who", size="1", color=MUTED),
            rx.select(S.actors, value=S.actor, on_change=S.set_actor, id="audit-actor"),
            spacing="1",
        ),
        rx.vstack(
            rx.text("Area", size="1", color=MUTED),
            rx.select([ANY_AREA, *AREAS], value=S.area, on_change=S.set_area, id="audit-area"),
            spacing="1",
        ),
        rx.vstack(
            rx.text("Object #", size="1", color=MUTED),
            rx.input(
                value=S.object_id,
                on_change=S.set_object_id.debounce(400),
                placeholder="e.g. 42",
                width="90px",
                id="audit-object",
            ),
            spacing="1",
        ),
        rx.vstack(
            rx.text("From", size="1", color=MUTED),
            rx.input(type="date", value=S.since, on_change=S.set_since, id="audit-since"),
            spacing="1",
        ),
        rx.vstack(
            rx.text("To", size="1", color=MUTED),
            rx.input(type="date", value=S.until, on_change=S.set_until, id="audit-until"),
            spacing="1",
        ),
        rx.button("Clear", on_click=S.clear_filters, variant="ghost", id="audit-clear"),
        gap="12px",
        wrap="wrap",
        align="end",
        margin_bottom="16px",
    )


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["at"], size="2", white_space="nowrap")),
        rx.table.cell(row["actor"]),
        rx.table.cell(rx.code(row["action"])),
        rx.table.cell(row["object"]),
        rx.table.cell(rx.text(row["summary"], size="2")),
        class_name="audit-row",
    )


def _card(row: rx.Var) -> rx.Component:
    """The same entry on a phone: stacked instead of a wide row."""
    return rx.box(
        rx.hstack(
            rx.code(row["action"]),
            rx.spacer(),
            rx.text(row["at"], size="1", color=rx.color("gray", 10)),
            width="100%",
            align="center",
        ),
        rx.text(row["actor"], " · ", row["object"], size="2", margin_top="4px"),
        rx.cond(row["summary"] != "", rx.text(row["summary"], size="2", color=MUTED)),
        padding="10px 0",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name="audit-card",
    )


@template(route="/audit", title="Audit log", on_load=S.load)
def audit_log() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Every change made by an admin, the command line or the system. Contact details "
            "are never written here; entries name fields and counts.",
            size="2",
            color=MUTED,
        ),
        _filters(),
        rx.cond(S.error != "", rx.callout(S.error, color_scheme="red", icon="triangle-alert")),
        *responsive_rows(
            ["When", "Who", "Action", "Object", "Details"],
            S.rows,
            _row,
            _card,
            "audit-table",
        ),
        rx.cond(
            S.rows.length() == 0,
            rx.text("Nothing matches these filters.", color=MUTED, id="audit-empty"),
        ),
        rx.hstack(
            rx.text("Page ", S.page_number, size="2", color=MUTED),
            rx.spacer(),
            rx.button(
                "Previous",
                on_click=S.previous_page,
                disabled=S.page_number <= 1,
                variant="soft",
                id="audit-previous",
            ),
            rx.button(
                "Next",
                on_click=S.next_page,
                disabled=S.next_cursor == "",
                variant="soft",
                id="audit-next",
            ),
            width="100%",
            align="center",
        ),
        width="100%",
        spacing="3",
    )
