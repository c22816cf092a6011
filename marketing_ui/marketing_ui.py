"""The Reflex app: theme, pages, the public HTTP endpoints, and the guards around every event."""

import importlib
import logging
import pkgutil

import reflex as rx

from marketing_ui import api, pages
from marketing_ui.infra import rq_jobs
from marketing_ui.state import sealed_storage
from marketing_ui.state.access import AuthorizationMiddleware


def _import_all(package) -> None:  # noqa: ANN001 - a package module
    """Page and endpoint modules register themselves on import (rx.page / api ROUTES)."""
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


_import_all(pages)
_import_all(api)

from marketing_ui.api.app import build_api  # noqa: E402  (after every endpoint module)
from marketing_ui.api.upload_guard import guard_uploads  # noqa: E402


class _SamePageAgain(logging.Filter):
    """Reflex registers every @rx.page again each time it compiles in one process (the start
    command's build, then its server) and warns once per page; it is the same page, not a
    conflict (a real clash of two pages on one route still raises). Keep the start quiet."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is being redefined with the same component" not in record.getMessage()


logging.getLogger("reflex.app").addFilter(_SamePageAgain())
sealed_storage.install()
rq_jobs.install()  # the core queues its jobs through RQ in this process
# Table headers stay on one line: a table too wide for a phone scrolls sideways, and a long
# header wrapped into a tall empty row above the data (seen on the analytics page).
GLOBAL_STYLE = {".rt-TableColumnHeaderCell": {"white_space": "nowrap"}}

app = rx.App(api_transformer=[build_api(), guard_uploads], style=GLOBAL_STYLE)
app.add_middleware(AuthorizationMiddleware(), index=0)
