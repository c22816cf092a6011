"""/media/NAME: the images production emails link to (mail clients drop inline data URIs).

Uploaded images first, then the shipped library, the same order `asset:NAME` resolves in.
Not `/assets/`: in production that path belongs to the frontend's script and style bundles.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from marketing_ui.api.app import ROUTES
from marketing_ui.core.config import get_settings
from marketing_ui.core.images import MEDIA_PATH, ImageError, asset_name, find_image, image_folders

CACHE = "public, max-age=86400"


def media(request: Request) -> Response:
    try:
        name = asset_name(request.path_params["name"])
    except ImageError:
        return PlainTextResponse("Not found.", status_code=404)
    path = find_image(name, image_folders(get_settings()))
    if path is None:
        return PlainTextResponse("Not found.", status_code=404)
    return FileResponse(path, headers={"Cache-Control": CACHE, "X-Content-Type-Options": "nosniff"})


ROUTES.append(Route(MEDIA_PATH + "/{name}", media, methods=["GET", "HEAD"]))
