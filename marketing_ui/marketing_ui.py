"""The Reflex app: theme, pages and the public HTTP endpoints on the backend."""

import importlib
import pkgutil

import reflex as rx

from marketing_ui import api, pages


def _import_all(package) -> None:  # noqa: ANN001 - a package module
    """Page and endpoint modules register themselves on import (rx.page / api ROUTES)."""
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


_import_all(pages)
_import_all(api)

from marketing_ui.api.app import build_api  # noqa: E402  (after every endpoint module)

app = rx.App(api_transformer=build_api())
