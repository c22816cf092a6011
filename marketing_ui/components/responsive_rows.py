"""Rows as a table on a wide screen and as stacked cards on a phone (one list, two drawings)."""

from collections.abc import Callable

import reflex as rx


def responsive_rows(
    headers: list[str],
    rows: rx.Var,
    table_row: Callable[[rx.Var], rx.Component],
    card: Callable[[rx.Var], rx.Component],
    table_id: str,
) -> list[rx.Component]:
    """The table (md and up) and the cards (below md) of the same rows."""
    return [
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(rx.foreach(rows, table_row)),
                width="100%",
                id=table_id,
            ),
            overflow_x="auto",
            width="100%",
            display=rx.breakpoints(initial="none", md="block"),
        ),
        rx.vstack(
            rx.foreach(rows, card),
            spacing="0",
            width="100%",
            display=rx.breakpoints(initial="flex", md="none"),
        ),
    ]
