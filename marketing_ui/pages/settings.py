"""Settings page."""

import reflex as rx

from marketing_ui.components.layout import status_dot, template
from marketing_ui.state.settings import SettingsState


def _check_row(check: rx.Var) -> rx.Component:
    return rx.hstack(
        status_dot(check["ok"] != ""),
        rx.text(check["name"], weight="medium", min_width="140px"),
        rx.text(check["detail"], color=rx.color("gray", 11), size="2"),
        align="center",
        spacing="3",
        class_name="status-row",
        data_ok=check["ok"],
        id="status-" + check["name"].to(str).lower().replace(" ", "-"),
    )


def _field(label: str, name: str, value: rx.Var, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.input(name=name, default_value=value, width="100%", **props),
        spacing="1",
        width="100%",
    )


def _messages(ok: rx.Var, err: rx.Var) -> rx.Component:
    return rx.fragment(
        rx.cond(ok != "", rx.callout(ok, icon="check", color_scheme="grass", size="1")),
        rx.cond(err != "", rx.callout(err, icon="triangle-alert", color_scheme="red", size="1")),
    )


@template(route="/settings", title="Settings", on_load=SettingsState.load)
def settings() -> rx.Component:
    b = SettingsState.business
    lim = SettingsState.limits
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("System status", size="4"),
                    rx.badge(SettingsState.environment, variant="surface"),
                    rx.spacer(),
                    rx.button(
                        rx.icon("activity", size=16),
                        "Run health check",
                        on_click=SettingsState.run_health_check,
                        loading=SettingsState.health_running,
                        id="run-health",
                    ),
                    width="100%",
                    align="center",
                ),
                rx.foreach(SettingsState.checks, _check_row),
                rx.cond(
                    SettingsState.health_message != "",
                    rx.text(SettingsState.health_message, size="2", id="health-message"),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Business identity", size="4"),
                    rx.text(
                        "Shown in every email footer. A physical postal address is required by CAN-SPAM.",
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                    rx.grid(
                        _field("Business name", "business_name", b["business_name"]),
                        _field("Sender name", "sender_name", b["sender_name"]),
                        _field("Sender address", "sender_email", b["sender_email"]),
                        _field("Postal address", "postal_address", b["postal_address"]),
                        _field("Logo (asset file name)", "logo", b["logo"]),
                        _field("Time zone", "timezone", b["timezone"]),
                        columns="2",
                        spacing="3",
                        width="100%",
                    ),
                    _messages(SettingsState.business_message, SettingsState.business_error),
                    rx.button("Save identity", type="submit", id="save-business"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=SettingsState.save_business,
                reset_on_submit=False,
                key=b["business_name"],
            ),
            width="100%",
        ),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sending limits", size="4"),
                    rx.text(
                        "Shared by every worker through Redis. 0 means unlimited.",
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                    rx.grid(
                        _field(
                            "Email messages per second", "email_rate_per_s", lim["email_rate_per_s"]
                        ),
                        _field("Email burst", "email_burst", lim["email_burst"]),
                        _field("SMS per second", "sms_rate_per_s", lim["sms_rate_per_s"]),
                        _field("SMS burst", "sms_burst", lim["sms_burst"]),
                        _field("Attempts per message", "max_attempts", lim["max_attempts"]),
                        _field(
                            "Fail campaign above error %",
                            "failure_threshold_pct",
                            lim["failure_threshold_pct"],
                        ),
                        columns="3",
                        spacing="3",
                        width="100%",
                    ),
                    _messages(SettingsState.limits_message, SettingsState.limits_error),
                    rx.button("Save limits", type="submit", id="save-limits"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=SettingsState.save_limits,
                reset_on_submit=False,
                key=lim["email_rate_per_s"],
            ),
            width="100%",
        ),
        spacing="5",
        width="100%",
    )
