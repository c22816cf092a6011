"""Campaign preview at desktop and mobile widths, for the sample or a real customer; send a test."""

import reflex as rx

from marketing_ui.components.layout import template
from marketing_ui.components.status_badge import status_badge
from marketing_ui.components.theme import MUTED
from marketing_ui.core.sending import MAX_TEST_RECIPIENTS
from marketing_ui.state.campaign_preview import CampaignPreviewState

P = CampaignPreviewState


def _customer_picker() -> rx.Component:
    return rx.vstack(
        rx.text("Preview as", size="2", weight="medium"),
        rx.hstack(
            rx.badge(P.customer_label, size="2", variant="surface", id="preview-customer"),
            rx.cond(
                P.customer_id != 0,
                rx.button("Use sample", size="1", variant="ghost", on_click=P.use_sample),
            ),
            align="center",
        ),
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Search a customer by name",
            value=P.customer_query,
            on_change=P.search_customers,
            debounce_timeout=300,
            id="preview-customer-search",
            width="100%",
        ),
        rx.vstack(
            rx.foreach(
                P.customer_options,
                lambda o: rx.button(
                    o["label"],
                    variant="ghost",
                    size="1",
                    on_click=P.choose_customer(o["id"]),
                    class_name="customer-option",
                ),
            ),
            spacing="1",
            align="start",
        ),
        spacing="2",
        width="100%",
    )


def _test_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Send a test", size="3"),
            rx.text(
                f"Up to {MAX_TEST_RECIPIENTS} email addresses or phone numbers, separated by "
                "commas, semicolons or new lines; sent through the configured provider and "
                "marked as a test.",
                size="1",
                color=MUTED,
            ),
            rx.text_area(
                value=P.test_recipients,
                on_change=P.set_test_recipients,
                placeholder="you@example.com, +1 415 555 0199",
                id="test-recipients",
                width="100%",
            ),
            rx.button(
                rx.icon("send", size=14),
                "Send test",
                on_click=P.send_test,
                id="send-test",
            ),
            rx.cond(
                P.test_message != "",
                rx.text(P.test_message, size="2", white_space="pre-wrap", id="test-message"),
            ),
            rx.cond(
                P.test_error != "",
                rx.text(
                    P.test_error,
                    size="2",
                    color=rx.color("red", 11),
                    white_space="pre-wrap",
                    id="test-error",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _email() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.segmented_control.root(
                rx.segmented_control.item("Desktop", value="desktop"),
                rx.segmented_control.item("Mobile", value="mobile"),
                value=P.width,
                on_change=P.set_width,
                id="preview-width",
            ),
            rx.text(rx.text.strong("Subject: "), P.subject, size="2", id="preview-subject"),
            align="center",
            spacing="4",
            wrap="wrap",
        ),
        rx.box(
            rx.el.iframe(
                src_doc=P.html,
                sandbox="",
                title="Email preview",
                id="preview-frame",
                width=P.frame_width,
                height="720px",
                style={
                    "border": f"1px solid {rx.color('gray', 6)}",
                    "borderRadius": "8px",
                    "background": "white",
                    "maxWidth": "100%",
                },
            ),
            width="100%",
            display="flex",
            justify_content="center",
            background=rx.color("gray", 3),
            padding=rx.breakpoints(initial="8px", sm="16px"),
            border_radius="10px",
        ),
        rx.heading("Plain-text version", size="3"),
        rx.box(
            rx.text(P.text, white_space="pre-wrap", font_family="monospace", size="1"),
            id="preview-text",
            padding="12px",
            border=f"1px solid {rx.color('gray', 6)}",
            border_radius="8px",
            max_height="320px",
            overflow_y="auto",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _sms() -> rx.Component:
    return rx.vstack(
        rx.heading("SMS", size="3"),
        rx.box(
            rx.text(P.sms_text, white_space="pre-wrap", size="2", id="preview-sms"),
            background=rx.color("accent", 3),
            border_radius="14px",
            padding="10px 14px",
            max_width="320px",
        ),
        rx.text(P.sms_counter, size="1", color=MUTED),
        spacing="2",
        width="100%",
    )


def _content() -> rx.Component:
    cid = P.shown_campaign_id.to(str)
    return rx.vstack(
        rx.flex(
            rx.hstack(
                rx.heading(P.name, size="5", overflow_wrap="anywhere", min_width="0"),
                rx.box(status_badge(P.status), flex_shrink="0"),
                align="center",
                spacing="3",
                min_width="0",
            ),
            rx.cond(
                P.editable,
                rx.hstack(
                    rx.link(
                        rx.button(rx.icon("pencil", size=14), "Edit", variant="soft"),
                        href="/campaigns/" + cid + "/edit",
                    ),
                    rx.link(
                        rx.button(rx.icon("send", size=14), "Review and send"),
                        href="/campaigns/" + cid + "/send",
                        id="review-send",
                    ),
                    spacing="2",
                    margin_left="auto",
                ),
                rx.hstack(
                    rx.link(
                        rx.button(rx.icon("activity", size=14), "View progress", variant="soft"),
                        href="/campaigns/" + cid + "/progress",
                        id="view-progress",
                    ),
                    rx.link(
                        rx.button(rx.icon("chart-bar", size=14), "Analytics", variant="soft"),
                        href="/campaigns/" + cid + "/analytics",
                        id="view-analytics",
                    ),
                    spacing="2",
                    margin_left="auto",
                ),
            ),
            width="100%",
            align="center",
            gap="8px",
            wrap="wrap",
        ),
        rx.cond(
            P.errors != "",
            rx.callout(P.errors, icon="triangle-alert", color_scheme="red", white_space="pre-wrap"),
        ),
        rx.grid(
            rx.vstack(
                rx.cond(P.has_email, _email()),
                rx.cond(P.has_sms, _sms()),
                spacing="5",
                width="100%",
                min_width="0",
            ),
            rx.vstack(
                rx.card(_customer_picker(), width="100%"),
                _test_card(),
                spacing="4",
                width="100%",
                min_width="0",
            ),
            columns=rx.breakpoints(initial="minmax(0, 1fr)", lg="minmax(0, 3fr) minmax(0, 1fr)"),
            spacing="5",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


@template(route="/campaigns/[campaign_id]/preview", title="Preview", on_load=P.load)
def campaign_preview() -> rx.Component:
    return rx.cond(
        P.not_found,
        rx.callout("This campaign does not exist.", icon="circle-x", color_scheme="red"),
        _content(),
    )
