"""/assets/NAME: the images production emails link to (mail clients drop inline data URIs)."""

from __future__ import annotations

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from marketing_ui.api.app import ROUTES
from marketing_ui.core.images import ASSETS_DIR

ROUTES.append(Mount("/assets", StaticFiles(directory=ASSETS_DIR, check_dir=False), name="assets"))
