"""Import page: upload, map columns and phone handling, live progress, rows to check, history.

Laid out to work from 390 px up (everything wraps), and with no paragraph inside another
(rx.text renders <p>; callouts with more than a line use callout.root, not callout text).
"""

import reflex as rx

from marketing_ui.components.backend_link import backend_url
from marketing_ui.components.layout import register_nav, template
from marketing_ui.components.theme import MUTED
from marketing_ui.core.models import InvalidPhone
from marketing_ui.state.customer_import import MAX_UPLOAD_BYTES, NOT_MAPPED, HistoryRow
from marketing_ui.state.customer_import import ImportState as S

register_nav("Import", "/import", "upload", 25)

UPLOAD_ID = "csv-upload"


def _report_href(job_id: rx.Var) -> rx.Var:
    return backend_url("/api/imports/" + job_id.to(str) + "/report.csv")


def _block_callout(*children: rx.Component, icon: str, color: str, **props) -> rx.Component:
    """A callout holding several lines: a div root, so its lines are <p>s side by side."""
    return rx.callout.root(
        rx.callout.icon(rx.icon(icon, size=16)),
        rx.vstack(*children, spacing="1", min_width="0"),
        color_scheme=color,
        width="100%",
        **props,
    )


def _upload_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("1. Choose a CSV file", size="4"),
            rx.text(
                "Exports from Excel, Google Sheets or another CRM work: commas, semicolons or tabs, "
                "UTF-8, UTF-16 or Latin-1. The first line must name the columns.",
                size="2",
                color=MUTED,
            ),
            rx.upload(
                rx.vstack(
                    rx.icon("file-up", size=36, color=rx.color("accent", 9)),
                    rx.text(
                        "Drop a CSV here or click to choose one",
                        weight="medium",
                        text_align="center",
                    ),
                    rx.text(f"Up to {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", size="1", color=MUTED),
                    align="center",
                    spacing="2",
                ),
                id=UPLOAD_ID,
                accept={"text/csv": [".csv", ".txt", ".tsv"]},
                max_files=1,
                multiple=False,
                max_size=MAX_UPLOAD_BYTES,
                on_drop=S.handle_upload(rx.upload_files(upload_id=UPLOAD_ID)),
                on_drop_rejected=S.upload_rejected,
                border=f"2px dashed {rx.color('accent', 7)}",
                border_radius="12px",
                padding=["24px 12px", "40px"],
                width="100%",
                cursor="pointer",
                background=rx.color("accent", 2),
            ),
            rx.cond(
                S.upload_error != "",
                rx.callout(
                    S.upload_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    width="100%",
                    id="upload-error",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _mapping_row(item: rx.Var[dict[str, str]]) -> rx.Component:
    field = item["field"]
    return rx.flex(
        rx.text(item["label"], weight="medium", size="2", min_width="130px", flex="1"),
        rx.box(
            rx.select.root(
                rx.select.trigger(width="100%"),
                rx.select.content(
                    rx.select.item("— not imported —", value=NOT_MAPPED),
                    rx.foreach(S.headers, lambda h: rx.select.item(h, value=h)),
                ),
                value=S.mapping.get(field, NOT_MAPPED),
                on_change=lambda column: S.set_mapping(field, column),
            ),
            id="map-" + field,
            flex="2",
            min_width="180px",
            max_width="320px",
        ),
        align="center",
        gap="8px",
        wrap="wrap",
        width="100%",
    )


def _preview() -> rx.Component:
    return rx.cond(
        S.preview.length() > 0,
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(rx.foreach(S.headers, rx.table.column_header_cell))),
                rx.table.body(
                    rx.foreach(
                        S.preview,
                        lambda row: rx.table.row(
                            rx.foreach(
                                row,
                                lambda v: rx.table.cell(rx.text(v, size="1"), white_space="nowrap"),
                            )
                        ),
                    )
                ),
                size="1",
                variant="surface",
            ),
            overflow_x="auto",
            width="100%",
            max_width="100%",
        ),
    )


def _phone_options() -> rx.Component:
    return rx.vstack(
        rx.heading("Phone numbers", size="3", margin_top="8px"),
        rx.flex(
            rx.text("Numbers written without +country are from", size="2"),
            rx.select.root(
                rx.select.trigger(id="import-region", max_width="100%"),
                rx.select.content(
                    rx.foreach(S.regions, lambda r: rx.select.item(r[1], value=r[0])),
                ),
                value=S.region,
                on_change=S.set_region,
            ),
            align="center",
            gap="8px",
            wrap="wrap",
        ),
        rx.text("A row whose phone number does not read as a number:", size="2"),
        rx.radio_group.root(
            rx.vstack(
                rx.radio_group.item(
                    "Reject the row (it is listed in the error report)",
                    value=InvalidPhone.REJECT_ROW.value,
                    id="invalid-phone-reject",
                ),
                rx.radio_group.item(
                    "Import it without the phone if it has an email (noted in the report)",
                    value=InvalidPhone.DROP_PHONE.value,
                    id="invalid-phone-drop",
                ),
                spacing="2",
            ),
            value=S.invalid_phone,
            on_change=S.set_invalid_phone,
        ),
        rx.cond(
            S.phone_summary != "",
            rx.callout(S.phone_summary, icon="phone", size="1", width="100%", id="phone-check"),
        ),
        spacing="2",
        width="100%",
    )


def _map_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("2. Match columns to fields", size="4"),
                rx.text(
                    S.filename,
                    " · ",
                    S.rows_in_file,
                    " rows",
                    size="2",
                    color=MUTED,
                    word_break="break-word",
                    id="upload-summary",
                ),
                rx.spacer(),
                rx.button("Choose another file", variant="ghost", on_click=S.start_over),
                align="center",
                gap="8px",
                wrap="wrap",
                width="100%",
            ),
            rx.text("The first rows of the file:", size="2", color=MUTED),
            _preview(),
            rx.vstack(rx.foreach(S.fields, _mapping_row), spacing="2", width="100%"),
            rx.heading("Customers already in the list", size="3", margin_top="8px"),
            rx.radio_group.root(
                rx.vstack(
                    rx.radio_group.item(
                        "Add new customers only; leave existing ones untouched",
                        value="add_only",
                        id="mode-add-only",
                    ),
                    rx.radio_group.item(
                        "Add new customers and update existing ones (matched by email or phone)",
                        value="add_update",
                        id="mode-add-update",
                    ),
                    spacing="2",
                ),
                value=S.mode,
                on_change=S.set_mode,
            ),
            _phone_options(),
            rx.heading("Tags for every imported row", size="3", margin_top="8px"),
            rx.input(
                placeholder="e.g. spring-fair, walk-in (comma separated; new tags are created)",
                value=S.tags_text,
                on_change=S.set_tags_text,
                width="100%",
                id="import-tags",
            ),
            _block_callout(
                rx.text("Rows without a consent column import as NOT subscribed.", weight="bold"),
                rx.foreach(S.consent_summary, lambda line: rx.text(line, size="2")),
                icon="shield-check",
                color="amber",
                id="consent-notice",
            ),
            rx.cond(
                S.start_error != "",
                rx.callout(
                    S.start_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    width="100%",
                    id="start-error",
                ),
            ),
            rx.button(
                rx.icon("play", size=16),
                "Start import",
                size="3",
                on_click=S.start_import,
                id="start-import",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _stat(label: str, value: rx.Var, stat_id: str, color: str = "gray") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color=MUTED),
        rx.heading(value, size="5", color=rx.color(color, 11), id=stat_id),
        spacing="0",
        min_width="80px",
    )


def _progress() -> rx.Component:
    job = S.job
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Importing ", job.filename, size="4", word_break="break-word"),
                rx.badge(job.status, id="import-status", variant="soft"),
                rx.spacer(),
                # Also while it runs: another import can start meanwhile (the history tracks both).
                rx.button(
                    rx.icon("rotate-ccw", size=14),
                    "Import another file",
                    variant="soft",
                    on_click=S.start_over,
                    id="import-again",
                ),
                align="center",
                gap="8px",
                wrap="wrap",
                width="100%",
            ),
            rx.progress(value=S.percent, max=100, width="100%", id="import-progress"),
            rx.text(
                job.rows_done,
                " of ",
                job.rows_total,
                " rows (",
                S.percent,
                "%)",
                rx.cond(job.status == "queued", " · waiting for a worker…", ""),
                size="2",
                color=MUTED,
                id="import-rows",
            ),
            rx.flex(
                _stat("Created", job.created, "import-created", "grass"),
                _stat("Updated", job.updated, "import-updated", "blue"),
                _stat("Unchanged", job.unchanged + job.skipped, "import-unchanged"),
                _stat("Without phone", job.phones_dropped, "import-phones-dropped", "amber"),
                _stat("Rejected", job.errors, "import-errors", "red"),
                gap="16px",
                wrap="wrap",
            ),
            rx.cond(job.message != "", rx.text(job.message, size="2", id="import-message")),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _report() -> rx.Component:
    return rx.cond(
        S.finished & (S.report_rows.length() > 0),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Rows to check", size="4"),
                    rx.spacer(),
                    rx.cond(
                        S.job.has_report,
                        rx.link(
                            rx.button(
                                rx.icon("download", size=14), "Download report CSV", variant="soft"
                            ),
                            href=_report_href(S.job.id),
                            is_external=True,
                            id="download-report",
                        ),
                    ),
                    width="100%",
                    align="center",
                    gap="8px",
                    wrap="wrap",
                ),
                rx.text(
                    "Rejected rows are not imported: fix them in your file and import it again "
                    "(customers already in are matched, not duplicated).",
                    size="2",
                    color=MUTED,
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Line", width="60px"),
                            rx.table.column_header_cell("Outcome", width="90px"),
                            rx.table.column_header_cell("Reason"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            S.report_rows,
                            lambda r: rx.table.row(
                                rx.table.cell(r.line),
                                rx.table.cell(
                                    rx.badge(
                                        r.outcome,
                                        color_scheme=rx.cond(
                                            r.outcome == "rejected", "red", "amber"
                                        ),
                                        variant="soft",
                                    )
                                ),
                                rx.table.cell(r.reason, word_break="break-word"),
                                class_name="report-row",
                                data_line=r.line,
                                data_outcome=r.outcome,
                            ),
                        )
                    ),
                    size="1",
                    width="100%",
                    id="import-report",
                ),
                rx.cond(
                    S.errors_hidden > 0,
                    rx.text(
                        "…and ",
                        S.errors_hidden,
                        " more in the downloadable report.",
                        size="2",
                        color=MUTED,
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
    )


def _history_row(row: rx.Var[HistoryRow]) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.text(row.filename, weight="medium", word_break="break-word"),
            rx.badge(
                row.status_label,
                color_scheme=rx.match(
                    row.status, ("done", "grass"), ("failed", "red"), ("running", "blue"), "gray"
                ),
                variant="soft",
                class_name="history-status",
            ),
            rx.spacer(),
            rx.cond(
                row.has_report,
                rx.link(
                    rx.hstack(rx.icon("download", size=14), "Error report", spacing="1"),
                    href=_report_href(row.id),
                    is_external=True,
                    size="2",
                    class_name="history-report",
                ),
            ),
            align="center",
            gap="8px",
            wrap="wrap",
        ),
        rx.text(row.started, size="1", color=MUTED),
        rx.text(row.counts, size="2", class_name="history-counts"),
        rx.cond(row.message != "", rx.text(row.message, size="2", color=rx.color("red", 11))),
        padding="10px 0",
        border_top=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name="history-row",
        data_id=row.id,
    )


def _history() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Recent imports", size="4"),
            rx.cond(
                S.history.length() > 0,
                rx.box(rx.foreach(S.history, _history_row), width="100%"),
                rx.text("No imports yet.", size="2", color=MUTED),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="import-history",
    )


@template(route="/import", title="Import customers", on_load=S.load)
def import_page() -> rx.Component:
    return rx.vstack(
        rx.match(
            S.step,
            ("upload", _upload_step()),
            ("map", _map_step()),
            rx.fragment(_progress(), _report()),
        ),
        _history(),
        spacing="4",
        width="100%",
        min_width="0",
    )
