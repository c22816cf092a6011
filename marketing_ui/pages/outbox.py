"""Development Outbox: every message the outbox provider stored, readable as the recipient would see it."""

import reflex as rx

from marketing_ui.components.layout import register_nav, template
from marketing_ui.state.outbox import OutboxState as S

register_nav("Outbox", "/outbox", "inbox", 50)


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["at"], size="2", white_space="nowrap")),
        rx.table.cell(rx.badge(row["channel"], variant="surface")),
        rx.table.cell(row["to"]),
        rx.table.cell(
            rx.hstack(
                rx.text(row["preview"], size="2"),
                rx.cond(row["test"] != "", rx.badge("test", color_scheme="amber")),
                spacing="2",
            )
        ),
        on_click=S.open_message(row["id"]),
        cursor="pointer",
        _hover={"background": rx.color("gray", 3)},
        class_name="outbox-row",
    )


def _detail() -> rx.Component:
    m = S.selected
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(
                    rx.cond(m["channel"] == "email", m["subject"], "SMS"),
                    size="4",
                    id="outbox-subject",
                ),
                rx.cond(m["test"] != "", rx.badge("test", color_scheme="amber")),
                rx.spacer(),
                rx.button("Close", on_click=S.close_message, variant="soft", id="outbox-close"),
                width="100%",
                align="center",
            ),
            rx.text(rx.text.strong("To: "), m["to"], size="2", id="outbox-to"),
            rx.text(rx.text.strong("Stored: "), m["at"], size="2"),
            rx.el.details(
                rx.el.summary("Headers"),
                rx.code_block(m["headers"], language="http", width="100%"),
                width="100%",
            ),
            rx.cond(
                m["channel"] == "email",
                rx.el.iframe(
                    src_doc=m["html"],
                    sandbox="",
                    title="Stored email",
                    id="outbox-frame",
                    width="100%",
                    height="640px",
                    style={
                        "border": f"1px solid {rx.color('gray', 6)}",
                        "borderRadius": "8px",
                        "background": "white",
                    },
                ),
            ),
            rx.heading(rx.cond(m["channel"] == "email", "Plain-text part", "Message"), size="3"),
            rx.box(
                rx.text(m["text"], size="2", white_space="pre-wrap", id="outbox-text"),
                padding="12px",
                border_radius="8px",
                background=rx.color("gray", 2),
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _list() -> rx.Component:
    return rx.card(
        rx.cond(
            S.rows.length() > 0,
            rx.vstack(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Stored"),
                            rx.table.column_header_cell("Channel"),
                            rx.table.column_header_cell("To"),
                            rx.table.column_header_cell("Subject / text"),
                        )
                    ),
                    rx.table.body(rx.foreach(S.rows, _row)),
                    width="100%",
                ),
                rx.hstack(
                    rx.button(
                        "Previous",
                        on_click=S.previous_page,
                        disabled=S.page_number <= 1,
                        variant="soft",
                        id="outbox-prev",
                    ),
                    rx.text("Page ", S.page_number, size="2"),
                    rx.button(
                        "Next",
                        on_click=S.next_page,
                        disabled=~S.has_next,
                        variant="soft",
                        id="outbox-next",
                    ),
                    align="center",
                    spacing="3",
                ),
                width="100%",
                spacing="3",
            ),
            rx.text(
                "Nothing stored yet. Send a campaign or a test message with the outbox "
                "provider and each message will appear here.",
                color=rx.color("gray", 10),
            ),
        ),
        width="100%",
    )


@template(route="/outbox", title="Outbox", on_load=S.load)
def outbox() -> rx.Component:
    return rx.vstack(
        rx.callout(S.provider_note, icon="info", width="100%"),
        rx.cond(S.selected.contains("id"), _detail()),
        _list(),
        spacing="4",
        width="100%",
    )
