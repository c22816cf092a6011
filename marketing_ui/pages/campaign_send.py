"""Send-confirm: pick the audience, see exact counts and duration, send now or schedule."""

import reflex as rx

from marketing_ui.components.layout import template
from marketing_ui.components.status_badge import status_badge
from marketing_ui.components.theme import MUTED
from marketing_ui.state.campaign_send import CampaignSendState

C = CampaignSendState


def _choice_row(item: rx.Var, on_toggle) -> rx.Component:  # noqa: ANN001 - event handler
    return rx.hstack(
        rx.text(item["name"], size="2", flex="1", min_width="0", overflow_wrap="anywhere"),
        rx.cond(
            ~C.everyone,
            rx.checkbox(
                "Include",
                checked=item["include"] != "",
                on_change=lambda _v: on_toggle(item["id"], "include"),
                size="1",
            ),
        ),
        rx.checkbox(
            "Exclude",
            checked=item["exclude"] != "",
            on_change=lambda _v: on_toggle(item["id"], "exclude"),
            size="1",
            color_scheme="red",
        ),
        spacing="3",
        width="100%",
        align="center",
        padding_right="12px",  # clear of the scroll bar
        class_name="audience-choice",
        data_name=item["name"],
    )


def _choices(title: str, items: rx.Var, on_toggle, empty: str) -> rx.Component:  # noqa: ANN001
    return rx.vstack(
        rx.text(title, size="2", weight="bold"),
        rx.cond(
            items.length() > 0,
            rx.scroll_area(
                rx.vstack(rx.foreach(items, lambda i: _choice_row(i, on_toggle)), width="100%"),
                max_height="220px",
                type="auto",
                scrollbars="vertical",
            ),
            rx.text(empty, size="2", color=rx.color("gray", 10)),
        ),
        spacing="2",
        width="100%",
    )


def _audience_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Audience", size="4"),
            rx.hstack(
                rx.switch(checked=C.everyone, on_change=C.set_everyone, id="audience-everyone"),
                rx.text("Everyone with consent for the channel", weight="medium"),
                align="center",
                spacing="2",
            ),
            rx.text(
                rx.cond(
                    C.everyone,
                    "Every customer who agreed to receive this channel, minus exclusions.",
                    "Only customers in the segments and tags you include, minus exclusions.",
                ),
                size="2",
                color=MUTED,
            ),
            rx.grid(
                _choices("Segments", C.segments, C.toggle_segment, "No segments yet."),
                _choices("Tags", C.tags, C.toggle_tag, "No tags yet."),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="5",
                width="100%",
            ),
            rx.cond(
                C.audience_error != "",
                rx.callout(C.audience_error, icon="triangle-alert", color_scheme="red", size="1"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _count_card(row: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(row["channel"], size="2", color=MUTED),
            rx.heading(
                row["count"], size="8", class_name="recipient-count", data_channel=row["channel"]
            ),
            rx.text(
                "recipients after consent, suppression and the frequency cap",
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.cond(
                row["held_back"] != "",
                rx.text(
                    row["held_back"], size="1", color=rx.color("amber", 11), class_name="held-back"
                ),
            ),
            rx.cond(
                row["held_out"] != "",
                rx.text(
                    row["held_out"], size="1", color=rx.color("blue", 11), class_name="held-out"
                ),
            ),
            rx.hstack(
                rx.icon("timer", size=14),
                rx.text(row["duration"], size="2"),
                align="center",
                spacing="1",
            ),
            spacing="1",
        ),
        min_width="240px",
    )


def _holdout_card() -> rx.Component:
    """ "Hold out N% of the audience": a random share never messaged, to measure the lift."""
    return rx.card(
        rx.vstack(
            rx.heading("Holdout group", size="4"),
            rx.hstack(
                rx.text("Hold out", weight="medium"),
                rx.input(
                    default_value=C.holdout_percent,
                    key=C.holdout_percent,
                    on_blur=C.set_holdout,
                    type="number",
                    min=0,
                    max=50,
                    step=1,
                    width="80px",
                    disabled=~C.editable,
                    id="holdout-percent",
                ),
                rx.text("% of the audience (0 to 50)", weight="medium"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            rx.text(
                "A random share of those who would be messaged is set aside and never messaged; "
                "analytics then compares their visits and spending with the messaged customers' "
                "to show what the campaign really brought in. 0 sends to everyone.",
                size="2",
                color=MUTED,
            ),
            rx.cond(
                C.holdout_note != "",
                rx.text(C.holdout_note, size="2", color=rx.color("blue", 11), id="holdout-note"),
            ),
            rx.cond(
                C.holdout_error != "",
                rx.callout(
                    C.holdout_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    id="holdout-error",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="holdout-card",
    )


def _problems() -> rx.Component:
    return rx.cond(
        ~C.editable,
        rx.callout.root(
            rx.callout.icon(rx.icon("info")),
            rx.hstack(
                rx.text("This campaign is ", C.status, ": it cannot be sent again."),
                rx.link(
                    "See its progress",
                    href="/campaigns/" + C.shown_campaign_id.to(str) + "/progress",
                ),
                rx.text("or duplicate it from the campaign list to send a new version."),
                spacing="1",
                wrap="wrap",
            ),
            color_scheme="gray",
            id="send-locked",
            width="100%",
        ),
        _send_problems(),
    )


def _send_problems() -> rx.Component:
    return rx.cond(
        C.problems.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("octagon-alert")),
            rx.vstack(
                rx.text("This campaign cannot be sent yet:", weight="bold"),
                rx.el.ul(rx.foreach(C.problems, lambda p: rx.el.li(p)), padding_left="18px"),
                spacing="1",
            ),
            color_scheme="red",
            id="send-problems",
            width="100%",
        ),
    )


def _actions() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Send", size="4"),
            rx.hstack(
                rx.button(
                    rx.icon("send", size=16),
                    "Send now",
                    size="3",
                    disabled=~C.can_send,
                    on_click=C.open_confirm,
                    id="send-now",
                ),
                rx.divider(orientation="vertical", size="2"),
                rx.input(
                    type="date",
                    value=C.schedule_date,
                    on_change=C.set_schedule_date,
                    id="schedule-date",
                ),
                rx.input(
                    type="time",
                    value=C.schedule_time,
                    on_change=C.set_schedule_time,
                    id="schedule-time",
                ),
                rx.badge(C.timezone, variant="surface", id="schedule-timezone"),
                rx.button(
                    rx.icon("calendar-clock", size=16),
                    "Schedule",
                    size="3",
                    variant="soft",
                    disabled=~C.can_send,
                    on_click=C.schedule,
                    id="schedule-send",
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                C.action_error != "",
                rx.callout(
                    C.action_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    id="send-error",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _confirm_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Send now?"),
            rx.alert_dialog.description(  # a <p> itself: its content must not be another <p>
                "“",
                C.name,
                "” goes out to ",
                C.total,
                " recipients. This cannot be undone, though you can pause it while it sends.",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button(
                        "Cancel", variant="soft", color_scheme="gray", on_click=C.close_confirm
                    )
                ),
                rx.alert_dialog.action(rx.button("Send", on_click=C.send_now, id="confirm-send")),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=C.confirm_open,
    )


def _content() -> rx.Component:
    cid = C.shown_campaign_id.to(str)
    return rx.vstack(
        rx.flex(
            rx.hstack(
                rx.heading(C.name, size="5", overflow_wrap="anywhere", min_width="0"),
                rx.box(status_badge(C.status), id="send-status", flex_shrink="0"),
                align="center",
                spacing="3",
                min_width="0",
            ),
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("eye", size=14), "Preview", variant="soft"),
                    href="/campaigns/" + cid + "/preview",
                ),
                rx.cond(
                    C.editable,
                    rx.link(
                        rx.button(rx.icon("pencil", size=14), "Edit", variant="soft"),
                        href="/campaigns/" + cid + "/edit",
                    ),
                ),
                spacing="2",
                margin_left="auto",
            ),
            width="100%",
            align="center",
            gap="8px",
            wrap="wrap",
        ),
        _problems(),
        _audience_card(),
        _holdout_card(),
        rx.flex(rx.foreach(C.counts, _count_card), gap="16px", wrap="wrap", id="recipient-counts"),
        _actions(),
        _confirm_dialog(),
        spacing="4",
        width="100%",
    )


@template(route="/campaigns/[campaign_id]/send", title="Send campaign", on_load=C.load)
def campaign_send() -> rx.Component:
    return rx.cond(
        C.not_found,
        rx.callout("This campaign does not exist.", icon="circle-x", color_scheme="red"),
        _content(),
    )
