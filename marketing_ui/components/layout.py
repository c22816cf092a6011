"""The app shell: sidebar navigation, top bar, and the `template` decorator every page uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx

from marketing_ui.components.backend_link import backend_url
from marketing_ui.components.theme import MUTED
from marketing_ui.state.auth import AuthState

LOGOUT_FORM_ID = "logout-form"  # a POST form (the endpoint clears the HttpOnly cookie)


@dataclass(frozen=True)
class NavItem:
    order: int
    label: str
    route: str
    icon: str
    staff: bool = False  # shown to staff accounts too (otherwise admins only)


# Only pages that exist are listed; each page module registers itself at import.
# Orders in use: Dashboard 0, Campaigns 10, Automations 15, Customers 20, Segments 30, Import 25,
# Analytics 40, Outbox 50, Redeem 60, Settings 90.
NAV_ITEMS: list[NavItem] = [
    NavItem(0, "Dashboard", "/", "layout-dashboard"),
    NavItem(90, "Settings", "/settings", "settings"),
]


def register_nav(label: str, route: str, icon: str, order: int, staff: bool = False) -> None:
    """Add a page to the sidebar (called by page modules at import)."""
    if any(item.route == route for item in NAV_ITEMS):
        return
    NAV_ITEMS.append(NavItem(order, label, route, icon, staff))
    NAV_ITEMS.sort(key=lambda item: item.order)


def _nav(item: NavItem) -> rx.Component:
    link = _nav_link(item.label, item.route, item.icon)
    return link if item.staff else rx.cond(AuthState.is_admin, link, rx.fragment())


def _nav_link(label: str, route: str, icon: str) -> rx.Component:
    active = (rx.State.router.url.path == route) | (
        (route != "/") & rx.State.router.url.path.startswith(route)
    )
    return rx.link(
        rx.hstack(rx.icon(icon, size=18), rx.text(label, size="3"), spacing="3", align="center"),
        href=route,
        underline="none",
        width="100%",
        padding="8px 12px",
        border_radius="8px",
        color=rx.cond(active, rx.color("accent", 11), MUTED),
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.color("gray", 3)},
    )


def _submit_logout() -> rx.event.EventSpec:
    """Post the shell's hidden logout form natively (only an HTTP answer clears the cookie)."""
    return rx.call_script(f"document.getElementById('{LOGOUT_FORM_ID}').submit()")


def logout_form() -> rx.Component:
    return rx.el.form(action=backend_url("/auth/logout"), method="post", id=LOGOUT_FORM_ID)


def sidebar() -> rx.Component:
    """Desktop navigation: the column (and its background) runs the full page height while
    the links inside stay in view as a long page scrolls."""
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.icon("megaphone", size=26, color=rx.color("accent", 10)),
                rx.heading("Campaigns", size="5"),
                align="center",
                spacing="2",
                padding_bottom="16px",
            ),
            *[_nav(item) for item in NAV_ITEMS],
            rx.spacer(),
            rx.hstack(
                rx.icon("circle-user", size=18),
                rx.text(AuthState.username, size="2", weight="medium"),
                rx.badge(AuthState.role, variant="soft"),
                align="center",
                spacing="2",
            ),
            rx.button(
                rx.icon("log-out", size=16),
                "Log out",
                on_click=_submit_logout(),
                variant="soft",
                color_scheme="gray",
                width="100%",
                id="logout",
            ),
            height="100vh",
            position="sticky",
            top="0",
            padding="20px 14px",
            spacing="1",
        ),
        width="220px",
        min_width="220px",
        align_self="stretch",
        display=["none", "none", "block"],  # phones get the top bar instead
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        id="sidebar",
    )


def _menu_item(item: NavItem) -> rx.Component:
    entry = rx.menu.item(
        rx.hstack(rx.icon(item.icon, size=16), rx.text(item.label), spacing="2", align="center"),
        on_click=rx.redirect(item.route),
    )
    return entry if item.staff else rx.cond(AuthState.is_admin, entry, rx.fragment())


TOPBAR_HEIGHT = "53px"
# Where a page's own sticky bar sits: under the phone top bar, at the top on desktop.
STICKY_TOP = rx.breakpoints(initial=TOPBAR_HEIGHT, md="0")


def topbar() -> rx.Component:
    """Phones and small tablets: one bar with a menu instead of the sidebar."""
    return rx.hstack(
        rx.icon("megaphone", size=22, color=rx.color("accent", 10)),
        rx.heading("Campaigns", size="4"),
        rx.spacer(),
        rx.menu.root(
            rx.menu.trigger(
                rx.button(rx.icon("menu", size=18), variant="soft", id="mobile-menu"),
            ),
            rx.menu.content(
                *[_menu_item(item) for item in NAV_ITEMS],
                rx.menu.separator(),
                rx.menu.item(
                    rx.hstack(rx.icon("log-out", size=16), rx.text("Log out ", AuthState.username)),
                    on_click=_submit_logout(),
                ),
            ),
        ),
        display=["flex", "flex", "none"],
        width="100%",
        height=TOPBAR_HEIGHT,
        align="center",
        spacing="2",
        padding="0 16px",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        position="sticky",
        top="0",
        z_index="10",
    )


def ready_marker() -> rx.Component:
    """Which page's on_load events last finished, and whether hydration is done (tests wait
    for `[data-path='/segments'][data-ready='true']` after clicking a link)."""
    return rx.el.span(
        id="page-ready",
        data_ready=rx.State.is_hydrated,
        data_path=AuthState.loaded_path,
        display="none",
    )


def shell(content: rx.Component, title: str) -> rx.Component:
    return rx.flex(
        logout_form(),
        ready_marker(),
        sidebar(),
        topbar(),
        rx.box(
            rx.heading(title, size=rx.breakpoints(initial="6", md="7"), margin_bottom="20px"),
            content,
            padding=["16px", "20px", "28px 36px"],
            width="100%",
            max_width="1200px",
            min_width="0",
        ),
        direction=rx.breakpoints(initial="column", md="row"),
        align="start",
        width="100%",
        min_height="100vh",
    )


def template(
    route: str,
    title: str,
    on_load: Callable | list[Callable] | None = None,
    staff: bool = False,
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Wrap a page's content in the shell and guard it: admins only unless `staff=True`."""
    extra = [] if on_load is None else (on_load if isinstance(on_load, list) else [on_load])
    guard = AuthState.require_staff if staff else AuthState.require_admin

    def decorator(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def page() -> rx.Component:
            return shell(content(), title)

        page.__name__ = content.__name__
        loads = [guard, *extra, AuthState.page_loaded]
        rx.page(route=route, title=f"{title} · Campaigns", on_load=loads)(page)
        return page

    return decorator


def stat_card(
    label: str, value: rx.Var | str | int, icon: str, card_id: str, hint: rx.Var | str = ""
) -> rx.Component:
    """A headline number; `hint` says what it means when it needs saying (e.g. why "–")."""
    lines = [
        rx.text(label, size="2", color=MUTED),
        rx.heading(value, size="7", id=card_id),
    ]
    if isinstance(hint, rx.Var) or hint:
        lines.append(
            rx.cond(
                hint != "",
                rx.text(hint, size="1", color=rx.color("gray", 10), id=f"{card_id}-hint"),
            )
        )
    return rx.card(
        rx.hstack(
            rx.box(rx.icon(icon, size=22), color=rx.color("accent", 11)),
            rx.vstack(*lines, spacing="1"),
            spacing=rx.breakpoints(initial="3", sm="4"),
            align="center",
        ),
        # Two to a row on a phone, their own width on a desktop.
        min_width=rx.breakpoints(initial="140px", sm="200px"),
        flex=rx.breakpoints(initial="1 1 140px", md="0 0 auto"),
    )


def status_dot(state: rx.Var) -> rx.Component:
    """Green for "ok", red for "down", neutral grey while not known yet ("checking")."""
    return rx.box(
        width="12px",
        height="12px",
        border_radius="50%",
        background=rx.match(
            state,
            ("ok", rx.color("grass", 9)),
            ("down", rx.color("red", 9)),
            rx.color("gray", 8),
        ),
        flex_shrink="0",
    )
