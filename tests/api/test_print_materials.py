"""Print download: an admin gets the PDF for the stored identity; nobody else gets anything;
a bad format, source or call to action is a 400 that names the field."""
# ruff: noqa: F811  (fixtures imported from tests.api are used as arguments)

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import redis
import zxingcpp
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

import marketing_ui.api.print_materials  # noqa: F401  (registers the route)
from marketing_ui.api.print_materials import print_path
from marketing_ui.core import app_settings, auth
from marketing_ui.core.config import get_settings
from marketing_ui.core.print_materials import parse_print_request
from tests.api import api_db, client, login_token  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _get(client: TestClient, path: str, token: str = ""):  # noqa: ANN202 - an httpx Response
    client.cookies.clear()
    if token:
        client.cookies.set(auth.SESSION_COOKIE, token)
    return client.get(path)


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("tent", "table-tent-window.pdf"),
        ("poster-a4", "poster-a4-window.pdf"),
        ("poster-letter", "poster-letter-window.pdf"),
    ],
)
def test_an_admin_downloads_the_pdf_with_the_stored_name(
    client: TestClient,
    api_db: Engine,
    redis_client: redis.Redis,
    fmt: str,
    name: str,
) -> None:
    with Session(api_db) as session:
        app_settings.update_business_identity(session, {"business_name": "Corner Cafe"})
    admin = login_token(api_db, redis_client, "admin")
    path = print_path(parse_print_request(fmt, "Window", "Free coffee for joining"))
    response = _get(client, path, admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert response.headers["cache-control"] == "no-store"
    page = pdfium.PdfDocument(response.content)[0]
    text = " ".join(page.get_textpage().get_text_bounded().split())
    assert "Corner Cafe" in text and "Free coffee for joining" in text
    url = f"{get_settings().public_base_url}/join?src=window"
    codes = {r.text for r in zxingcpp.read_barcodes(page.render(scale=2).to_pil())}
    assert codes == {url}


def test_strangers_and_staff_are_refused(
    client: TestClient,
    api_db: Engine,
    redis_client: redis.Redis,
) -> None:
    staff = login_token(api_db, redis_client, "staff")
    path = "/api/print/tent.pdf"
    assert (_get(client, path).status_code, _get(client, path).text) == (
        401,
        "Log in to download print materials.",
    )
    assert _get(client, path, "forged-token").status_code == 401
    refused = _get(client, path, staff)
    assert (refused.status_code, refused.text) == (403, "Only admins can download print materials.")
    assert "pdf" not in refused.headers["content-type"]
    # A stranger learns nothing about the parameters either: no 400 before the login check.
    assert _get(client, "/api/print/flyer.pdf?src=a%20b").status_code == 401


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/print/flyer.pdf", "Format: choose one of tent, poster-a4, poster-letter."),
        ("/api/print/tent.pdf?src=front%20window", "Source: use letters, digits and dashes"),
        ("/api/print/tent.pdf?src=" + "a" * 41, "Source: use letters, digits and dashes"),
        ("/api/print/poster-a4.pdf?cta=" + "x" * 91, "Call to action: at most 90 characters"),
        ("/api/print/poster-a4.pdf?cta=a%00b", "Call to action: remove the control characters."),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(
    client: TestClient,
    api_db: Engine,
    redis_client: redis.Redis,
    path: str,
    message: str,
) -> None:
    response = _get(client, path, login_token(api_db, redis_client, "admin"))
    assert response.status_code == 400
    assert response.text.startswith(message)


def test_blank_parameters_take_the_defaults(
    client: TestClient,
    api_db: Engine,
    redis_client: redis.Redis,
) -> None:
    response = _get(
        client, "/api/print/tent.pdf?src=&cta=", login_token(api_db, redis_client, "admin")
    )
    assert response.status_code == 200
    assert 'filename="table-tent-table-tent.pdf"' in response.headers["content-disposition"]
