"""Download of an import's error report CSV; admins only, since it echoes the rejected rows."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.api.session import admin_or_refusal
from marketing_ui.core.db import session_scope
from marketing_ui.core.importer import report_path_for
from marketing_ui.core.models import ImportJob

MAX_ID = 2**62  # larger ids overflow the database integer and would turn a 404 into a 500


def import_report(request: Request) -> Response:
    """Sync on purpose: Starlette runs it in its thread pool, so DB reads never block the loop."""
    job_id: int = request.path_params["job_id"]
    if job_id > MAX_ID:
        return PlainTextResponse("This import has no error report.", status_code=404)
    refusal = admin_or_refusal(request, "download import reports")
    if isinstance(refusal, Response):
        return refusal
    with session_scope() as session:
        job = session.get(ImportJob, job_id)
        stored = job.report_path if job else None
    if not stored:
        return PlainTextResponse("This import has no error report.", status_code=404)
    path = Path(stored).resolve()
    # Serve only the file the importer writes for this job, never another path from the row.
    if path != report_path_for(job_id).resolve() or not path.is_file():
        return PlainTextResponse("This import has no error report.", status_code=404)
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename=f"import-{job_id}-errors.csv",
        headers={"Cache-Control": "no-store"},
    )


ROUTES.append(Route("/api/imports/{job_id:int}/report.csv", import_report, methods=["GET"]))
