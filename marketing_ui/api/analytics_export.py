"""CSV export of every analytics chart's table (admins only, by the dashboard's login cookie)."""

from __future__ import annotations

import csv
import io

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import admin_or_refusal
from marketing_ui.core.analytics.export import CAMPAIGN_TABLES, OVERVIEW_TABLES, export_table
from marketing_ui.core.analytics.reports import parse_filters
from marketing_ui.core.csv_safety import safe_row
from marketing_ui.core.db import session_scope

MAX_ID = 2**62


def export_path(table: str) -> str:
    return f"/api/analytics/{table}.csv"


async def export_csv(request: Request) -> Response:
    """GET /api/analytics/<table>.csv?since=YYYY-MM-DD&until=YYYY-MM-DD&channel=&campaign_id=
    &machine=1 (count machine opens and clicks too)"""
    table = request.path_params["table"]
    if table not in OVERVIEW_TABLES + CAMPAIGN_TABLES:
        return PlainTextResponse("Unknown table.", status_code=404)
    q = request.query_params
    raw_id = q.get("campaign_id", "")
    campaign_id = int(raw_id) if raw_id.isdigit() and 0 < int(raw_id) < MAX_ID else None
    if table in CAMPAIGN_TABLES and campaign_id is None:
        return PlainTextResponse("campaign_id is required for this table.", status_code=400)
    filters = parse_filters(
        q.get("since", ""), q.get("until", ""), q.get("channel", ""), q.get("machine", "")
    )
    refusal = admin_or_refusal(request, "export analytics")
    if isinstance(refusal, Response):
        return refusal
    with session_scope() as session:
        result = export_table(session, table, filters, campaign_id)
    if result is None:
        return PlainTextResponse("Unknown table.", status_code=404)
    header, rows = result
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(safe_row(row) for row in rows)
    name = f"{table}-{campaign_id}.csv" if campaign_id else f"{table}.csv"
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES.append(Route("/api/analytics/{table:str}.csv", export_csv, methods=["GET"]))
