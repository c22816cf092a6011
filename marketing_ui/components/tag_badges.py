"""Tag badges and the clickable tag picker shared by the customers, import and segment pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx


@dataclass
class TagView:
    """A tag as the browser sees it: ids as strings so they compare with select values."""

    id: str = ""
    name: str = ""
    color: str = "gray"
    customers: int = 0


def tag_badge(tag: rx.Var[TagView] | TagView, **props) -> rx.Component:
    return rx.badge(tag.name, color_scheme=tag.color, variant="soft", radius="full", **props)


def tag_picker(
    tags: rx.Var[list[TagView]],
    selected: rx.Var[list[str]],
    on_toggle: Callable[[rx.Var[str]], rx.event.EventSpec],
    id_prefix: str,
) -> rx.Component:
    """Every tag as a toggle chip: solid when picked (a multi-select that needs no extra library)."""
    return rx.cond(
        tags.length() > 0,
        rx.flex(
            rx.foreach(
                tags,
                lambda tag: rx.badge(
                    rx.cond(selected.contains(tag.id), rx.icon("check", size=12), rx.fragment()),
                    tag.name,
                    color_scheme=tag.color,
                    variant=rx.cond(selected.contains(tag.id), "solid", "outline"),
                    radius="full",
                    size="2",
                    cursor="pointer",
                    on_click=on_toggle(tag.id),
                    id=f"{id_prefix}-" + tag.name.to(str).lower().replace(" ", "-"),
                    data_selected=rx.cond(selected.contains(tag.id), "1", ""),
                ),
            ),
            wrap="wrap",
            gap="6px",
        ),
        rx.text("No tags yet.", size="2", color=rx.color("gray", 10)),
    )
