"""Campaign list: status, audience, headline numbers; edit, duplicate, preview, delete or archive."""

import reflex as rx

from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.status_badge import status_badge
from marketing_ui.components.theme import MUTED
from marketing_ui.core.statuses import CampaignStatus
from marketing_ui.state.campaigns import CampaignsState

register_nav("Campaigns", "/campaigns", "megaphone", 10)


def _action(icon: str, tip: str, **props) -> rx.Component:
    return rx.tooltip(
        rx.icon_button(rx.icon(icon, size=16), variant="ghost", size="2", **props), content=tip
    )


def _row(row: rx.Var) -> rx.Component:
    cid = row["id"]
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(
                    row["name"],
                    href=rx.cond(
                        row["editable"] != "",
                        "/campaigns/" + cid + "/edit",
                        "/campaigns/" + cid + "/preview",
                    ),
                    weight="medium",
                    class_name="campaign-name",
                ),
                rx.text(row["audience"], size="1", color=rx.color("gray", 10)),
                rx.cond(
                    row["pause_note"] != "",
                    rx.text(
                        row["pause_note"],
                        size="1",
                        color=rx.color("orange", 11),
                        min_width="200px",
                        max_width="420px",
                        class_name="campaign-pause-note",
                    ),
                ),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(row["channel"], size="2")),
        rx.table.cell(status_badge(row["status"])),
        rx.table.cell(rx.text(row["sent_date"], size="2")),
        rx.table.cell(rx.text(row["recipients"]), text_align="right"),
        rx.table.cell(rx.text(row["sent"]), text_align="right"),
        rx.table.cell(
            rx.text(
                row["failed"],
                color=rx.cond(
                    (row["failed"] != "0") & (row["failed"] != "—"), rx.color("red", 11), ""
                ),
            ),
            text_align="right",
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    row["editable"] != "",
                    rx.link(_action("pencil", "Edit"), href="/campaigns/" + cid + "/edit"),
                ),
                rx.link(_action("eye", "Preview"), href="/campaigns/" + cid + "/preview"),
                rx.cond(
                    row["progress"] != "",
                    rx.link(
                        _action("activity", "Progress"), href="/campaigns/" + cid + "/progress"
                    ),
                ),
                rx.cond(
                    row["history"] != "",
                    rx.link(
                        _action("chart-bar", "Analytics"),
                        href="/campaigns/" + cid + "/analytics",
                    ),
                ),
                rx.cond(
                    row["coupons"] != "",
                    rx.link(_action("ticket", "Coupons"), href="/campaigns/" + cid + "/coupons"),
                ),
                _action(
                    "copy",
                    "Duplicate",
                    on_click=CampaignsState.duplicate(cid),
                    class_name="duplicate-campaign",
                ),
                rx.cond(
                    row["archived"] != "",
                    _action(
                        "archive-restore",
                        "Restore",
                        on_click=CampaignsState.unarchive(cid),
                        class_name="unarchive-campaign",
                    ),
                    _action(
                        "trash-2",
                        "Delete or archive",
                        color_scheme="red",
                        on_click=CampaignsState.ask_delete(cid),
                        class_name="delete-campaign",
                    ),
                ),
                spacing="3",
                justify="end",
            )
        ),
        align="center",
        class_name="campaign-row",
        data_name=row["name"],
        data_status=row["status"],
    )


def _dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.cond(CampaignsState.dialog_has_history, "Archive campaign?", "Delete campaign?")
            ),
            rx.alert_dialog.description(
                # Plain strings: the description is a <p> already, and <p> cannot hold a <p>.
                "“",
                CampaignsState.dialog_name,
                rx.cond(
                    CampaignsState.dialog_has_history,
                    "” has sending history (deliveries, coupons, analytics), which is kept "
                    "for your records. Archiving hides it from this list; "
                    "“Show archived” brings it back.",
                    "” has never been sent. Deleting it cannot be undone.",
                ),
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button(
                        "Cancel",
                        variant="soft",
                        color_scheme="gray",
                        on_click=CampaignsState.close_dialog,
                    )
                ),
                rx.alert_dialog.action(
                    rx.cond(
                        CampaignsState.dialog_has_history,
                        rx.button(
                            "Archive",
                            on_click=CampaignsState.confirm_archive,
                            id="confirm-archive",
                        ),
                        rx.button(
                            "Delete",
                            color_scheme="red",
                            on_click=CampaignsState.confirm_delete,
                            id="confirm-delete",
                        ),
                    )
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=CampaignsState.dialog_open,
    )


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Search by name",
            value=CampaignsState.search,
            on_change=CampaignsState.set_search,
            debounce_timeout=300,
            width="260px",
            id="campaign-search",
        ),
        rx.select(
            ["all", *(s.value for s in CampaignStatus)],
            value=CampaignsState.status_filter,
            on_change=CampaignsState.set_status_filter,
            id="status-filter",
        ),
        rx.select.root(
            rx.select.trigger(id="sort"),
            rx.select.content(
                rx.select.item("Newest first", value="created"),
                rx.select.item("Name A–Z", value="name"),
                rx.select.item("Recently sent", value="sent"),
            ),
            value=CampaignsState.sort,
            on_change=CampaignsState.set_sort,
        ),
        rx.hstack(
            rx.switch(
                checked=CampaignsState.show_archived,
                on_change=CampaignsState.set_show_archived,
                id="show-archived",
            ),
            rx.text("Show archived", size="2"),
            align="center",
            spacing="2",
        ),
        rx.spacer(),
        rx.link(
            rx.button(rx.icon("plus", size=16), "New campaign", id="new-campaign"),
            href="/campaigns/new",
        ),
        width="100%",
        align="center",
        spacing="3",
        wrap="wrap",
    )


def _empty() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("megaphone", size=36, color=rx.color("gray", 9)),
            rx.heading(
                rx.cond(
                    (CampaignsState.search != "") | (CampaignsState.status_filter != "all"),
                    "No campaigns match",
                    rx.cond(
                        CampaignsState.show_archived, "No archived campaigns", "No campaigns yet"
                    ),
                ),
                size="4",
            ),
            rx.text(
                "Campaigns you create appear here with their status, audience and results.",
                color=MUTED,
                size="2",
            ),
            align="center",
            spacing="2",
        ),
        padding="48px",
        width="100%",
        id="campaigns-empty",
    )


@template(route="/campaigns", title="Campaigns", on_load=CampaignsState.load)
def campaigns_page() -> rx.Component:
    return rx.vstack(
        _toolbar(),
        rx.cond(
            CampaignsState.message != "",
            rx.callout(
                CampaignsState.message,
                icon="check",
                color_scheme="grass",
                size="1",
                id="campaigns-message",
            ),
        ),
        rx.cond(
            CampaignsState.error != "",
            rx.callout(
                CampaignsState.error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                id="campaigns-error",
            ),
        ),
        rx.card(
            rx.cond(
                CampaignsState.rows.length() > 0,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Campaign"),
                            rx.table.column_header_cell("Channel"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Date"),
                            rx.table.column_header_cell("Recipients", text_align="right"),
                            rx.table.column_header_cell("Sent", text_align="right"),
                            rx.table.column_header_cell("Failed", text_align="right"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(CampaignsState.rows, _row)),
                    width="100%",
                    variant="ghost",
                    id="campaigns-table",
                ),
                _empty(),
            ),
            width="100%",
        ),
        rx.hstack(
            rx.text(CampaignsState.page_label, size="2", color=MUTED),
            rx.spacer(),
            rx.button(
                rx.icon("chevron-left", size=16),
                "Previous",
                variant="soft",
                disabled=~CampaignsState.has_prev,
                on_click=CampaignsState.prev_page,
            ),
            rx.button(
                "Next",
                rx.icon("chevron-right", size=16),
                variant="soft",
                disabled=~CampaignsState.has_next,
                on_click=CampaignsState.next_page,
            ),
            width="100%",
            align="center",
        ),
        _dialog(),
        spacing="4",
        width="100%",
    )
