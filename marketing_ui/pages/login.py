"""Login page: a plain HTML form posted to the backend, which answers with an HttpOnly cookie."""

import reflex as rx

from marketing_ui.components.backend_link import backend_url
from marketing_ui.components.layout import ready_marker
from marketing_ui.components.theme import MUTED
from marketing_ui.state.auth import LoginState

FORM_ID = "login-form"


@rx.page(route="/login", title="Log in · Campaigns", on_load=LoginState.load)
def login() -> rx.Component:
    return rx.center(
        ready_marker(),
        rx.card(
            rx.el.form(
                rx.vstack(
                    rx.hstack(
                        rx.icon("megaphone", size=30, color=rx.color("accent", 10)),
                        rx.heading("Campaign manager", size="6"),
                        align="center",
                        spacing="3",
                    ),
                    rx.text("Sign in to continue", color=MUTED),
                    rx.el.label(
                        "Username", html_for="username", font_size="14px", font_weight="500"
                    ),
                    rx.input(
                        name="username",
                        id="username",
                        placeholder="admin",
                        width="100%",
                        auto_focus=True,
                        auto_complete="username",
                        required=True,
                    ),
                    rx.el.label(
                        "Password", html_for="password", font_size="14px", font_weight="500"
                    ),
                    rx.input(
                        name="password",
                        id="password",
                        type="password",
                        width="100%",
                        auto_complete="current-password",
                        required=True,
                    ),
                    rx.el.input(type="hidden", name="next", value=LoginState.next_path),
                    rx.cond(
                        LoginState.error != "",
                        rx.callout(
                            LoginState.error,
                            icon="triangle-alert",
                            color_scheme="red",
                            id="login-error",
                            width="100%",
                        ),
                    ),
                    rx.button("Log in", type="submit", width="100%", size="3", id="login-submit"),
                    spacing="3",
                    width="100%",
                ),
                # Reflex's form handler stops the browser's own submit; form.submit() does not
                # fire that handler again, so the browser posts the form itself.
                on_submit=rx.call_script(f"document.getElementById('{FORM_ID}').submit()"),
                action=backend_url("/auth/login"),
                method="post",
                id=FORM_ID,
                width="100%",
            ),
            width="100%",
            max_width="380px",
            padding="28px",
        ),
        min_height="100vh",
        padding="16px",
        background=rx.color("gray", 2),
    )
