"""Download of an import's error report CSV; admins only, since it echoes the rejected rows."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.core.auth import user_for_session
from marketing_ui.core.db import session_scope
from marketing_ui.core.importer import report_path_for
from marketing_ui.core.models import ImportJob

SESSION_COOKIE = "mk_session"  # the dashboard's login cookie (marketing_ui.state.auth)
MAX_ID = 2**62  # larger ids overflow the database integer and would turn a 404 into a 500


def import_report(request: Request) -> Response:
    """Sync on purpose: Starlette runs it in its thread pool, so DB reads never block the loop."""
    job_id: int = request.path_params["job_id"]
    if job_id > MAX_ID:
        return PlainTextResponse("This import has no error report.", status_code=404)
    with session_scope() as session:
        user = user_for_session(session, request.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            return PlainTextResponse("Log in to download import reports.", status_code=401)
        if not user.is_admin:
            return PlainTextResponse("Only admins can download import reports.", status_code=403)
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
