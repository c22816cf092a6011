"""The drop-down every page uses: a value, its setter, and (value, label) choices."""

from __future__ import annotations

from collections.abc import Sequence

import reflex as rx


def choice_select(
    value: rx.Var,
    on_change: rx.EventHandler,
    items: Sequence[tuple[str, str]],
    *extra: rx.Component,
    **trigger_props: object,
) -> rx.Component:
    """Fixed choices first, then `extra` items (such as an `rx.foreach` over loaded ones)."""
    return rx.select.root(
        rx.select.trigger(**trigger_props),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in items], *extra),
        value=value,
        on_change=on_change,
    )
