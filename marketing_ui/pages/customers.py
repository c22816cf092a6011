"""Customers page: searchable, filtered, keyset-paged table with dialogs for edit, detail, bulk and tags."""

import reflex as rx

from marketing_ui.components.backend_link import backend_url
from marketing_ui.components.choice_select import choice_select
from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.tag_badges import TagView, tag_badge, tag_picker
from marketing_ui.components.theme import MUTED
from marketing_ui.core.customers import PAGE_SIZE
from marketing_ui.core.tags import TAG_COLORS
from marketing_ui.state.customers import CustomerRowView
from marketing_ui.state.customers import CustomersState as S

register_nav("Customers", "/customers", "users", 20)


def _consent_badge(on: rx.Var[bool], label: str) -> rx.Component:
    return rx.badge(
        rx.icon(rx.cond(on, "check", "x"), size=12),
        label,
        color_scheme=rx.cond(on, "grass", "gray"),
        variant=rx.cond(on, "soft", "outline"),
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Name, or exact email / phone",
            value=S.search,
            on_change=S.set_search,
            debounce_timeout=300,
            width="320px",
            id="customer-search",
        ),
        choice_select(
            S.tag_filter,
            S.set_tag_filter,
            [("all", "All tags")],
            rx.foreach(S.all_tags, lambda t: rx.select.item(t.name, value=t.id)),
            id="filter-tag",
        ),
        choice_select(
            S.email_filter,
            S.set_email_filter,
            [("any", "Email: any"), ("yes", "Email: subscribed"), ("no", "Email: not subscribed")],
            id="filter-email",
        ),
        choice_select(
            S.sms_filter,
            S.set_sms_filter,
            [("any", "SMS: any"), ("yes", "SMS: subscribed"), ("no", "SMS: not subscribed")],
            id="filter-sms",
        ),
        rx.button("Clear", variant="ghost", color_scheme="gray", on_click=S.clear_filters),
        rx.spacer(),
        rx.button(
            rx.icon("download", size=16),
            "Export CSV",
            variant="soft",
            on_click=S.set_export_open(True),
            id="export-customers",
        ),
        rx.button(
            rx.icon("tags", size=16),
            "Tags",
            variant="soft",
            on_click=S.set_tags_open(True),
            id="manage-tags",
        ),
        rx.button(
            rx.icon("user-plus", size=16), "Add customer", on_click=S.open_add, id="add-customer"
        ),
        gap="10px",
        align="center",
        wrap="wrap",
        width="100%",
    )


def _bulk_bar() -> rx.Component:
    return rx.cond(
        (S.selected_ids.length() > 0) | S.all_matching,
        rx.card(
            rx.flex(
                rx.text("Selected: ", rx.text.strong(S.target_label), size="2", id="bulk-target"),
                rx.cond(
                    ~S.all_matching & S.page_all_selected & (S.total > S.selected_ids.length()),
                    rx.button(
                        "Select all ",
                        S.total,
                        " matching",
                        variant="ghost",
                        size="1",
                        on_click=S.select_all_matching,
                        id="select-all-matching",
                    ),
                ),
                rx.spacer(),
                choice_select(
                    S.bulk_tag,
                    S.set_bulk_tag,
                    [],
                    rx.foreach(S.all_tags, lambda t: rx.select.item(t.name, value=t.id)),
                    placeholder="Choose a tag",
                    id="bulk-tag",
                ),
                rx.button(
                    "Add tag", size="2", variant="soft", on_click=S.bulk_add_tag, id="bulk-add-tag"
                ),
                rx.button(
                    "Remove tag",
                    size="2",
                    variant="soft",
                    color_scheme="gray",
                    on_click=S.bulk_remove_tag,
                    id="bulk-remove-tag",
                ),
                rx.button(
                    rx.icon("trash-2", size=14),
                    "Delete",
                    size="2",
                    color_scheme="red",
                    variant="soft",
                    on_click=S.set_confirm_delete_open(True),
                    id="bulk-delete",
                ),
                rx.button(
                    "Clear",
                    size="2",
                    variant="ghost",
                    color_scheme="gray",
                    on_click=S.clear_selection,
                ),
                gap="10px",
                align="center",
                wrap="wrap",
            ),
            width="100%",
            background=rx.color("accent", 2),
        ),
    )


def _row(row: rx.Var[CustomerRowView]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=S.all_matching | S.selected_ids.contains(row.id),
                on_change=lambda _v: S.toggle_selected(row.id),
                class_name="row-select",
            ),
            on_click=rx.stop_propagation,
        ),
        rx.table.cell(rx.text(row.name, weight="medium"), class_name="customer-name"),
        rx.table.cell(rx.text(rx.cond(row.email != "", row.email, "—"), size="2")),
        rx.table.cell(rx.text(rx.cond(row.phone != "", row.phone, "—"), size="2")),
        rx.table.cell(
            rx.hstack(
                _consent_badge(row.email_consent, "Email"),
                _consent_badge(row.sms_consent, "SMS"),
                spacing="1",
            )
        ),
        rx.table.cell(rx.flex(rx.foreach(row.tags, tag_badge), gap="4px", wrap="wrap")),
        rx.table.cell(rx.text(row.created, size="2", color=MUTED)),
        rx.table.cell(
            rx.text(
                rx.cond(row.visits > 0, row.visits.to_string() + " · " + row.last_visit, "—"),
                size="2",
                color=MUTED,
            ),
            class_name="customer-visits",
        ),
        on_click=S.open_detail(row.id),
        cursor="pointer",
        _hover={"background": rx.color("gray", 2)},
        class_name="customer-row",
        data_id=row.id,
    )


def _table() -> rx.Component:
    return rx.card(
        rx.cond(
            S.rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell(
                            rx.checkbox(
                                checked=S.page_all_selected | S.all_matching,
                                on_change=S.toggle_page,
                                id="select-page",
                            ),
                            width="36px",
                        ),
                        rx.table.column_header_cell("Name"),
                        rx.table.column_header_cell("Email"),
                        rx.table.column_header_cell("Phone"),
                        rx.table.column_header_cell("Consent"),
                        rx.table.column_header_cell("Tags"),
                        rx.table.column_header_cell("Added"),
                        rx.table.column_header_cell("Visits · last"),
                    )
                ),
                rx.table.body(rx.foreach(S.rows, _row)),
                width="100%",
                id="customers-table",
            ),
            rx.center(
                rx.vstack(
                    rx.icon("users", size=32, color=rx.color("gray", 9)),
                    rx.text("No customers match.", weight="medium"),
                    rx.text(
                        "Add one with “Add customer”, import a CSV on the Import page, or clear the filters.",
                        size="2",
                        color=MUTED,
                    ),
                    align="center",
                    spacing="2",
                ),
                padding="40px",
                id="customers-empty",
            ),
        ),
        rx.hstack(
            rx.text(
                rx.text.strong(S.total, id="customers-total"),
                " matching · page ",
                S.page_number,
                f" · {PAGE_SIZE} per page",
                size="2",
                color=MUTED,
            ),
            rx.spacer(),
            rx.button(
                rx.icon("chevron-left", size=16),
                "Previous",
                variant="soft",
                color_scheme="gray",
                disabled=~S.has_previous,
                on_click=S.previous_page,
                id="page-previous",
            ),
            rx.button(
                "Next",
                rx.icon("chevron-right", size=16),
                variant="soft",
                color_scheme="gray",
                disabled=~S.has_next,
                on_click=S.next_page,
                id="page-next",
            ),
            align="center",
            padding_top="12px",
            width="100%",
        ),
        width="100%",
    )


def _field(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.input(
            name=name,
            default_value=S.edit_values.get(name, ""),
            color_scheme=rx.cond(S.edit_error_field == name, "red", "gray"),
            id=f"customer-{name.replace('_', '-')}",
            width="100%",
            **props,
        ),
        spacing="1",
        width="100%",
    )


def _edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(S.edit_id != "", "Edit customer", "Add customer")),
            rx.form(
                rx.vstack(
                    rx.grid(
                        _field("First name", "first_name"),
                        _field("Last name", "last_name"),
                        _field("Email", "email", placeholder="name@example.com"),
                        _field("Phone", "phone", placeholder="+1 415 555 0100"),
                        columns="2",
                        spacing="3",
                        width="100%",
                    ),
                    rx.grid(
                        _field("Birthday month", "birthday_month", type="number", min=1, max=12),
                        _field("Birthday day", "birthday_day", type="number", min=1, max=31),
                        _field("Birth year (optional)", "birthday_year", type="number"),
                        columns="3",
                        spacing="3",
                        width="100%",
                    ),
                    rx.hstack(
                        rx.checkbox(
                            "Email consent",
                            checked=S.edit_email_consent,
                            on_change=S.set_edit_email_consent,
                            class_name="customer-email-consent",
                        ),
                        rx.checkbox(
                            "SMS consent",
                            checked=S.edit_sms_consent,
                            on_change=S.set_edit_sms_consent,
                            class_name="customer-sms-consent",
                        ),
                        spacing="5",
                    ),
                    rx.text(
                        "Only tick consent the customer gave you; changes are kept in the consent history.",
                        size="1",
                        color=MUTED,
                    ),
                    rx.text("Tags", size="2", weight="medium"),
                    tag_picker(S.all_tags, S.edit_tag_ids, S.toggle_edit_tag, "edit-tag"),
                    rx.cond(
                        S.edit_error != "",
                        rx.callout(
                            S.edit_error,
                            icon="triangle-alert",
                            color_scheme="red",
                            size="1",
                            id="customer-error",
                            width="100%",
                        ),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Save", type="submit", id="customer-save"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.save_customer,
                reset_on_submit=False,
                key=S.edit_form_key,
            ),
            max_width="560px",
        ),
        open=S.edit_open,
        on_open_change=S.set_edit_open,
    )


def _small_table(
    rows: rx.Var, columns: list[tuple[str, str]], empty: str, table_id: str
) -> rx.Component:
    return rx.cond(
        rx.Var.create(rows).length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(label) for _, label in columns])
            ),
            rx.table.body(
                rx.foreach(
                    rows,
                    lambda r: rx.table.row(
                        *[
                            rx.table.cell(
                                rx.text(r[key], size="2"),
                                white_space="nowrap" if key == "when" else "normal",
                            )
                            for key, _ in columns
                        ]
                    ),
                )
            ),
            size="1",
            width="100%",
            id=table_id,
        ),
        rx.text(empty, size="2", color=MUTED, id=table_id),
    )


def _detail_dialog() -> rx.Component:
    d = S.detail
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(d.name, id="detail-name"),
            rx.vstack(
                rx.grid(
                    rx.text("Email", color=MUTED, size="2"),
                    rx.text(rx.cond(d.email != "", d.email, "—"), size="2", id="detail-email"),
                    rx.text("Phone", color=MUTED, size="2"),
                    rx.text(rx.cond(d.phone != "", d.phone, "—"), size="2", id="detail-phone"),
                    rx.text("Consent", color=MUTED, size="2"),
                    rx.hstack(
                        _consent_badge(d.email_consent, "Email"),
                        _consent_badge(d.sms_consent, "SMS"),
                    ),
                    rx.text("Tags", color=MUTED, size="2"),
                    rx.cond(
                        d.tags.length() > 0,
                        rx.flex(rx.foreach(d.tags, tag_badge), gap="4px", wrap="wrap"),
                        rx.text("none", size="2", color=MUTED),
                    ),
                    rx.text("Added", color=MUTED, size="2"),
                    rx.text(d.created, size="2"),
                    rx.text("Last activity", color=MUTED, size="2"),
                    rx.text(d.last_activity, size="2"),
                    rx.text("Visits", color=MUTED, size="2"),
                    rx.text(
                        d.visits.to_string() + " · last " + d.last_visit,
                        size="2",
                        id="detail-visits",
                    ),
                    rx.text("Birthday", color=MUTED, size="2"),
                    rx.text(
                        rx.cond(d.birthday != "", d.birthday, "—"), size="2", id="detail-birthday"
                    ),
                    rx.text("Personal QR", color=MUTED, size="2"),
                    rx.cond(
                        d.personal_qr != "",
                        rx.image(
                            src=d.personal_qr,
                            width="120px",
                            height="120px",
                            alt="Personal QR for counter check-in",
                            id="detail-personal-qr",
                        ),
                    ),
                    columns="120px 1fr",
                    spacing="2",
                    width="100%",
                ),
                rx.heading("Consent history", size="3", margin_top="8px"),
                _small_table(
                    d.consent_history,
                    [
                        ("when", "When"),
                        ("channel", "Channel"),
                        ("change", "Change"),
                        ("source", "How"),
                        ("origin", "Where"),
                        ("wording", "Wording"),
                        ("proof", "Proof hash"),
                        ("note", "Note"),
                    ],
                    "No consent given or withdrawn yet.",
                    "detail-consent",
                ),
                rx.heading("Deliveries", size="3", margin_top="8px"),
                _small_table(
                    d.deliveries,
                    [
                        ("when", "When"),
                        ("campaign", "Campaign"),
                        ("channel", "Channel"),
                        ("status", "Status"),
                    ],
                    "None yet.",
                    "detail-deliveries",
                ),
                rx.heading("Coupon redemptions", size="3", margin_top="8px"),
                _small_table(
                    d.redemptions,
                    [
                        ("when", "When"),
                        ("campaign", "Campaign"),
                        ("action", "Action"),
                        ("note", "Note"),
                    ],
                    "None yet.",
                    "detail-redemptions",
                ),
                rx.hstack(
                    rx.alert_dialog.root(
                        rx.alert_dialog.trigger(
                            rx.button(
                                rx.icon("trash-2", size=14),
                                "Delete",
                                color_scheme="red",
                                variant="soft",
                                id="detail-delete",
                            ),
                        ),
                        rx.alert_dialog.content(
                            rx.alert_dialog.title("Delete this customer?"),
                            rx.alert_dialog.description(
                                "This erases ",
                                d.name,
                                " with their consent history, deliveries and coupons. It cannot be undone.",
                            ),
                            rx.hstack(
                                rx.alert_dialog.cancel(
                                    rx.button("Cancel", variant="soft", color_scheme="gray")
                                ),
                                rx.alert_dialog.action(
                                    rx.button(
                                        "Delete",
                                        color_scheme="red",
                                        on_click=S.delete_one,
                                        id="detail-delete-confirm",
                                    )
                                ),
                                justify="end",
                                spacing="3",
                                margin_top="12px",
                            ),
                        ),
                    ),
                    rx.alert_dialog.root(
                        rx.alert_dialog.trigger(
                            rx.button(
                                rx.icon("user-x", size=14),
                                "Erase",
                                color_scheme="red",
                                variant="outline",
                                id="detail-erase",
                            ),
                        ),
                        rx.alert_dialog.content(
                            rx.alert_dialog.title("Erase this customer's personal data?"),
                            rx.alert_dialog.description(
                                "Removes the name, email, phone, birthday and tags of ",
                                d.name,
                                " and withdraws their consent. Deliveries, visits and coupons "
                                "stay in the analytics without a name. Suppressions stay. "
                                "It cannot be undone.",
                            ),
                            rx.hstack(
                                rx.alert_dialog.cancel(
                                    rx.button("Cancel", variant="soft", color_scheme="gray")
                                ),
                                rx.alert_dialog.action(
                                    rx.button(
                                        "Erase",
                                        color_scheme="red",
                                        on_click=S.erase_one,
                                        id="detail-erase-confirm",
                                    )
                                ),
                                justify="end",
                                spacing="3",
                                margin_top="12px",
                            ),
                        ),
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("download", size=14),
                        "Download data",
                        variant="soft",
                        on_click=S.download_data,
                        id="detail-download",
                    ),
                    rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                    rx.button(
                        rx.icon("pencil", size=14), "Edit", on_click=S.open_edit, id="detail-edit"
                    ),
                    width="100%",
                    wrap="wrap",
                    margin_top="8px",
                ),
                spacing="2",
                width="100%",
            ),
            max_width="720px",
            id="customer-detail",
        ),
        open=S.detail_open,
        on_open_change=S.set_detail_open,
    )


def _confirm_bulk_delete() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete ", S.target_count, " customers?"),
            rx.alert_dialog.description(
                "This erases ",
                S.target_label,
                " with their consent history, deliveries and coupons. It cannot be undone.",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    "Delete ",
                    S.target_count,
                    color_scheme="red",
                    on_click=S.bulk_delete,
                    id="bulk-delete-confirm",
                ),
                justify="end",
                spacing="3",
                margin_top="12px",
            ),
        ),
        open=S.confirm_delete_open,
        on_open_change=S.set_confirm_delete_open,
    )


def _export_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Export customers as CSV"),
            rx.dialog.description(
                "First and last name, email, phone, consent flags, tags and date added. "
                "The file holds personal data: keep it safe.",
                size="2",
            ),
            rx.vstack(
                rx.radio_group.root(
                    rx.vstack(
                        rx.radio_group.item("All customers", value="all", id="export-all"),
                        rx.radio_group.item(
                            "Customers matching the current search and filters (",
                            S.total,
                            ")",
                            value="filter",
                            id="export-filter",
                        ),
                        rx.radio_group.item("A segment", value="segment", id="export-segment"),
                        spacing="2",
                    ),
                    value=S.export_scope,
                    on_change=S.set_export_scope,
                ),
                rx.cond(
                    S.export_scope == "segment",
                    rx.select.root(
                        rx.select.trigger(placeholder="Choose a segment", id="export-segment-pick"),
                        rx.select.content(
                            rx.foreach(
                                S.export_segments, lambda s: rx.select.item(s[1], value=s[0])
                            )
                        ),
                        value=S.export_segment,
                        on_change=S.set_export_segment,
                    ),
                ),
                rx.cond(
                    S.export_error != "",
                    rx.callout(
                        S.export_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        id="export-error",
                    ),
                ),
                rx.flex(
                    rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                    rx.cond(
                        S.export_path != "",
                        rx.link(
                            rx.button(
                                rx.icon("download", size=14),
                                "Download ",
                                S.export_count,
                                " customers",
                            ),
                            href=backend_url(S.export_path),
                            is_external=True,
                            on_click=S.export_link_used,
                            id="export-download",
                        ),
                        rx.button(
                            "Prepare the file", on_click=S.prepare_export, id="export-prepare"
                        ),
                    ),
                    justify="end",
                    gap="12px",
                    wrap="wrap",
                    width="100%",
                ),
                spacing="3",
                margin_top="12px",
            ),
            max_width="480px",
        ),
        open=S.export_open,
        on_open_change=S.set_export_open,
    )


def _tag_row(tag: rx.Var[TagView]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.input(
                default_value=tag.name,
                on_blur=lambda v: S.rename_tag(tag.id, v),
                size="1",
                key=tag.id + tag.name,
                class_name="tag-name",
            )
        ),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(variant="ghost"),
                rx.select.content(
                    *[
                        rx.select.item(rx.badge(c, color_scheme=c, variant="soft"), value=c)
                        for c in TAG_COLORS
                    ]
                ),
                value=tag.color,
                on_change=lambda c: S.set_tag_color(tag.id, c),
                size="1",
            )
        ),
        rx.table.cell(rx.text(tag.customers, size="2")),
        rx.table.cell(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="ghost",
                color_scheme="red",
                on_click=S.ask_delete_tag(tag.id),
                class_name="tag-delete",
            )
        ),
        align="center",
        class_name="tag-row",
        data_name=tag.name,
    )


def _tags_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Tags"),
            rx.dialog.description(
                "Tags label customers for filters and segments. Rename a tag by editing its name.",
                size="2",
                color=MUTED,
            ),
            rx.vstack(
                rx.form(
                    rx.hstack(
                        rx.input(
                            name="name", placeholder="New tag name", id="new-tag-name", flex="1"
                        ),
                        rx.select.root(
                            rx.select.trigger(),
                            rx.select.content(
                                *[
                                    rx.select.item(
                                        rx.badge(c, color_scheme=c, variant="soft"), value=c
                                    )
                                    for c in TAG_COLORS
                                ]
                            ),
                            value=S.new_tag_color,
                            on_change=S.set_new_tag_color,
                        ),
                        rx.button(
                            rx.icon("plus", size=14), "Create", type="submit", id="create-tag"
                        ),
                        width="100%",
                    ),
                    on_submit=S.create_tag,
                    reset_on_submit=True,
                    width="100%",
                ),
                rx.cond(
                    S.tag_error != "",
                    rx.callout(S.tag_error, icon="triangle-alert", color_scheme="red", size="1"),
                ),
                rx.cond(
                    S.tag_delete_id != "",
                    rx.callout(
                        rx.vstack(
                            rx.text(
                                "Delete “",
                                S.tag_delete_name,
                                "”? ",
                                rx.text.strong(S.tag_delete_count),
                                " customers carry it and will lose it; segments using it change too.",
                                id="tag-delete-warning",
                            ),
                            rx.hstack(
                                rx.button(
                                    "Delete tag",
                                    color_scheme="red",
                                    size="1",
                                    on_click=S.confirm_delete_tag,
                                    id="tag-delete-confirm",
                                ),
                                rx.button(
                                    "Keep it",
                                    variant="soft",
                                    color_scheme="gray",
                                    size="1",
                                    on_click=S.cancel_delete_tag,
                                ),
                            ),
                        ),
                        icon="triangle-alert",
                        color_scheme="amber",
                        width="100%",
                    ),
                ),
                rx.cond(
                    S.all_tags.length() > 0,
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Name"),
                                rx.table.column_header_cell("Colour"),
                                rx.table.column_header_cell("Customers"),
                                rx.table.column_header_cell(""),
                            )
                        ),
                        rx.table.body(rx.foreach(S.all_tags, _tag_row)),
                        size="1",
                        width="100%",
                    ),
                    rx.text("No tags yet: create the first one above.", size="2", color=MUTED),
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Done", variant="soft")), justify="end", width="100%"
                ),
                spacing="3",
                width="100%",
                margin_top="12px",
            ),
            max_width="600px",
        ),
        open=S.tags_open,
        on_open_change=S.set_tags_open,
    )


@template(route="/customers", title="Customers", on_load=S.load)
def customers_page() -> rx.Component:
    return rx.vstack(
        _toolbar(),
        rx.cond(S.list_error != "", rx.callout(S.list_error, icon="info", size="1")),
        rx.cond(
            S.bulk_message != "",
            rx.callout(
                S.bulk_message, icon="check", color_scheme="grass", size="1", id="customers-message"
            ),
        ),
        _bulk_bar(),
        _table(),
        _edit_dialog(),
        _detail_dialog(),
        _confirm_bulk_delete(),
        _tags_dialog(),
        _export_dialog(),
        spacing="4",
        width="100%",
    )
