"""Image strategy by environment: development inlines data URIs, production links absolute URLs.

Gmail and several other clients drop `data:` images, so production emails must link files
served at `{public_base_url}/media/NAME`; development inlines them so a preview or the outbox
works without any public server. Templates always say `asset:NAME`, so switching needs no edit.

Images come from two folders: the owner's uploads (`DATA_DIR/images`, outside the code, so no
development reloader watches it) and the library shipped in `assets/`. An upload wins a name
clash. `/media/` is ours: the frontend's own `/assets/` holds its script bundles.
"""

from __future__ import annotations

import base64
import io
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from PIL import Image, UnidentifiedImageError

from marketing_ui.core.config import PROJECT_ROOT, Settings

ASSETS_DIR = PROJECT_ROOT / "assets"  # the shipped library (read-only)
MEDIA_PATH = "/media"  # where the backend serves both folders
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
_MAX_IMAGES_LISTED = 60
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_SIDE_PX = 5000

# Pillow format name -> (MIME type, file extension); only what mail clients display.
_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", ".png"),
    "JPEG": ("image/jpeg", ".jpg"),
    "GIF": ("image/gif", ".gif"),
    "WEBP": ("image/webp", ".webp"),
}
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")


class ImageError(ValueError):
    """An image reference or upload that cannot be used; the message says why."""


def asset_name(ref: str) -> str:
    """The bare file name behind `asset:NAME`, `/assets/NAME` or `NAME`; refuses paths."""
    name = ref.strip()
    for prefix in ("asset:", f"{MEDIA_PATH}/", "/assets/", "assets/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if not _NAME_RE.fullmatch(name) or ".." in name:
        raise ImageError(f"{ref!r} is not an asset name (letters, digits, '.', '_', '-' only)")
    return name


def _detect_format(data: bytes) -> str | None:
    """The Pillow format name from the bytes themselves, or None if they are no usable image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
    return fmt if fmt in _FORMATS else None


@lru_cache(maxsize=64)
def _data_uri(path: str, _mtime_ns: int, _size: int) -> str:
    """Cached per file version, so a campaign compile does not re-read and re-encode the logo."""
    data = Path(path).read_bytes()
    fmt = _detect_format(data)
    if fmt is None:
        raise ImageError(f"asset {Path(path).name!r} is not a PNG, JPEG, GIF or WebP image")
    return f"data:{_FORMATS[fmt][0]};base64,{base64.b64encode(data).decode('ascii')}"


def uploads_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "images"


def image_folders(settings: Settings) -> tuple[Path, ...]:
    """Where `asset:NAME` is looked up, in order: the owner's uploads, then the library."""
    return (uploads_dir(settings), ASSETS_DIR)


def find_image(name: str, folders: Sequence[Path]) -> Path | None:
    """The file behind a (checked) asset name in the first folder that has it."""
    for folder in folders:
        path = Path(folder) / name
        if path.is_file():
            return path
    return None


def resolve_image(
    ref: str, *, mode: Literal["inline", "url"], folders: Sequence[Path], base_url: str
) -> str:
    """An `<img src>` for an asset: a data URI ("inline") or `{base_url}/media/NAME` ("url")."""
    name = asset_name(ref)
    path = find_image(name, folders)
    if path is None:
        raise ImageError(f"image {name!r} not found: upload it in the campaign editor")
    stat = path.stat()
    if mode == "inline":
        return _data_uri(str(path), stat.st_mtime_ns, stat.st_size)
    if mode == "url":
        if not base_url.startswith(("http://", "https://")):
            raise ImageError("production image URLs need an absolute PUBLIC_BASE_URL")
        return f"{base_url.rstrip('/')}{MEDIA_PATH}/{quote(name)}"
    raise ImageError(f"unknown image mode {mode!r}")


def image_resolver_for(settings: Settings) -> Callable[[str], str]:
    """The resolver the current environment wants: inline in development, URLs in production."""
    mode: Literal["inline", "url"] = "url" if settings.is_production else "inline"
    base_url = settings.public_base_url
    folders = image_folders(settings)

    def resolve(ref: str) -> str:
        return resolve_image(ref, mode=mode, folders=folders, base_url=base_url)

    return resolve


def list_images(settings: Settings) -> list[dict[str, str]]:
    """The image library for the editor: uploads and shipped images, newest first."""
    seen: dict[str, Path] = {}
    for folder in image_folders(settings):
        if folder.is_dir():
            for path in folder.iterdir():
                name = path.name
                if (
                    path.is_file()
                    and path.suffix.lower() in _IMAGE_SUFFIXES
                    and not name.startswith(".")
                    and name not in seen
                ):
                    seen[name] = path
    files = sorted(seen.values(), key=lambda p: p.stat().st_mtime, reverse=True)
    return [
        {"name": p.name, "ref": f"asset:{p.name}", "size": f"{p.stat().st_size / 1024:.1f} KB"}
        for p in files[:_MAX_IMAGES_LISTED]
    ]


def _safe_stem(filename: str) -> str:
    """A file stem that cannot climb directories or hide: basename only, plain characters."""
    base = re.split(r"[\\/]", filename.strip())[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_.")
    return stem[:80].lower() or "image"


def save_uploaded_image(data: bytes, filename: str, folder: Path) -> str:
    """Store an upload after checking its content; returns the asset name to use as `asset:NAME`."""
    if not data:
        raise ImageError("the uploaded file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"the image is {len(data) / 1048576:.1f} MB; the limit is "
            f"{MAX_UPLOAD_BYTES // 1048576} MB"
        )
    fmt = _detect_format(data)
    if fmt is None:
        raise ImageError("the file is not a PNG, JPEG, GIF or WebP image")
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    if max(width, height) > MAX_SIDE_PX:
        raise ImageError(f"the image is {width}x{height} px; the limit is {MAX_SIDE_PX} px a side")

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem, extension = _safe_stem(filename), _FORMATS[fmt][1]
    name, counter = f"{stem}{extension}", 1
    while (folder / name).exists():
        if (folder / name).read_bytes() == data:
            return name
        counter += 1
        name = f"{stem}-{counter}{extension}"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name
