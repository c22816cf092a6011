"""Download of a customer export: admins only, by a single-use ticket the Customers page issues."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import admin_or_refusal
from marketing_ui.core import audit
from marketing_ui.core.clock import utcnow
from marketing_ui.core.customer_export import csv_chunks, export_rows, redeem_ticket


def export_path(ticket: str) -> str:
    """Where the Customers page's download link points (on the backend origin)."""
    return f"/api/customers/export/{ticket}.csv"


def export_customers(request: Request) -> Response:
    """Sync on purpose: Starlette runs it, and iterates the stream, in its thread pool."""
    user = admin_or_refusal(request, "export customers")
    if isinstance(user, Response):
        return user
    scope = redeem_ticket(request.path_params["ticket"], user.id)
    if scope is None:
        return PlainTextResponse(
            "This export link has expired or was used already: press Export on the Customers "
            "page again.",
            status_code=404,
        )
    try:
        with audit.acting_as(audit.Actor(user.id, user.username)):
            rows = export_rows(scope, requested_by=user.id)
    except LookupError:
        return PlainTextResponse("That segment no longer exists.", status_code=404)
    name = f"customers-{utcnow():%Y-%m-%d}.csv"
    return StreamingResponse(
        csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


ROUTES.append(Route("/api/customers/export/{ticket:str}.csv", export_customers, methods=["GET"]))
