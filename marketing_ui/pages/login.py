"""Login page."""

import reflex as rx

from marketing_ui.state.auth import LoginState


@rx.page(route="/login", title="Log in · Campaigns")
def login() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(
                        rx.icon("megaphone", size=30, color=rx.color("accent", 10)),
                        rx.heading("Campaign manager", size="6"),
                        align="center",
                        spacing="3",
                    ),
                    rx.text("Sign in to continue", color=rx.color("gray", 11)),
                    rx.text("Username", size="2", weight="medium"),
                    rx.input(
                        name="username",
                        id="username",
                        placeholder="admin",
                        width="100%",
                        auto_focus=True,
                    ),
                    rx.text("Password", size="2", weight="medium"),
                    rx.input(name="password", id="password", type="password", width="100%"),
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
                on_submit=LoginState.submit,
                reset_on_submit=False,
            ),
            width="380px",
            padding="28px",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
