"""Download of a table tent or poster PDF (admins only, by the dashboard's login cookie).

GET /api/print/<format>.pdf?src=<source>&cta=<call to action>
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import admin_or_refusal
from marketing_ui.core.db import session_scope
from marketing_ui.core.print_materials import (
    PrintError,
    PrintRequest,
    file_name,
    parse_print_request,
    print_pdf,
)


def print_path(request: PrintRequest) -> str:
    """Where the Settings page's Download button points (on the backend origin)."""
    query = urlencode({"src": request.source, "cta": request.call_to_action})
    return f"/api/print/{request.format.key}.pdf?{query}"


def download_print(request: Request) -> Response:
    """Sync on purpose: Starlette runs it in its thread pool (a layout takes ~0.1 s of CPU)."""
    user = admin_or_refusal(request, "download print materials")
    if isinstance(user, Response):
        return user
    q = request.query_params
    try:
        wanted = parse_print_request(
            request.path_params["format"], q.get("src", ""), q.get("cta", "")
        )
    except PrintError as exc:
        return PlainTextResponse(str(exc), status_code=400)
    with session_scope() as session:
        pdf = print_pdf(session, wanted)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{file_name(wanted)}"',
            "Cache-Control": "no-store",
        },
    )


ROUTES.append(Route("/api/print/{format:str}.pdf", download_print, methods=["GET"]))
