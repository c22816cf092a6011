"""Image strategy: inline data URIs in development, absolute URLs in production; safe uploads."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from marketing_ui.core.config import load_settings, new_key
from marketing_ui.core.images import (
    ASSETS_DIR,
    MAX_UPLOAD_BYTES,
    ImageError,
    image_resolver_for,
    resolve_image,
    save_uploaded_image,
)
from marketing_ui.core.rendering import compile_email, load_template, personalize, sample_context


def png_bytes(size: tuple[int, int] = (8, 8), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def production_settings():
    return load_settings(
        app_env="production",
        public_base_url="https://mail.example.com/",
        database_url="postgresql+psycopg://u@db/app",
        redis_url="redis://redis:6379/0",
        encryption_keys=f"k1:{new_key()}",
        blind_index_key=new_key(),
        signing_key=new_key(),
    )


def test_inline_mode_returns_the_file_as_data_uri() -> None:
    uri = resolve_image("asset:logo.png", mode="inline", folders=(ASSETS_DIR,), base_url="")
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :]) == (ASSETS_DIR / "logo.png").read_bytes()


def test_inline_mime_comes_from_content(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(png_bytes(fmt="JPEG"))  # a JPEG under a .png name
    uri = resolve_image("photo.png", mode="inline", folders=(tmp_path,), base_url="")
    assert uri.startswith("data:image/jpeg;base64,")


def test_url_mode_returns_absolute_url() -> None:
    for ref in ("asset:logo.png", "/media/logo.png", "logo.png"):
        url = resolve_image(
            ref, mode="url", folders=(ASSETS_DIR,), base_url="https://m.example.com/"
        )
        assert url == "https://m.example.com/media/logo.png"


def test_missing_and_unsafe_references_are_clear_errors() -> None:
    with pytest.raises(ImageError, match="'nope.png' not found"):
        resolve_image("asset:nope.png", mode="inline", folders=(ASSETS_DIR,), base_url="")
    for bad in ("asset:../config.py", "asset:/etc/passwd", "asset:a/b.png", "asset:"):
        with pytest.raises(ImageError, match="not an asset name"):
            resolve_image(bad, mode="url", folders=(ASSETS_DIR,), base_url="https://x.example")


def test_resolver_follows_the_environment_without_template_changes() -> None:
    source = load_template("monday_special")
    development = load_settings()
    assert not development.is_production
    dev_html = personalize(
        compile_email(source, "x", image_resolver=image_resolver_for(development)),
        sample_context(),
    ).html
    prod_html = personalize(
        compile_email(source, "x", image_resolver=image_resolver_for(production_settings())),
        sample_context(),
    ).html
    assert 'src="data:image/png;base64,' in dev_html
    assert "https://mail.example.com/media/logo.png" not in dev_html
    assert 'src="https://mail.example.com/media/logo.png"' in prod_html
    assert 'src="https://mail.example.com/media/sample_dish.jpg"' in prod_html
    assert "data:image/png" not in prod_html.replace(sample_context()["qr_code_url"], "")


def test_upload_keeps_a_real_image_under_a_clean_name(tmp_path: Path) -> None:
    data = png_bytes()
    name = save_uploaded_image(data, "Monday Pasta!.PNG", tmp_path)
    assert name == "monday-pasta.png"
    assert (tmp_path / name).read_bytes() == data
    # the same bytes again reuse the file; different bytes never overwrite it
    assert save_uploaded_image(data, "Monday Pasta!.PNG", tmp_path) == name
    other = png_bytes((9, 9))
    assert save_uploaded_image(other, "monday-pasta.png", tmp_path) == "monday-pasta-2.png"
    assert (tmp_path / name).read_bytes() == data


def test_upload_extension_follows_content(tmp_path: Path) -> None:
    assert save_uploaded_image(png_bytes(fmt="JPEG"), "photo.png", tmp_path) == "photo.jpg"
    assert save_uploaded_image(png_bytes(fmt="WEBP"), "anim.gif", tmp_path) == "anim.webp"


def test_upload_refuses_text_with_an_image_name(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or WebP"):
        save_uploaded_image(b"<?php system($_GET['c']); ?>", "logo.png", tmp_path)
    with pytest.raises(ImageError, match="not a PNG"):
        save_uploaded_image(png_bytes()[:40], "cut.png", tmp_path)  # truncated PNG
    with pytest.raises(ImageError, match="empty"):
        save_uploaded_image(b"", "x.png", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_upload_refuses_oversized(tmp_path: Path) -> None:
    data = png_bytes() + b"\0" * MAX_UPLOAD_BYTES
    with pytest.raises(ImageError, match="limit is 2 MB"):
        save_uploaded_image(data, "big.png", tmp_path)
    huge = png_bytes((6000, 10))
    with pytest.raises(ImageError, match="6000x10 px"):
        save_uploaded_image(huge, "wide.png", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\windows\\evil.png", "evil.png"),
        ("/abs/path/x.png", "x.png"),
        (".hidden.png", "hidden.png"),
        ("...", "image.png"),
        ("", "image.png"),
    ],
)
def test_upload_names_cannot_escape(tmp_path: Path, filename: str, expected: str) -> None:
    folder = tmp_path / "assets"
    name = save_uploaded_image(png_bytes(), filename, folder)
    assert name == expected
    assert (folder / name).is_file()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [expected]
