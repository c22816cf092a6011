"""Import page: upload, map columns, confirm consent handling, live progress, per-row error report."""

import reflex as rx

from marketing_ui.components.backend_link import backend_url
from marketing_ui.components.layout import register_nav, template
from marketing_ui.state.customer_import import MAX_UPLOAD_BYTES, NOT_MAPPED
from marketing_ui.state.customer_import import ImportState as S

register_nav("Import", "/import", "upload", 25)

MUTED = rx.color("gray", 11)
UPLOAD_ID = "csv-upload"


def _upload_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("1. Choose a CSV file", size="4"),
            rx.text(
                "Exports from Excel, Google Sheets or another CRM work: commas, semicolons or tabs, "
                "UTF-8 or Latin-1. The first line must name the columns.",
                size="2",
                color=MUTED,
            ),
            rx.upload(
                rx.vstack(
                    rx.icon("file-up", size=36, color=rx.color("accent", 9)),
                    rx.text("Drop a CSV here or click to choose one", weight="medium"),
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
                border=f"2px dashed {rx.color('accent', 7)}",
                border_radius="12px",
                padding="40px",
                width="100%",
                cursor="pointer",
                background=rx.color("accent", 2),
            ),
            rx.cond(
                S.upload_error != "",
                rx.callout(S.upload_error, icon="triangle-alert", color_scheme="red", size="1"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _mapping_row(item: rx.Var[dict[str, str]]) -> rx.Component:
    field = item["field"]
    return rx.table.row(
        rx.table.cell(rx.text(item["label"], weight="medium")),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(width="260px"),
                rx.select.content(
                    rx.select.item("— not imported —", value=NOT_MAPPED),
                    rx.foreach(S.headers, lambda h: rx.select.item(h, value=h)),
                ),
                value=S.mapping.get(field, NOT_MAPPED),
                on_change=lambda column: S.set_mapping(field, column),
            ),
            id="map-" + field,
        ),
        align="center",
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
                            rx.foreach(row, lambda v: rx.table.cell(rx.text(v, size="1")))
                        ),
                    )
                ),
                size="1",
                variant="surface",
            ),
            overflow_x="auto",
            width="100%",
        ),
    )


def _map_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("2. Match columns to fields", size="4"),
                rx.badge(rx.icon("file-text", size=12), S.filename, variant="surface"),
                rx.spacer(),
                rx.button("Choose another file", variant="ghost", on_click=S.start_over),
                align="center",
                width="100%",
            ),
            rx.text("The first rows of the file:", size="2", color=MUTED),
            _preview(),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Field"),
                        rx.table.column_header_cell("Column in your file"),
                    )
                ),
                rx.table.body(rx.foreach(S.fields, _mapping_row)),
                size="1",
            ),
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
            rx.heading("Tags for every imported row", size="3", margin_top="8px"),
            rx.input(
                placeholder="e.g. spring-fair, walk-in (comma separated; new tags are created)",
                value=S.tags_text,
                on_change=S.set_tags_text,
                width="100%",
                id="import-tags",
            ),
            rx.callout(
                rx.vstack(
                    rx.text(
                        "Rows without a consent column import as NOT subscribed.",
                        weight="bold",
                    ),
                    rx.foreach(S.consent_summary, lambda line: rx.text(line, size="2")),
                    spacing="1",
                ),
                icon="shield-check",
                color_scheme="amber",
                width="100%",
                id="consent-notice",
            ),
            rx.cond(
                S.start_error != "",
                rx.callout(
                    S.start_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
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
        min_width="90px",
    )


def _progress() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("3. Importing ", S.filename, size="4"),
                rx.badge(S.status, id="import-status", variant="soft"),
                rx.spacer(),
                rx.cond(
                    S.step == "finished",
                    rx.button(
                        rx.icon("rotate-ccw", size=14),
                        "Import another file",
                        variant="soft",
                        on_click=S.start_over,
                        id="import-again",
                    ),
                ),
                align="center",
                width="100%",
            ),
            rx.progress(value=S.percent, max=100, width="100%", id="import-progress"),
            rx.text(
                S.rows_done,
                " of ",
                S.rows_total,
                " rows (",
                S.percent,
                "%)",
                rx.cond(S.status == "queued", " · waiting for a worker…", ""),
                size="2",
                color=MUTED,
                id="import-rows",
            ),
            rx.hstack(
                _stat("Created", S.created, "import-created", "grass"),
                _stat("Updated", S.updated, "import-updated", "blue"),
                _stat("Errors", S.error_count, "import-errors", "red"),
                spacing="6",
            ),
            rx.cond(S.message != "", rx.text(S.message, size="2", id="import-message")),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _report() -> rx.Component:
    return rx.cond(
        (S.step == "finished") & (S.report_rows.length() > 0),
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("Rows not imported", size="4"),
                    rx.spacer(),
                    rx.cond(
                        S.has_report,
                        rx.link(
                            rx.button(
                                rx.icon("download", size=14), "Download report CSV", variant="soft"
                            ),
                            href=backend_url("/api/imports/" + S.job_id.to(str) + "/report.csv"),
                            is_external=True,
                            id="download-report",
                        ),
                    ),
                    width="100%",
                    align="center",
                ),
                rx.text(
                    "Fix these rows in your file and import it again; the good rows are already in.",
                    size="2",
                    color=MUTED,
                ),
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Line", width="80px"),
                            rx.table.column_header_cell("Reason"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            S.report_rows,
                            lambda r: rx.table.row(
                                rx.table.cell(r["line"]),
                                rx.table.cell(r["reason"]),
                                class_name="report-row",
                                data_line=r["line"],
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


@template(route="/import", title="Import customers", on_load=S.load)
def import_page() -> rx.Component:
    return rx.vstack(
        rx.match(
            S.step,
            ("upload", _upload_step()),
            ("map", _map_step()),
            rx.fragment(_progress(), _report()),
        ),
        spacing="4",
        width="100%",
    )
