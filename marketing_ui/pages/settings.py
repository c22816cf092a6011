"""Settings page."""

import reflex as rx

from marketing_ui.components.backend_link import backend_url
from marketing_ui.components.layout import status_dot, template
from marketing_ui.components.theme import MUTED
from marketing_ui.core.app_settings import (
    BusinessIdentity,
    DeliverabilityLimits,
    FrequencyCap,
    MoneySettings,
    SendingLimits,
    SignupSettings,
    label,
)
from marketing_ui.core.money import CURRENCY_CODES
from marketing_ui.core.print_materials import FORMATS, MAX_CALL_TO_ACTION
from marketing_ui.state.settings import SettingsState


def _check_row(check: rx.Var) -> rx.Component:
    return rx.hstack(
        status_dot(check["state"]),
        rx.text(
            check["name"], weight="medium", min_width=rx.breakpoints(initial="110px", sm="140px")
        ),
        rx.text(
            check["detail"],
            color=MUTED,
            size="2",
            min_width="0",
            overflow_wrap="anywhere",
        ),
        align="center",
        spacing="3",
        width="100%",
        class_name="status-row",
        data_ok=check["ok"],
        data_state=check["state"],
        id="status-" + check["name"].to(str).lower().replace(" ", "-"),
    )


def _field(form: type, name: str, value: rx.Var, hint: str = "", **props: object) -> rx.Component:
    """One input labelled as the core names the field (its error messages use the same label)."""
    parts = [
        rx.text(label(form, name), size="2", weight="medium"),
        rx.input(name=name, default_value=value, width="100%", id=f"setting-{name}", **props),
    ]
    if hint:
        parts.append(rx.text(hint, size="1", color=rx.color("gray", 10)))
    return rx.vstack(*parts, spacing="1", width="100%")


def _fixable_field(cls: type, name: str, values: rx.Var, fixed: rx.Var, hint: str) -> rx.Component:
    """A setting the environment may fix: read-only then, naming the variable that does."""
    env = fixed[name]
    return rx.vstack(
        rx.text(label(cls, name), size="2", weight="medium"),
        rx.input(
            name=name,
            default_value=values[name],
            disabled=env != "",
            width="100%",
            id=f"setting-{name}",
        ),
        rx.text(
            rx.cond(env != "", "Set by " + env + " in the environment.", hint),
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="1",
        width="100%",
    )


def _ceiling(text: rx.Var, element_id: str) -> rx.Component:
    return rx.callout(
        text, icon="gauge", size="1", color_scheme="gray", id=element_id, width="100%"
    )


def _frequency_cap_card() -> rx.Component:
    C, CF = SettingsState.cap, SettingsState.cap_fixed  # noqa: N806 - short names for the grid
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Frequency cap", size="4"),
                rx.text(
                    "No customer gets more marketing messages on a channel than this in the "
                    "window, counting campaigns and automations together. Whoever is at the cap "
                    "when a send starts is held back, and counted on its progress page and in "
                    "its analytics. Test sends and sign-in emails do not count.",
                    size="2",
                    color=MUTED,
                ),
                rx.grid(
                    _fixable_field(FrequencyCap, "email_max", C, CF, "0: no cap on email."),
                    _fixable_field(FrequencyCap, "sms_max", C, CF, "0: no cap on texts."),
                    _fixable_field(
                        FrequencyCap, "window_days", C, CF, "A rolling window, 1 to 90."
                    ),
                    columns=rx.breakpoints(initial="1", sm="2", md="3"),
                    spacing="3",
                    width="100%",
                ),
                _ceiling(SettingsState.cap_summary, "cap-summary"),
                _messages(SettingsState.cap_message, SettingsState.cap_error),
                rx.button("Save frequency cap", type="submit", id="save-cap"),
                spacing="3",
                width="100%",
            ),
            on_submit=SettingsState.save_cap,
            reset_on_submit=False,
            key=SettingsState.cap.to_string(),
        ),
        width="100%",
        id="cap-settings",
    )


def _money_card() -> rx.Component:
    m = SettingsState.money
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Money", size="4"),
                rx.text(
                    "Staff may enter the ticket amount when they redeem a coupon or record a "
                    "visit; campaign analytics compare that revenue with what the messages cost.",
                    size="2",
                    color=MUTED,
                ),
                rx.grid(
                    rx.vstack(
                        rx.text(label(MoneySettings, "currency"), size="2", weight="medium"),
                        rx.select(
                            list(CURRENCY_CODES),
                            name="currency",
                            default_value=m["currency"],
                            id="setting-currency",
                            width="100%",
                        ),
                        rx.text(
                            "Amounts already entered keep their currency.",
                            size="1",
                            color=rx.color("gray", 10),
                        ),
                        spacing="1",
                        width="100%",
                    ),
                    _field(
                        MoneySettings,
                        "max_ticket",
                        m["max_ticket"],
                        "Anything above is refused at the counter as a typo.",
                    ),
                    _field(
                        MoneySettings,
                        "sms_segment_price",
                        m["sms_segment_price"],
                        "Per segment, e.g. 0.0079 (Twilio, US).",
                    ),
                    _field(
                        MoneySettings,
                        "email_price",
                        m["email_price"],
                        "Per email, e.g. 0.0004.",
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                _messages(SettingsState.money_message, SettingsState.money_error),
                rx.button("Save money settings", type="submit", id="save-money"),
                spacing="3",
                width="100%",
            ),
            on_submit=SettingsState.save_money,
            reset_on_submit=False,
            key=m.to_string(),
        ),
        width="100%",
        id="money-settings",
    )


def _guard_card() -> rx.Component:
    G, GF = SettingsState.guard, SettingsState.guard_fixed  # noqa: N806 - short names for the grid
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Deliverability guard", size="4"),
                rx.text(
                    "A sending campaign pauses itself, with the reason on its progress page, "
                    "when spam complaints or hard bounces on a channel pass these shares of its "
                    "messages sent. Resuming is up to you; after that only newer messages count.",
                    size="2",
                    color=MUTED,
                ),
                rx.grid(
                    _fixable_field(
                        DeliverabilityLimits,
                        "complaint_limit_pct",
                        G,
                        GF,
                        "Mailbox providers filter above 0.3%.",
                    ),
                    _fixable_field(
                        DeliverabilityLimits,
                        "hard_bounce_limit_pct",
                        G,
                        GF,
                        "Hard bounces of messages sent.",
                    ),
                    _fixable_field(
                        DeliverabilityLimits,
                        "min_sample",
                        G,
                        GF,
                        "Fewer messages than this are too few to judge by.",
                    ),
                    columns=rx.breakpoints(initial="1", sm="2", md="3"),
                    spacing="3",
                    width="100%",
                ),
                _messages(SettingsState.guard_message, SettingsState.guard_error),
                rx.button("Save guard limits", type="submit", id="save-guard"),
                spacing="3",
                width="100%",
            ),
            on_submit=SettingsState.save_guard,
            reset_on_submit=False,
            key=SettingsState.guard.to_string(),
        ),
        width="100%",
        id="guard-settings",
    )


def _signup_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["source"]),
        rx.table.cell(row["signups"], text_align="right"),
        class_name="signup-source-row",
    )


def _print_card() -> rx.Component:
    """Print a table tent or poster whose QR opens /join?src=…, and what each source brought."""
    s = SettingsState
    download = rx.hstack(rx.icon("download", size=16), "Download PDF", spacing="2")
    return rx.card(
        rx.vstack(
            rx.heading("Print a table tent or poster", size="4"),
            rx.text(
                "A print-ready PDF with your business name, a call to action and a QR code that "
                "opens the signup page. The source is how the signups it brings are counted "
                "below: print one per place (window, counter, table-tent) to see which works.",
                size="2",
                color=MUTED,
            ),
            rx.grid(
                rx.vstack(
                    rx.text("Format", size="2", weight="medium"),
                    rx.select.root(
                        rx.select.trigger(width="100%"),
                        rx.select.content(
                            *[rx.select.item(f.label, value=f.key) for f in FORMATS.values()]
                        ),
                        value=s.print_format,
                        on_change=s.set_print_format,
                        id="print-format",
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.vstack(
                    rx.text("Source", size="2", weight="medium"),
                    rx.input(
                        value=s.print_source,
                        on_change=s.set_print_source.debounce(300),
                        placeholder=rx.cond(s.print_format == "tent", "table-tent", "poster"),
                        max_length=40,
                        width="100%",
                        id="print-source",
                    ),
                    rx.text("Letters, digits and dashes, e.g. window.", size="1", color=MUTED),
                    spacing="1",
                    width="100%",
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            rx.vstack(
                rx.text("Call to action", size="2", weight="medium"),
                rx.input(
                    value=s.print_cta,
                    on_change=s.set_print_cta.debounce(300),
                    max_length=MAX_CALL_TO_ACTION,
                    width="100%",
                    id="print-cta",
                ),
                rx.text(f"Up to {MAX_CALL_TO_ACTION} characters.", size="1", color=MUTED),
                spacing="1",
                width="100%",
            ),
            rx.cond(
                s.print_warning != "",
                rx.callout(s.print_warning, icon="info", color_scheme="amber", size="1"),
            ),
            rx.cond(
                s.print_error != "",
                rx.callout(
                    s.print_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    id="print-error",
                ),
            ),
            rx.cond(
                s.print_href != "",
                rx.link(rx.button(download, id="print-download"), href=backend_url(s.print_href)),
                rx.button(download, disabled=True, id="print-download"),
            ),
            rx.heading("Signups by source", size="3", margin_top="8px"),
            rx.cond(
                s.signup_sources.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Source"),
                            rx.table.column_header_cell("Confirmed signups", text_align="right"),
                        )
                    ),
                    rx.table.body(rx.foreach(s.signup_sources, _signup_row)),
                    size="1",
                    width="100%",
                    id="signups-by-source",
                ),
                rx.text(
                    "No confirmed signups yet: they appear here, per source, once people "
                    "confirm by email link or by replying YES.",
                    size="2",
                    color=MUTED,
                    id="signups-by-source-empty",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="print-materials",
    )


def _signup_card() -> rx.Component:
    """Issue 15: how people join the list, and the form for the business's own website."""
    S = SettingsState.signup  # noqa: N806 - short name, as the other cards
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Signup", size="4"),
                rx.text(
                    "People join at ",
                    rx.link(
                        SettingsState.signup_join_url,
                        href=SettingsState.signup_join_url,
                        is_external=True,
                        id="signup-join-url",
                    ),
                    " or by texting the keyword to your number; nothing is subscribed until "
                    "they confirm by the emailed link or a YES reply.",
                    size="2",
                    color=MUTED,
                ),  # fmt: skip
                rx.grid(
                    _field(
                        SignupSettings, "keyword", S["keyword"], "Not STOP, START, YES or HELP."
                    ),
                    _field(SignupSettings, "confirm_hours", S["confirm_hours"], "1 to 168 hours."),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                _field(
                    SignupSettings,
                    "embed_origins",
                    S["embed_origins"],
                    "Origins such as https://www.example.com, separated by spaces. Only these "
                    "websites may post the form below; your own pages always may.",
                ),
                rx.text("Form for your website", size="2", weight="medium"),
                rx.text_area(
                    value=SettingsState.signup_snippet,
                    read_only=True,
                    rows="8",
                    width="100%",
                    font_family="monospace",
                    id="signup-snippet",
                ),
                rx.text(
                    "Copy it into your website's HTML. Paste it again after the consent wording "
                    "changes.",
                    size="1",
                    color=rx.color("gray", 10),
                ),
                _messages(SettingsState.signup_message, SettingsState.signup_error),
                rx.button("Save signup settings", type="submit", id="save-signup"),
                spacing="3",
                width="100%",
            ),
            on_submit=SettingsState.save_signup,
            reset_on_submit=False,
            key=S.to_string(),
        ),
        width="100%",
        id="signup-settings",
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
                rx.flex(
                    rx.hstack(
                        rx.heading("System status", size="4"),
                        rx.badge(SettingsState.environment, variant="surface"),
                        align="center",
                    ),
                    rx.button(
                        rx.icon("activity", size=16),
                        "Run health check",
                        on_click=SettingsState.run_health_check,
                        loading=SettingsState.health_running,
                        id="run-health",
                        margin_left="auto",
                    ),
                    width="100%",
                    align="center",
                    gap="8px",
                    wrap="wrap",
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
                        color=MUTED,
                    ),
                    rx.grid(
                        *[
                            _field(BusinessIdentity, name, b[name])
                            for name in (
                                "business_name",
                                "sender_name",
                                "sender_email",
                                "postal_address",
                                "logo",
                            )
                        ],
                        _field(
                            BusinessIdentity,
                            "timezone",
                            b["timezone"],
                            "An IANA name, e.g. Europe/Paris or America/New_York.",
                        ),
                        columns=rx.breakpoints(initial="1", sm="2"),
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
                key=b.to_string(),
            ),
            width="100%",
        ),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Sending limits", size="4"),
                    rx.text(
                        "In each provider's own terms, shared by every worker through Redis: "
                        "the provider never sees more in any second. 0 means no limit.",
                        size="2",
                        color=MUTED,
                    ),
                    rx.heading("Email", size="3"),
                    rx.grid(
                        _fixable_field(
                            SendingLimits,
                            "email_requests_per_s",
                            lim,
                            SettingsState.limits_fixed,
                            "Resend allows 5 per second unless your plan says otherwise.",
                        ),
                        _fixable_field(
                            SendingLimits,
                            "emails_per_request",
                            lim,
                            SettingsState.limits_fixed,
                            "1 to 100 (Resend's batch endpoint takes up to 100).",
                        ),
                        columns=rx.breakpoints(initial="1", sm="2"),
                        spacing="3",
                        width="100%",
                    ),
                    _ceiling(SettingsState.ceilings["email"], "ceiling-email"),
                    rx.heading("SMS", size="3"),
                    _fixable_field(
                        SendingLimits,
                        "sms_segments_per_s",
                        lim,
                        SettingsState.limits_fixed,
                        "A Twilio long code sends 1 segment per second; toll-free and short "
                        "codes more. A 200-character text is 2 segments.",
                    ),
                    _ceiling(SettingsState.ceilings["sms"], "ceiling-sms"),
                    rx.heading("Retries and quiet hours", size="3"),
                    rx.grid(
                        *[
                            _field(SendingLimits, name, lim[name])
                            for name in ("max_attempts", "failure_threshold_pct")
                        ],
                        _field(
                            SendingLimits,
                            "quiet_start_hour",
                            lim["quiet_start_hour"],
                            "Hour 0–23 in each recipient's time zone.",
                        ),
                        _field(
                            SendingLimits,
                            "quiet_end_hour",
                            lim["quiet_end_hour"],
                            "No SMS goes out between start and end.",
                        ),
                        columns=rx.breakpoints(initial="1", sm="2", md="3"),
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
                key=lim.to_string(),
            ),
            width="100%",
        ),
        _guard_card(),
        _frequency_cap_card(),
        _print_card(),
        _signup_card(),
        _money_card(),
        spacing="5",
        width="100%",
    )
