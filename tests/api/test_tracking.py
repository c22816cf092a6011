"""Open pixel and click redirect over HTTP: signed links only, no open redirect, every hit stored."""
# ruff: noqa: F811  (fixtures imported from tests.api are used as arguments)

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from marketing_ui.api.tracking import PIXEL_GIF, buffer
from marketing_ui.api.view_online import rendered_html
from marketing_ui.core.config import reset_settings_cache
from marketing_ui.core.events import tracking_buffer_key
from marketing_ui.core.models import Campaign, Customer, Event
from marketing_ui.core.redis_client import get_redis, reset_redis_cache
from marketing_ui.core.rendering import load_template
from marketing_ui.core.tracking import (
    click_url,
    open_pixel_url,
    unsubscribe_token,
    view_online_preview_url,
    view_online_url,
    without_tracking,
)
from tests.api import PUBLIC_API, add_delivery, api_db, client, seed_email_delivery  # noqa: F401

DEST = "https://bistro.example/menu?day=monday&x=1"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _events(engine: Engine, type_: str) -> list[tuple[int | None, str]]:
    with Session(engine) as s:
        return [
            (row[0], row[1])
            for row in s.execute(
                select(Event.delivery_id, Event.detail)
                .where(Event.type == type_)
                .order_by(Event.id)
            )
        ]


def _seed(engine: Engine):  # noqa: ANN202
    with Session(engine, expire_on_commit=False) as s:
        return seed_email_delivery(s)


def test_open_pixel_records_every_open_and_never_caches(client: TestClient, api_db: Engine) -> None:
    seeded = _seed(api_db)
    url = _path(open_pixel_url(seeded.delivery_id))
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200
        assert response.content == PIXEL_GIF
        assert response.headers["content-type"] == "image/gif"
        assert "no-store" in response.headers["cache-control"]
    assert _events(api_db, "opened") == [(seeded.delivery_id, "")] * 3  # total; unique = 1 delivery
    with Session(api_db) as s:
        assert s.get(Customer, seeded.customer_id).last_activity_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p.replace(".gif", "x.gif"),  # extra char in the signature
        lambda p: (
            p[: p.rindex("/") + 1]
            + ("A" if p[p.rindex("/") + 1] != "A" else "B")
            + p[p.rindex("/") + 2 :]
        ),
        lambda p: p.replace("/t/o/", "/t/o/9"),  # another delivery, same signature
        lambda p: "/t/o/99999999999999999999999999/" + p.rsplit("/", 1)[1],
        lambda p: "/t/o/-1/" + p.rsplit("/", 1)[1],
    ],
)
def test_bad_pixel_still_returns_gif_but_records_nothing(
    client: TestClient, api_db: Engine, mangle
) -> None:  # noqa: ANN001
    seeded = _seed(api_db)
    response = client.get(mangle(_path(open_pixel_url(seeded.delivery_id))))
    assert response.status_code == 200
    assert response.content == PIXEL_GIF
    assert "no-store" in response.headers["cache-control"]
    assert _events(api_db, "opened") == []


def test_click_records_and_redirects_to_signed_destination(
    client: TestClient, api_db: Engine
) -> None:
    seeded = _seed(api_db)
    response = client.get(_path(click_url(seeded.delivery_id, DEST)))
    assert response.status_code == 302
    assert response.headers["location"] == DEST
    client.get(_path(click_url(seeded.delivery_id, DEST)))
    assert _events(api_db, "clicked") == [(seeded.delivery_id, DEST)] * 2


def test_tampered_or_foreign_click_links_never_redirect(client: TestClient, api_db: Engine) -> None:
    seeded = _seed(api_db)
    with Session(api_db, expire_on_commit=False) as s:
        other = seed_email_delivery(s, email="bob@example.com", campaign_name="Other")
    good = _path(click_url(seeded.delivery_id, DEST))
    path, query = good.split("?", 1)
    sig = path.rsplit("/", 1)[1]
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    attempts = [
        f"{path.rsplit('/', 1)[0]}/{flipped}?{query}",  # one char of the signature
        good.replace("menu", "menv"),  # one char of the destination
        f"{path}?u={quote('https://evil.example/', safe='')}",
        f"{path}?u={quote('javascript:alert(1)', safe='')}",
        f"{path}?u={quote('//evil.com', safe='')}",
        f"{path}?{query}&u={quote('https://evil.example/', safe='')}",  # second u
        path,  # no destination
        # a valid signature, but for another delivery
        _path(click_url(other.delivery_id, DEST)).replace(
            f"/t/c/{other.delivery_id}/", f"/t/c/{seeded.delivery_id}/"
        ),
        # javascript: signed by us is still refused (only http/https ever redirect)
        _path(click_url(seeded.delivery_id, "javascript:alert(1)")),
        _path(click_url(seeded.delivery_id, "//evil.com")),
    ]
    for attempt in attempts:
        response = client.get(attempt)
        assert response.status_code == 400, attempt
        assert "location" not in response.headers
        assert "text/html" in response.headers["content-type"]
    assert _events(api_db, "clicked") == []


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_buffered_hits_are_written_in_bulk(
    client: TestClient, api_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKING_WRITE_MODE", "buffered")
    redis = get_redis()
    key = tracking_buffer_key()
    redis.delete(key)
    seeded = _seed(api_db)
    try:
        for _ in range(5):
            assert client.get(_path(open_pixel_url(seeded.delivery_id))).status_code == 200
        assert client.get(_path(click_url(seeded.delivery_id, DEST))).status_code == 302
        buffer.drain()
        assert redis.llen(key) == 0
    finally:
        redis.delete(key)
    assert len(_events(api_db, "opened")) == 5
    assert _events(api_db, "clicked") == [(seeded.delivery_id, DEST)]
    with Session(api_db) as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == 6


def test_view_online_renders_the_recipients_email(client: TestClient, api_db: Engine) -> None:
    seeded = _seed(api_db)
    with Session(api_db) as s:
        campaign = s.get(Campaign, seeded.campaign_id)
        campaign.mjml_body = load_template("blank")
        campaign.track_opens_clicks = True
        s.add(campaign)
        s.commit()
    response = client.get(_path(view_online_url(seeded.delivery_id)))
    assert response.status_code == 200
    assert "Hello Ann" in response.text
    assert unsubscribe_token(seeded.customer_uid, seeded.campaign_id) in response.text
    assert "no-store" in response.headers["cache-control"]
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert client.get(_path(view_online_url(seeded.delivery_id + 1))).status_code == 404
    # A signature for another delivery or a view signature reused as an open signature fails.
    other = _path(view_online_url(seeded.delivery_id)).replace(
        f"/v/{seeded.delivery_id}/", f"/v/{seeded.delivery_id + 1}/"
    )
    assert client.get(other).status_code == 400
    pixel_sig = _path(open_pixel_url(seeded.delivery_id)).rsplit("/", 1)[1].removesuffix(".gif")
    assert client.get(f"/v/{seeded.delivery_id}/{pixel_sig}").status_code == 400


def test_email_images_are_served_under_media(client: TestClient, api_db: Engine) -> None:
    response = client.get("/media/logo.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert client.get("/media/../marketing_ui/core/config.py").status_code == 404
    assert client.get("/media/..%2Fmarketing_ui%2Fcore%2Fconfig.py").status_code == 404
    assert client.get("/media/nope.png").status_code == 404


def test_uploaded_images_are_served_before_the_library(client: TestClient, api_db: Engine) -> None:
    """An owner's upload lives in the data folder (no reloader watches it) and wins a clash."""
    from marketing_ui.core.config import get_settings
    from marketing_ui.core.images import ASSETS_DIR, save_uploaded_image, uploads_dir

    folder = uploads_dir(get_settings())
    data = (ASSETS_DIR / "sample_qr.png").read_bytes()
    name = save_uploaded_image(data, "menu-card.png", folder)
    assert (folder / name).is_file() and not (ASSETS_DIR / name).exists()
    response = client.get(f"/media/{name}")
    assert response.status_code == 200 and response.content == data


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_buffered_hits_survive_redis_being_down(
    client: TestClient, api_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKING_WRITE_MODE", "buffered")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    reset_settings_cache()
    reset_redis_cache()
    seeded = _seed(api_db)
    try:
        for _ in range(3):
            assert client.get(_path(open_pixel_url(seeded.delivery_id))).status_code == 200
        buffer.drain()
    finally:
        reset_redis_cache()
    assert len(_events(api_db, "opened")) == 3


def _our_urls(html_text: str) -> list[str]:
    """Every URL the page loads (src) or links to (href) on our public API."""
    found = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", html_text)
    return [_path(html.unescape(u)) for u in found if u.startswith(PUBLIC_API)]


def test_an_admin_looking_at_a_sent_email_records_no_open_or_click(
    client: TestClient, api_db: Engine
) -> None:
    seeded = _seed(api_db)
    with Session(api_db) as s:
        campaign = s.get(Campaign, seeded.campaign_id)
        campaign.mjml_body = load_template("newsletter")
        campaign.track_opens_clicks = True
        campaign.version += 1  # as every saved edit does (the compiled email is cached per version)
        s.add(campaign)
        s.commit()
    sent = rendered_html(seeded.delivery_id)  # the email exactly as the recipient got it
    assert sent is not None and open_pixel_url(seeded.delivery_id) in sent
    assert f"/t/c/{seeded.delivery_id}/" in sent

    # The Outbox shows it without tracking; loading everything in it, and following every
    # link on our API (the view-online page included, and everything that page loads) counts
    # nothing.
    shown = without_tracking(sent)
    assert "/t/o/" not in shown and "/t/c/" not in shown
    assert 'href="https://example.com/menu"' in shown  # links go straight to their destination
    visited = set()
    pending = _our_urls(shown)
    assert any(u.startswith(f"/v/{seeded.delivery_id}/") for u in pending)
    while pending:
        url = pending.pop()
        if url in visited:
            continue
        visited.add(url)
        response = client.get(url)
        assert response.status_code in (200, 302), url
        if url.startswith("/v/"):
            assert "Hello Ann" in response.text  # still the recipient's own email
            pending += _our_urls(response.text)
    assert _events(api_db, "opened") == [] and _events(api_db, "clicked") == []

    # The recipient's own view-online page still counts as an open, as it always has.
    recipient_view = client.get(_path(view_online_url(seeded.delivery_id))).text
    assert _path(open_pixel_url(seeded.delivery_id)) in recipient_view


def test_the_preview_marker_is_signed_per_delivery(client: TestClient, api_db: Engine) -> None:
    seeded = _seed(api_db)
    with Session(api_db) as s:  # a campaign with a real email to show
        campaign = s.get(Campaign, seeded.campaign_id)
        assert campaign is not None
        campaign.mjml_body = load_template("blank")
        s.commit()
    preview = _path(view_online_preview_url(seeded.delivery_id))
    assert client.get(preview).status_code == 200
    forged = preview.rsplit("=", 1)[0] + "=" + "A" * 22
    assert client.get(forged).status_code == 400
    # A marker for one delivery does not fit another delivery's page.
    with Session(api_db) as s:
        other = add_delivery(s, seeded.customer_id, status="sent")
    other_view = _path(view_online_url(other))
    marker = preview.rsplit("=", 1)[1]
    assert client.get(f"{other_view}?preview={marker}").status_code == 400


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["sync", "buffered"])
def test_proxy_and_scanner_hits_are_stored_as_machine_without_their_user_agent(
    client: TestClient, api_db: Engine, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("TRACKING_WRITE_MODE", mode)
    seeded = _seed(api_db)
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"
    pixel, link = (
        _path(open_pixel_url(seeded.delivery_id)),
        _path(click_url(seeded.delivery_id, DEST)),
    )
    assert client.get(pixel, headers={"User-Agent": "Mozilla/5.0"}).status_code == 200
    assert client.get(pixel, headers={"User-Agent": iphone}).status_code == 200
    scanner = {"User-Agent": "Mimecast URL Protect"}
    assert client.get(link, headers=scanner, follow_redirects=False).status_code == 302
    buffer.drain()
    with Session(api_db) as s:
        rows = s.execute(
            select(Event.type, Event.machine, Event.machine_reason, Event.detail).order_by(Event.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("opened", True, "apple_mpp", ""),
        ("opened", False, "", ""),
        ("clicked", True, "scanner", DEST),
    ]
