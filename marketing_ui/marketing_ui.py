"""The Reflex app: theme, pages, the public HTTP endpoints, and the guards around every event."""

import importlib
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

sealed_storage.install()
rq_jobs.install()  # the core queues its jobs through RQ in this process
app = rx.App(api_transformer=[build_api(), guard_uploads])
app.add_middleware(AuthorizationMiddleware(), index=0)
