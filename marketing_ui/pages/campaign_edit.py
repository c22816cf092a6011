"""New campaign (pick a template) and the editor: MJML beside a live sandboxed preview, SMS, QR."""

import reflex as rx

from marketing_ui.components.layout import STICKY_TOP, template
from marketing_ui.components.status_badge import status_badge
from marketing_ui.components.theme import MUTED
from marketing_ui.core.sms import STOP_NOTICE
from marketing_ui.state.campaign_ab import CampaignAbState
from marketing_ui.state.campaign_edit import CampaignEditState, NewCampaignState

S = CampaignEditState
PREVIEW_DEBOUNCE_MS = 400
_MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"


def labelled(label: str, control: rx.Component, hint: str | rx.Var = "") -> rx.Component:
    parts = [rx.text(label, size="2", weight="medium"), control]
    if isinstance(hint, rx.Var) or hint:
        parts.append(rx.text(hint, size="1", color=rx.color("gray", 10)))
    return rx.vstack(*parts, spacing="1", width="100%")


def channel_select(value: rx.Var, on_change: rx.EventHandler, select_id: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", id=select_id),
        rx.select.content(
            rx.select.item("Email", value="email"),
            rx.select.item("SMS", value="sms"),
            rx.select.item("Email and SMS", value="both"),
        ),
        value=value,
        on_change=on_change,
    )


# New campaign -------------------------------------------------------------------------------


def _template_card(t: rx.Var) -> rx.Component:
    chosen = NewCampaignState.chosen == t["name"]
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(rx.cond(chosen, "circle-check", "layout-template"), size=18),
                rx.heading(t["title"], size="3"),
                align="center",
                spacing="2",
            ),
            rx.text(t["description"], size="2", color=MUTED),
            spacing="2",
        ),
        on_click=NewCampaignState.choose(t["name"]),
        cursor="pointer",
        border=rx.cond(chosen, f"2px solid {rx.color('accent', 9)}", "2px solid transparent"),
        id="template-" + t["name"].to(str),
        class_name="template-card",
    )


@template(route="/campaigns/new", title="New campaign", on_load=NewCampaignState.load)
def new_campaign() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.grid(
                labelled(
                    "Name",
                    rx.input(
                        value=NewCampaignState.name,
                        on_change=NewCampaignState.set_name,
                        placeholder="e.g. Monday special, week 32",
                        id="new-name",
                        width="100%",
                    ),
                    "Only you see this name.",
                ),
                labelled(
                    "Channel",
                    channel_select(
                        NewCampaignState.channel, NewCampaignState.set_channel, "new-channel"
                    ),
                ),
                columns="2",
                spacing="4",
                width="100%",
            ),
            width="100%",
        ),
        rx.heading("Start from a template", size="4"),
        rx.grid(
            rx.foreach(NewCampaignState.templates, _template_card),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="3",
            width="100%",
        ),
        rx.cond(
            NewCampaignState.error != "",
            rx.callout(
                NewCampaignState.error, icon="triangle-alert", color_scheme="red", id="new-error"
            ),
        ),
        rx.hstack(
            rx.link(rx.button("Cancel", variant="soft", color_scheme="gray"), href="/campaigns"),
            rx.button(
                rx.icon("plus", size=16),
                "Create draft",
                on_click=NewCampaignState.create,
                id="create-campaign",
            ),
            spacing="3",
        ),
        spacing="4",
        width="100%",
    )


# Editor ---------------------------------------------------------------------------------------


def _insert_script(field: rx.Var) -> rx.Var:
    """Ask the browser for the target text area's text and cursor, then insert on the server."""
    return rx.call_script(
        "(() => { const el = document.getElementById("
        + rx.cond(S.insert_target == "sms", "'sms-body'", "'mjml-source'").to(str)
        + "); return JSON.stringify(['"
        + field.to(str)
        + "', el ? el.value : '', el ? el.selectionStart : -1]); })()",
        callback=S.insert_field,
    )


def _field_button(field: rx.Var) -> rx.Component:
    return rx.tooltip(
        rx.button(
            field["name"],
            size="1",
            variant="surface",
            on_click=_insert_script(field["name"]),
            font_family=_MONO,
            class_name="insert-field",
        ),
        content=field["help"],
    )


def _email_only(component: rx.Component) -> rx.Component:
    """Shown only while the campaign sends email (subject, sender, tracking, images)."""
    return rx.cond(S.has_email, component)


def _details_card() -> rx.Component:
    return rx.card(
        rx.grid(
            labelled(
                "Name", rx.input(value=S.name, on_change=S.set_name, id="edit-name", width="100%")
            ),
            labelled("Channel", channel_select(S.channel, S.set_channel, "edit-channel")),
            _email_only(
                labelled(
                    "Subject",
                    rx.input(
                        value=S.subject,
                        on_change=S.set_subject,
                        debounce_timeout=PREVIEW_DEBOUNCE_MS,
                        id="edit-subject",
                        width="100%",
                    ),
                )
            ),
            _email_only(
                labelled(
                    "Preheader",
                    rx.input(
                        value=S.preheader,
                        on_change=S.set_preheader,
                        debounce_timeout=PREVIEW_DEBOUNCE_MS,
                        placeholder="The grey line after the subject in the inbox",
                        id="edit-preheader",
                        width="100%",
                    ),
                )
            ),
            _email_only(
                labelled(
                    "Sender name",
                    rx.input(
                        value=S.from_name,
                        on_change=S.set_from_name,
                        debounce_timeout=PREVIEW_DEBOUNCE_MS,
                        id="edit-from-name",
                        width="100%",
                    ),
                )
            ),
            _email_only(
                labelled(
                    "Sender address",
                    rx.input(
                        value=S.from_email,
                        on_change=S.set_from_email,
                        id="edit-from-email",
                        width="100%",
                    ),
                    "Defaults from Settings → Business identity.",
                )
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def _second_chance_card() -> rx.Component:
    """Resend after some hours, with another subject, to recipients who did not open it."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.switch(
                    checked=S.second_chance_on,
                    on_change=S.set_second_chance_on,
                    id="edit-second-chance",
                ),
                rx.text("Second chance: resend to those who did not open it", weight="medium"),
                align="center",
                spacing="2",
            ),
            rx.cond(
                S.second_chance_on,
                rx.grid(
                    labelled(
                        "Second chance hours",
                        rx.input(
                            value=S.second_chance_hours,
                            on_change=S.set_second_chance_hours,
                            type="number",
                            min="1",
                            max="336",
                            id="edit-second-chance-hours",
                            width="100%",
                        ),
                        "Hours after the send (1 to 336).",
                    ),
                    labelled(
                        "Second chance subject",
                        rx.input(
                            value=S.second_chance_subject,
                            on_change=S.set_second_chance_subject,
                            placeholder="In case you missed it",
                            id="edit-second-chance-subject",
                            width="100%",
                        ),
                        "Must differ from the original subject.",
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="second-chance-card",
    )


# A/B test -------------------------------------------------------------------------------------

AB = CampaignAbState


def _ab_field_error(field: str) -> rx.Component:
    return rx.cond(
        AB.error_field == field,
        rx.text(AB.error, size="1", color=rx.color("red", 11), id=f"ab-error-{field}"),
    )


def _variant_input(v: rx.Var, field: str, label: str, area: bool = False) -> rx.Component:
    control = rx.text_area if area else rx.input
    extra = {"rows": "6", "font_family": _MONO, "font_size": "12px"} if area else {}
    return labelled(
        label,
        control(
            value=v[field],
            on_change=lambda value: AB.set_variant_field(v["label"], field, value),
            read_only=~AB.editable,
            width="100%",
            class_name=f"ab-{field}",
            **extra,
        ),
    )


def _variant_editor(v: rx.Var) -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.badge("Variant ", v["label"], size="2", variant="solid"),
                rx.spacer(),
                rx.cond(
                    AB.editable,
                    rx.button(
                        rx.icon("trash-2", size=14),
                        "Remove",
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=AB.remove_variant(v["label"]),
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                AB.error_field == "variant_" + v["label"].to(str),
                rx.text(
                    AB.error, size="1", color=rx.color("red", 11), class_name="ab-variant-error"
                ),
            ),
            rx.cond(
                S.has_email,
                rx.vstack(
                    _variant_input(v, "subject", "Subject"),
                    _variant_input(v, "preheader", "Preheader"),
                    _variant_input(v, "mjml_body", "Email content (MJML)", area=True),
                    spacing="2",
                    width="100%",
                ),
            ),
            rx.cond(S.has_sms, _variant_input(v, "sms_body", "SMS text", area=True)),
            rx.cond(S.has_qr_code, _variant_input(v, "offer_text", "Offer")),
            spacing="2",
            width="100%",
        ),
        padding="12px",
        border=f"1px solid {rx.color('gray', 6)}",
        border_radius="8px",
        width="100%",
        class_name="ab-variant",
        id="ab-variant-" + v["label"].to(str),
    )


def _ab_card() -> rx.Component:
    """Up to three more variants (B-D) of subject, content and offer, sent to a test share."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("split", size=18),
                rx.heading("A/B test", size="4"),
                rx.cond(AB.test_on, rx.badge("on", color_scheme="grass"), rx.badge("off")),
                align="center",
                spacing="2",
            ),
            rx.text(
                "Send 2 to 4 versions to a share of the audience first; after the window the "
                "one with the most clicks (or redemptions) per recipient goes to everyone else. "
                "Variant A is this campaign as saved above: ",
                rx.text.strong(AB.a_subject),
                size="2",
                color=MUTED,
            ),
            rx.grid(
                rx.vstack(
                    labelled(
                        "Test share (%)",
                        rx.input(
                            value=AB.percent,
                            on_change=AB.set_percent,
                            type="number",
                            min="0",
                            max="50",
                            read_only=~AB.editable,
                            id="ab-percent",
                            width="100%",
                        ),
                        "0 = no test; 1 to 50% of the audience gets the variants.",
                    ),
                    _ab_field_error("ab_percent"),
                    spacing="1",
                    width="100%",
                ),
                rx.vstack(
                    labelled(
                        "Winner by",
                        rx.select.root(
                            rx.select.trigger(width="100%", id="ab-metric"),
                            rx.select.content(
                                rx.select.item("Unique clicks", value="clicks"),
                                rx.select.item("Redemptions", value="redemptions"),
                            ),
                            value=AB.metric,
                            on_change=AB.set_metric,
                            disabled=~AB.editable,
                        ),
                        "Per recipient reached; a tie keeps A.",
                    ),
                    _ab_field_error("ab_metric"),
                    spacing="1",
                    width="100%",
                ),
                rx.vstack(
                    labelled(
                        "Winner window (hours)",
                        rx.input(
                            value=AB.window,
                            on_change=AB.set_window,
                            type="number",
                            min="1",
                            read_only=~AB.editable,
                            id="ab-window",
                            width="100%",
                        ),
                        "The winner is picked this long after the send (at least 1 hour).",
                    ),
                    _ab_field_error("ab_window"),
                    spacing="1",
                    width="100%",
                ),
                columns=rx.breakpoints(initial="1", sm="3"),
                spacing="3",
                width="100%",
            ),
            rx.foreach(AB.variants, _variant_editor),
            _ab_field_error("ab_variants"),
            rx.hstack(
                rx.button(
                    rx.icon("plus", size=14),
                    "Add variant",
                    variant="soft",
                    on_click=AB.add_variant,
                    disabled=~AB.can_add,
                    id="ab-add-variant",
                ),
                rx.button("Save A/B test", on_click=AB.save, disabled=~AB.editable, id="ab-save"),
                rx.cond(
                    AB.message != "",
                    rx.text(AB.message, size="2", color=rx.color("grass", 11), id="ab-message"),
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                (AB.error != "") & (AB.error_field == ""),
                rx.text(AB.error, size="2", color=rx.color("red", 11), id="ab-error"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="ab-test-card",
        on_mount=AB.load,
    )


def _automation_note() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("workflow")),
        rx.hstack(
            rx.text("This is the message of the ", S.automation_name, " automation."),
            rx.link("Automation settings", href="/automations/" + S.automation_kind),
            spacing="1",
            wrap="wrap",
        ),
        color_scheme="blue",
        id="automation-message-note",
        width="100%",
    )


def _offer_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.hstack(
                    rx.switch(checked=S.has_qr_code, on_change=S.set_has_qr_code, id="edit-has-qr"),
                    rx.text("Personal QR coupon for every recipient", weight="medium"),
                    align="center",
                    spacing="2",
                ),
                _email_only(
                    rx.hstack(
                        rx.switch(
                            checked=S.track_opens_clicks,
                            on_change=S.set_track_opens_clicks,
                            id="edit-track",
                        ),
                        rx.text("Track opens and clicks", weight="medium"),
                        align="center",
                        spacing="2",
                    )
                ),
                justify="between",
                gap="12px",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                S.has_qr_code,
                rx.grid(
                    labelled(
                        "Offer text",
                        rx.input(
                            value=S.offer_text,
                            on_change=S.set_offer_text,
                            debounce_timeout=PREVIEW_DEBOUNCE_MS,
                            placeholder="2-for-1 fresh pasta, all day Monday",
                            id="edit-offer-text",
                            width="100%",
                        ),
                    ),
                    labelled(
                        "Offer expires (end of day)",
                        rx.input(
                            type="date",
                            value=S.offer_expires,
                            on_change=S.set_offer_expires,
                            id="edit-offer-expires",
                            width="100%",
                        ),
                        "Time zone: " + S.timezone,
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="4",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _email_editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Email body (MJML)", size="4"),
                rx.spacer(),
                rx.cond(
                    S.preview_error != "",
                    rx.badge("Does not render", color_scheme="red", variant="soft"),
                    rx.badge("Renders", color_scheme="grass", variant="soft", id="renders-ok"),
                ),
                width="100%",
                align="center",
            ),
            rx.hstack(
                rx.text("Insert:", size="1", color=MUTED),
                rx.foreach(S.fields, _field_button),
                wrap="wrap",
                spacing="1",
                align="center",
            ),
            rx.grid(
                rx.text_area(
                    value=S.mjml_body,
                    on_change=S.set_mjml_body,
                    on_focus=S.set_insert_target("mjml"),
                    debounce_timeout=PREVIEW_DEBOUNCE_MS,
                    id="mjml-source",
                    spell_check=False,
                    font_family=_MONO,
                    font_size="12px",
                    white_space="pre",
                    overflow_x="auto",
                    height="640px",
                    width="100%",
                    resize="vertical",
                ),
                rx.vstack(
                    rx.cond(
                        S.preview_error != "",
                        rx.callout(
                            S.preview_error,
                            icon="triangle-alert",
                            color_scheme="red",
                            size="1",
                            width="100%",
                            id="preview-error",
                            white_space="pre-wrap",
                        ),
                    ),
                    rx.text(
                        rx.text.strong("Subject: "),
                        S.preview_subject,
                        size="2",
                        id="preview-subject",
                    ),
                    rx.el.iframe(
                        src_doc=S.preview_html,
                        sandbox="",
                        title="Email preview",
                        id="edit-preview",
                        width="100%",
                        height="600px",
                        style={
                            "border": f"1px solid {rx.color('gray', 6)}",
                            "borderRadius": "8px",
                            "background": "white",
                        },
                    ),
                    spacing="2",
                    width="100%",
                ),
                columns=rx.breakpoints(initial="1", lg="2"),
                spacing="4",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _sms_editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("SMS text", size="4"),
            rx.grid(
                rx.vstack(
                    rx.text_area(
                        value=S.sms_body,
                        on_change=S.set_sms_body,
                        on_focus=S.set_insert_target("sms"),
                        debounce_timeout=250,
                        id="sms-body",
                        placeholder='Hi {{ first_name | default("there") }}! {{ offer_text }}',
                        height="120px",
                        width="100%",
                    ),
                    rx.text(S.sms_counter, size="2", id="sms-counter"),
                    rx.cond(
                        S.sms_warning != "",
                        rx.callout(
                            S.sms_warning,
                            icon="info",
                            color_scheme="amber",
                            size="1",
                            id="sms-warning",
                        ),
                    ),
                    rx.text(
                        f"“{STOP_NOTICE}” is added automatically unless the text already "
                        "mentions STOP. QR campaigns also get the coupon link.",
                        size="1",
                        color=rx.color("gray", 10),
                    ),
                    width="100%",
                    spacing="2",
                ),
                rx.vstack(
                    rx.text(
                        "As the sample customer receives it", size="1", color=rx.color("gray", 10)
                    ),
                    rx.box(
                        rx.text(S.sms_preview, white_space="pre-wrap", size="2", id="sms-preview"),
                        background=rx.color("accent", 3),
                        border_radius="14px",
                        padding="10px 14px",
                        max_width="320px",
                    ),
                    spacing="1",
                ),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _image_row(img: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon("image", size=16, color=rx.color("gray", 10)),
        rx.code(img["ref"], size="2"),
        rx.text(img["size"], size="1", color=rx.color("gray", 10)),
        rx.spacer(),
        rx.tooltip(
            rx.icon_button(
                rx.icon("clipboard-copy", size=14),
                size="1",
                variant="ghost",
                on_click=rx.set_clipboard(img["ref"]),
            ),
            content="Copy reference",
        ),
        width="100%",
        align="center",
        class_name="asset-row",
    )


def images_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Images", size="4"),
            rx.text(
                "Use an image in MJML as ",
                rx.code('<mj-image src="asset:NAME" />'),
                ". Development inlines it; production links it under your public URL.",
                size="2",
                color=MUTED,
            ),
            rx.hstack(
                rx.upload(
                    rx.hstack(
                        rx.icon("upload", size=16),
                        rx.text(
                            "Drop an image or click (PNG, JPEG, GIF, WebP, up to 2 MB)", size="2"
                        ),
                        align="center",
                    ),
                    id="image-upload",
                    accept={
                        "image/png": [".png"],
                        "image/jpeg": [".jpg", ".jpeg"],
                        "image/gif": [".gif"],
                        "image/webp": [".webp"],
                    },
                    max_files=1,
                    border=f"1px dashed {rx.color('gray', 7)}",
                    padding="12px",
                    border_radius="8px",
                ),
                rx.button(
                    "Upload",
                    on_click=S.upload_image(rx.upload_files(upload_id="image-upload")),
                    id="upload-image",
                ),
                rx.text(rx.selected_files("image-upload"), size="1"),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                S.image_message != "",
                rx.text(S.image_message, size="2", color=rx.color("grass", 11)),
            ),
            rx.cond(
                S.image_error != "", rx.text(S.image_error, size="2", color=rx.color("red", 11))
            ),
            rx.scroll_area(
                rx.vstack(rx.foreach(S.images, _image_row), spacing="1", width="100%"),
                max_height="220px",
                type="auto",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="images-card",
    )


def _save_bar() -> rx.Component:
    """Status, links and Save; on a phone Save stays beside the status and the links wrap below."""
    cid = S.shown_campaign_id.to(str)
    return rx.flex(
        rx.hstack(
            status_badge(S.status),
            rx.text("Version ", S.version, size="2", color=MUTED),
            rx.cond(S.dirty, rx.badge("Unsaved changes", color_scheme="amber", variant="soft")),
            align="center",
            spacing="3",
        ),
        rx.flex(
            rx.link(
                rx.button(rx.icon("eye", size=16), "Preview", variant="soft"),
                href="/campaigns/" + cid + "/preview",
            ),
            rx.cond(
                S.automation_kind != "",
                rx.fragment(),  # an automation's message is sent by the automation
                rx.cond(
                    S.editable,
                    rx.link(
                        rx.button(rx.icon("send", size=16), "Review and send", variant="soft"),
                        href="/campaigns/" + cid + "/send",
                        id="review-send",
                    ),
                    rx.fragment(
                        rx.link(
                            rx.button(
                                rx.icon("activity", size=16), "View progress", variant="soft"
                            ),
                            href="/campaigns/" + cid + "/progress",
                            id="view-progress",
                        ),
                        rx.link(
                            rx.button(rx.icon("chart-bar", size=16), "Analytics", variant="soft"),
                            href="/campaigns/" + cid + "/analytics",
                            id="view-analytics",
                        ),
                    ),
                ),
            ),
            gap="8px",
            wrap="wrap",
            justify="end",
            margin_left="auto",
            order=rx.breakpoints(initial="2", md="1"),  # phones: on a line of their own
        ),
        rx.button(
            rx.icon("save", size=16),
            "Save",
            on_click=S.save,
            disabled=~S.editable,
            id="save-campaign",
            order=rx.breakpoints(initial="1", md="2"),  # phones: beside the status, in view
            margin_left=rx.breakpoints(initial="auto", md="0"),
        ),
        width="100%",
        align="center",
        gap="8px",
        wrap="wrap",
        position="sticky",
        top=STICKY_TOP,
        z_index="5",
        padding="10px 0",
        background=rx.color("gray", 1),
        id="save-bar",
    )


def _editor() -> rx.Component:
    return rx.vstack(
        _save_bar(),
        rx.cond(
            S.save_message != "",
            rx.callout(
                S.save_message, icon="check", color_scheme="grass", size="1", id="save-message"
            ),
        ),
        rx.cond(
            S.save_error != "",
            rx.callout(
                S.save_error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                id="save-error",
                white_space="pre-wrap",
            ),
        ),
        rx.cond(
            ~S.editable,
            rx.callout(
                "This campaign has started sending and can no longer be edited. Duplicate it from "
                "the campaign list to send a changed version.",
                icon="lock",
                color_scheme="gray",
            ),
        ),
        rx.cond(S.automation_kind != "", _automation_note()),
        _details_card(),
        _offer_card(),
        rx.cond(S.automation_kind == "", _email_only(_second_chance_card())),
        rx.cond(S.has_email, _email_editor()),
        rx.cond(S.has_sms, _sms_editor()),
        rx.cond(S.automation_kind == "", _ab_card()),
        _email_only(images_card()),
        spacing="4",
        width="100%",
    )


@template(route="/campaigns/[campaign_id]/edit", title="Edit campaign", on_load=S.load)
def edit_campaign() -> rx.Component:
    return rx.cond(
        S.not_found,
        rx.callout("This campaign does not exist.", icon="circle-x", color_scheme="red"),
        _editor(),
    )
