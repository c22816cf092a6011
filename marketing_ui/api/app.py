"""The Starlette app that Reflex mounts in front of its own backend routes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

# Feature modules append their routes here at import (see marketing_ui.marketing_ui).
ROUTES: list[BaseRoute] = []


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_api() -> Starlette:
    return Starlette(routes=[Route("/api/health", health, methods=["GET"]), *ROUTES])
