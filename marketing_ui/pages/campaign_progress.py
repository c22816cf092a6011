"""Live send progress for one campaign: updates itself twice a second, with pause/resume/cancel."""

import reflex as rx

from marketing_ui.components.layout import stat_card, template
from marketing_ui.components.status_badge import status_badge
from marketing_ui.state.campaign_progress import CampaignProgressState as S


def _status_badge() -> rx.Component:
    return rx.box(status_badge(S.status), id="progress-status", flex_shrink="0")


def _controls() -> rx.Component:
    live = (S.status == "sending") | (S.status == "paused")
    return rx.hstack(
        rx.cond(
            S.status == "sending",
            rx.button(
                rx.icon("pause", size=16), "Pause", on_click=S.pause, variant="soft", id="btn-pause"
            ),
        ),
        rx.cond(
            S.status == "paused",
            rx.button(rx.icon("play", size=16), "Resume", on_click=S.resume, id="btn-resume"),
        ),
        rx.cond(
            live,
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(
                    rx.button(
                        rx.icon("octagon-x", size=16),
                        "Cancel send",
                        color_scheme="red",
                        variant="soft",
                        id="btn-cancel",
                    )
                ),
                rx.alert_dialog.content(
                    rx.alert_dialog.title("Cancel this send?"),
                    rx.alert_dialog.description(
                        "Messages not yet handed to the provider will never be sent. "
                        "This cannot be undone."
                    ),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button("Keep sending", variant="soft")),
                        rx.alert_dialog.action(
                            rx.button(
                                "Cancel send",
                                color_scheme="red",
                                on_click=S.cancel,
                                id="btn-cancel-confirm",
                            )
                        ),
                        justify="end",
                        spacing="3",
                        margin_top="16px",
                    ),
                ),
            ),
        ),
        rx.cond(
            (S.failed > 0) & (S.status != "cancelled"),
            rx.button(
                rx.icon("rotate-ccw", size=16),
                "Retry failed only",
                on_click=S.retry_failed,
                variant="outline",
                id="btn-retry-failed",
            ),
        ),
        spacing="3",
    )


def _wait_note(w: rx.Var) -> rx.Component:
    """One reason the remaining messages wait, and when they go on."""
    return rx.cond(
        w["reason"] == "quiet_hours",
        rx.callout(
            w["text"],
            icon="moon",
            color_scheme="amber",
            width="100%",
            id="quiet-hours-note",
            class_name="wait-note",
        ),
        rx.callout(
            w["text"], icon="clock", color_scheme="blue", width="100%", class_name="wait-note"
        ),
    )


def _summary() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.hstack(
                    rx.heading(S.name, size="5", overflow_wrap="anywhere", min_width="0"),
                    _status_badge(),
                    align="center",
                    spacing="3",
                    min_width="0",
                ),
                rx.box(_controls(), margin_left="auto"),
                align="center",
                gap="8px",
                wrap="wrap",
                width="100%",
            ),
            rx.hstack(
                rx.progress(value=S.percent.to(int), max=100, size="3", width="100%"),
                rx.text(
                    S.percent_text,
                    weight="bold",
                    id="progress-percent",
                    min_width="64px",
                    white_space="nowrap",
                ),
                align="center",
                width="100%",
                spacing="3",
            ),
            rx.cond(
                S.pause_message != "",
                rx.callout(
                    S.pause_message,
                    icon="shield-alert",
                    color_scheme="orange",
                    width="100%",
                    id="auto-pause-reason",
                ),
            ),
            rx.cond(
                S.failure_reason != "",
                rx.callout(
                    S.failure_reason, icon="triangle-alert", color_scheme="red", width="100%"
                ),
            ),
            rx.foreach(S.waits, _wait_note),
            rx.cond(
                S.ab_note != "",
                rx.callout(
                    S.ab_note, icon="split", color_scheme="iris", width="100%", id="ab-note"
                ),
            ),
            rx.cond(S.message != "", rx.text(S.message, size="2", id="progress-message")),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def _stats() -> rx.Component:
    return rx.flex(
        stat_card("Sent", S.sent, "send", "progress-sent"),
        stat_card("Failed", S.failed, "circle-x", "progress-failed"),
        stat_card("Remaining", S.remaining, "hourglass", "progress-remaining"),
        stat_card("Per second", S.rate, "gauge", "progress-rate", hint=S.rate_hint),
        stat_card("Time left", S.eta, "timer", "progress-eta"),
        spacing="4",
        wrap="wrap",
        width="100%",
    )


def _channel_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge(row["channel"], variant="surface")),
        rx.table.cell(row["total"]),
        rx.table.cell(row["sent"]),
        rx.table.cell(row["failed"]),
        rx.table.cell(row["skipped"]),
        rx.table.cell(row["held_back"], class_name="held-back"),
        rx.table.cell(row["held_out"], class_name="held-out"),
        rx.table.cell(row["cancelled"]),
        rx.table.cell(row["remaining"]),
        rx.table.cell(row["waiting"]),
        rx.table.cell(row["rate"]),
        class_name="channel-row",
    )


def _channels() -> rx.Component:
    headers = [
        "Channel",
        "Recipients",
        "Sent",
        "Failed",
        "Skipped",
        "Held back (cap)",
        "Held out",
        "Cancelled",
        "Remaining",
        "Quiet hours",
        "Rate",
    ]
    return rx.card(
        rx.heading("By channel", size="4", margin_bottom="8px"),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h, white_space="nowrap") for h in headers]
                )
            ),
            rx.table.body(rx.foreach(S.channels, _channel_row)),
            width="100%",
        ),
        rx.text(
            "Skipped: the customer unsubscribed or the address was suppressed after the send "
            "started, or the frequency cap held the message back (counted apart as held back "
            "(cap): the customer already had the most marketing messages Settings allows in its "
            "window). "
            "Remaining includes messages waiting for a retry. Held out: the campaign's holdout "
            "group, never messaged by design (not counted in recipients), compared on the "
            "analytics page.",
            size="1",
            color=rx.color("gray", 10),
            margin_top="8px",
        ),
        width="100%",
    )


def _deliverability() -> rx.Component:
    """Hard bounces and complaints as they arrive, and the limits that pause the send."""
    return rx.card(
        rx.heading("Bounces and complaints", size="4", margin_bottom="8px"),
        rx.vstack(
            rx.foreach(
                S.health,
                lambda h: rx.flex(
                    rx.badge(h["channel"], variant="surface"),
                    rx.text(h["sent"], size="2"),
                    rx.text(h["bounced"], size="2", class_name="health-bounced"),
                    rx.cond(
                        h["complained"] != "",
                        rx.text(h["complained"], size="2", class_name="health-complained"),
                    ),
                    gap="4px 16px",
                    wrap="wrap",
                    align="center",
                    class_name="health-row",
                ),
            ),
            rx.text(S.guard_limits, size="1", color=rx.color("gray", 10)),
            rx.cond(
                S.guard_note != "",
                rx.text(S.guard_note, size="1", color=rx.color("gray", 10), id="guard-note"),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="deliverability",
    )


def _errors() -> rx.Component:
    return rx.card(
        rx.heading("Last errors", size="4", margin_bottom="8px"),
        rx.cond(
            S.errors.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Time (UTC)"),
                        rx.table.column_header_cell("Channel"),
                        rx.table.column_header_cell("Reason"),
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        S.errors,
                        lambda e: rx.table.row(
                            rx.table.cell(e["at"]),
                            rx.table.cell(e["channel"]),
                            rx.table.cell(rx.text(e["reason"], size="2")),
                            class_name="error-row",
                        ),
                    )
                ),
                width="100%",
            ),
            rx.text(
                "No errors so far. Provider errors (with their reasons) will appear here; "
                "temporary ones are retried automatically.",
                color=rx.color("gray", 10),
                size="2",
            ),
        ),
        width="100%",
    )


@template(route="/campaigns/[campaign_id]/progress", title="Send progress", on_load=S.load)
def campaign_progress() -> rx.Component:
    return rx.cond(
        S.found,
        rx.vstack(
            _summary(),
            _stats(),
            _channels(),
            _deliverability(),
            _errors(),
            rx.link("Back to campaigns", href="/campaigns", size="2"),
            spacing="5",
            width="100%",
        ),
        rx.callout("This campaign does not exist.", icon="circle-alert", color_scheme="red"),
    )
