"""Print-ready PDFs that send people to `/join`: an A6 table tent and A4 / US Letter posters.

Each shows the business name (and logo when one loads), a call to action, the QR code of
`{PUBLIC_BASE_URL}/join?src=<source>` drawn as vector squares (sharp at any printer resolution)
and that URL in large type for whoever cannot scan.

The tent is two A6 landscape panels (148 x 105 mm) on an A4 sheet, with crop marks and a dashed
fold line: cut it out and fold it, and it stands on a table showing the same panel to both
sides, the back panel printed upside down so it reads the right way up once folded. A4 because
that is what an office printer holds; the 148 x 210 mm trim also fits a US Letter sheet.

Text uses a Unicode TrueType font from the system (DejaVu Sans, Noto Sans or Liberation Sans)
with any installed CJK font as a fallback; without one, the PDF core font with Latin-1 text.
A character no installed font has is printed as "?", never a crash.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import PathPaintRule
from fpdf.fonts import TTFFont
from PIL import Image, UnidentifiedImageError
from sqlmodel import Session

from marketing_ui.core.app_settings import BusinessIdentity, business_identity
from marketing_ui.core.config import get_settings
from marketing_ui.core.images import (
    MAX_SIDE_PX,
    ImageError,
    asset_name,
    find_image,
    image_folders,
)
from marketing_ui.core.qr import qr_modules
from marketing_ui.core.signup import SourceError, clean_source

log = logging.getLogger(__name__)

DEFAULT_CALL_TO_ACTION = "Join our list — get a treat on your birthday"
MAX_CALL_TO_ACTION = 90
MAX_NAME_CHARS = 120  # the identity has no length limit; a poster has room for about this
SCAN_HINT = "Scan with your phone camera"


@dataclass(frozen=True)
class PrintFormat:
    key: str
    label: str
    page: tuple[float, float]  # sheet width, height in mm
    default_source: str
    file_stem: str


A4 = (210.0, 297.0)
LETTER = (215.9, 279.4)
FORMATS: dict[str, PrintFormat] = {
    f.key: f
    for f in (
        PrintFormat("tent", "A6 table tent (on an A4 sheet)", A4, "table-tent", "table-tent"),
        PrintFormat("poster-a4", "A4 poster", A4, "poster", "poster-a4"),
        PrintFormat("poster-letter", "US Letter poster", LETTER, "poster", "poster-letter"),
    )
}

# The tent: two landscape A6 panels, one above the other, folded between them.
PANEL_W, PANEL_H = 148.0, 105.0
CROP_GAP, CROP_LEN = 3.0, 7.0  # crop marks stop this far from the trim, this long

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class PrintError(ValueError):
    """A print request that cannot be made; the message starts with the field's label."""


@dataclass(frozen=True)
class PrintRequest:
    format: PrintFormat
    source: str
    call_to_action: str


def parse_print_request(format_key: str, source: str, call_to_action: str) -> PrintRequest:
    """The checked request, or PrintError naming the wrong field (format, source, call to action)."""
    fmt = FORMATS.get((format_key or "").strip())
    if fmt is None:
        choices = ", ".join(FORMATS)
        raise PrintError(f"Format: choose one of {choices}.")
    try:
        slug = clean_source(source, fmt.default_source)
    except SourceError as exc:
        raise PrintError(str(exc)) from None
    cta = " ".join((call_to_action or "").split()) or DEFAULT_CALL_TO_ACTION
    if _CONTROL.search(cta):  # line breaks and tabs were folded into spaces above
        raise PrintError("Call to action: remove the control characters.")
    if len(cta) > MAX_CALL_TO_ACTION:
        raise PrintError(
            f"Call to action: at most {MAX_CALL_TO_ACTION} characters (this one has {len(cta)})."
        )
    return PrintRequest(fmt, slug, cta)


def join_url(base_url: str, source: str) -> str:
    """The address the QR code opens."""
    return f"{base_url.rstrip('/')}/join?src={source}"


def display_url(url: str) -> str:
    """The URL as printed under the code: without the scheme, which browsers add by themselves."""
    return re.sub(r"^https?://", "", url)


def file_name(request: PrintRequest) -> str:
    return f"{request.format.file_stem}-{request.source}.pdf"


# Fonts ---------------------------------------------------------------------------------------

_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
_REGULAR = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf")
_BOLD = ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "LiberationSans-Bold.ttf")
_FALLBACKS = (  # scripts the main font lacks (Chinese, Japanese, Korean), where installed
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "wqy-zenhei.ttc",
    "DroidSansFallbackFull.ttf",
)


@dataclass(frozen=True)
class FontSet:
    regular: Path | None
    bold: Path | None
    fallbacks: tuple[Path, ...]


def _find_font(names: Sequence[str], dirs: Sequence[Path]) -> list[Path]:
    found = []
    for name in names:
        for folder in dirs:
            hits = sorted(folder.rglob(name)) if folder.is_dir() else []
            if hits:
                found.append(hits[0])
                break
    return found


@lru_cache(maxsize=1)
def system_fonts() -> FontSet:
    """The fonts this machine has for print; found once per process."""
    regular = _find_font(_REGULAR, _FONT_DIRS)
    bold = _find_font(_BOLD, _FONT_DIRS)
    return FontSet(
        regular[0] if regular else None,
        bold[0] if bold else (regular[0] if regular else None),
        tuple(_find_font(_FALLBACKS, _FONT_DIRS)),
    )


class _Document(FPDF):
    """An FPDF with our fonts loaded and text made printable by them."""

    def __init__(self, page: tuple[float, float], fonts: FontSet) -> None:
        super().__init__(unit="mm", format=page)
        self.set_auto_page_break(False)
        self.set_margins(0, 0, 0)
        self.set_creator("marketing_ui")
        self.unicode = fonts.regular is not None
        self._ttf: list[TTFFont] = []
        if self.unicode:
            self.add_font("Main", "", str(fonts.regular))
            self.add_font("Main", "B", str(fonts.bold))
            self._ttf = [self.fonts["main"]]
            names = []
            for i, path in enumerate(fonts.fallbacks):
                try:
                    self.add_font(f"Fallback{i}", "", str(path))
                except Exception:  # noqa: BLE001 - a broken system font is skipped, not fatal
                    log.warning("skipping unreadable font %s", path)
                    continue
                names.append(f"Fallback{i}")
                self._ttf.append(self.fonts[f"fallback{i}"])
            if names:
                self.set_fallback_fonts(names, exact_match=False)
        self.family = "Main" if self.unicode else "Helvetica"
        self.add_page()

    def printable(self, text: str) -> str:
        """`text` with what no loaded font can draw replaced by "?"."""
        if not self.unicode:
            text = text.translate(_LATIN1_LOOKALIKES)
            return text.encode("latin-1", "replace").decode("latin-1")
        return "".join(
            c if c in " \n" or any(ord(c) in f.cmap for f in self._ttf) else "?" for c in text
        )

    def use(self, size: float, bold: bool = False) -> None:
        self.set_font(self.family, "B" if bold else "", size)


_LATIN1_LOOKALIKES = str.maketrans({"—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"'})


@lru_cache(maxsize=4)
def _font_codepoints(fonts: FontSet) -> frozenset[int] | None:
    """Every character the fonts draw (None: no Unicode font, Latin-1 only); once per process."""
    if fonts.regular is None:
        return None
    doc = _Document(A4, fonts)
    return frozenset().union(*(f.cmap for f in doc._ttf))


def unprintable_characters(text: str) -> str:
    """The characters of `text` that the installed fonts cannot print (shown as "?")."""
    codepoints = _font_codepoints(system_fonts())
    if codepoints is None:
        bad = (c for c in text.translate(_LATIN1_LOOKALIKES) if ord(c) > 0xFF)
    else:
        bad = (c for c in text if c not in " \n" and ord(c) not in codepoints)
    return "".join(dict.fromkeys(bad))


# Layout --------------------------------------------------------------------------------------

PT = 25.4 / 72  # one typographic point in mm


@dataclass(frozen=True)
class TextBlock:
    lines: list[str]
    size: float
    bold: bool

    @property
    def line_h(self) -> float:
        return self.size * PT * 1.2

    @property
    def height(self) -> float:
        return self.line_h * len(self.lines)


def fit_text(
    doc: _Document,
    text: str,
    width: float,
    max_size: float,
    min_size: float,
    max_lines: int,
    bold: bool = False,
) -> TextBlock:
    """The largest size (max_size down to min_size) at which `text` wraps into max_lines lines
    of `width`; at min_size the lines past max_lines are cut, the last one ending in "…"."""
    text = doc.printable(text)
    size = max_size
    while True:
        doc.use(size, bold)
        lines = doc.multi_cell(width, 1, text, dry_run=True, output="LINES", padding=0)
        if len(lines) <= max_lines or size <= min_size:
            break
        size = max(min_size, size - 1)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        ellipsis = "…" if doc.unicode else "..."
        while last and doc.get_string_width(last + ellipsis) > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + ellipsis]
    return TextBlock(lines, size, bold)


def fit_url(doc: _Document, url: str, width: float, max_size: float, min_size: float) -> TextBlock:
    """The URL on one line at the largest size that fits; wrapped at min_size, never cut (a
    reader must be able to type all of it)."""
    text = doc.printable(display_url(url))
    size = max_size
    while size > min_size:
        doc.use(size, bold=True)
        if doc.get_string_width(text) <= width:
            return TextBlock([text], size, True)
        size -= 1
    doc.use(min_size, bold=True)
    lines = doc.multi_cell(width, 1, text, dry_run=True, output="LINES", padding=0)
    return TextBlock(lines, min_size, True)


def draw_text(doc: _Document, block: TextBlock, x: float, y: float, width: float) -> float:
    """Draw the block centred in [x, x + width] from y; returns the y below it."""
    doc.use(block.size, block.bold)
    for line in block.lines:
        doc.set_xy(x, y)
        doc.cell(width, block.line_h, line, align="C")
        y += block.line_h
    return y


def draw_qr(doc: _Document, url: str, x: float, y: float, size: float) -> None:
    """The code as one filled path of dark runs: no seams between squares, sharp at any scale.

    `size` includes the four-module quiet zone on each side, which is left blank.
    """
    matrix = qr_modules(url)
    n = len(matrix)
    module = size / (n + 8)
    ox, oy = x + 4 * module, y + 4 * module
    with doc.new_path() as path:
        path.style.paint_rule = PathPaintRule.FILL_NONZERO
        path.style.fill_color = "#000000"
        path.style.auto_close = True
        for r, row in enumerate(matrix):
            c = 0
            while c < n:
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < n and row[c]:
                    c += 1
                path.rectangle(ox + start * module, oy + r * module, (c - start) * module, module)


def load_logo(identity: BusinessIdentity) -> Image.Image | None:
    """The identity's logo as an image, or None when none is set or it cannot be read."""
    if not identity.logo.strip():
        return None
    try:
        path = find_image(asset_name(identity.logo), image_folders(get_settings()))
        if path is None:
            return None
        with Image.open(path) as image:
            if max(image.size) > MAX_SIDE_PX:
                return None
            image.load()
            # RGB or grey as they are; palettes, CMYK, 16-bit and the rest as RGBA, which
            # every PDF viewer shows the same.
            return image.copy() if image.mode in ("RGB", "L") else image.convert("RGBA")
    except (ImageError, UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        log.warning("logo %r not usable for print", identity.logo[:80])
        return None


def _logo(
    doc: _Document, logo: Image.Image, cx: float, y: float, max_w: float, max_h: float
) -> float:
    """Draw the logo centred on cx from y within max_w x max_h; returns its height."""
    w, h = logo.size
    scale = min(max_w / w, max_h / h)
    doc.image(logo, x=cx - w * scale / 2, y=y, w=w * scale, h=h * scale)
    return h * scale


@dataclass(frozen=True)
class Content:
    name: str
    call_to_action: str
    url: str
    logo: Image.Image | None


def _panel(doc: _Document, content: Content, x: float, y: float) -> None:
    """One A6 landscape tent face at (x, y): name across the top, the code left, the call to
    action right, the URL across the bottom."""
    pad = 7.0
    inner = PANEL_W - 2 * pad
    top = y + pad
    name_x, name_w = x + pad, inner
    if content.logo is not None:
        logo_h = 14.0
        _logo(doc, content.logo, x + pad + 15, top, 30, logo_h)
        name_x, name_w = x + pad + 32, inner - 64  # kept centred on the panel
    name = fit_text(doc, content.name, name_w, 20, 11, 2, bold=True)
    name_h = max(name.height, 14.0 if content.logo is not None else 0)
    draw_text(doc, name, name_x, top + (name_h - name.height) / 2, name_w)
    url = fit_url(doc, content.url, inner, 15, 8)
    url_top = y + PANEL_H - pad - url.height
    draw_text(doc, url, x + pad, url_top, inner)
    body_top = top + name_h + 2
    qr = max(30.0, min(url_top - 1 - body_top, 60.0))
    draw_qr(doc, content.url, x + pad - 3, body_top, qr)
    right_x = x + pad + qr - 1
    right_w = x + PANEL_W - pad - right_x
    cta = fit_text(doc, content.call_to_action, right_w, 17, 10, 4, bold=True)
    hint = fit_text(doc, SCAN_HINT, right_w, 10, 7, 2)
    block_h = cta.height + 3 + hint.height
    cy = body_top + (qr - block_h) / 2
    cy = draw_text(doc, cta, right_x, cy, right_w)
    doc.set_text_color(90)
    draw_text(doc, hint, right_x, cy + 3, right_w)
    doc.set_text_color(0)


def _crop_marks(doc: _Document, x: float, y: float, w: float, h: float, fold_y: float) -> None:
    doc.set_draw_color(0)
    doc.set_line_width(0.2)
    for cx, sx in ((x, -1), (x + w, 1)):
        for cy, sy in ((y, -1), (y + h, 1)):
            doc.line(cx + sx * CROP_GAP, cy, cx + sx * (CROP_GAP + CROP_LEN), cy)
            doc.line(cx, cy + sy * CROP_GAP, cx, cy + sy * (CROP_GAP + CROP_LEN))
    # The fold: marks in the margins, a dashed line across (light, inside the trim).
    doc.line(x - CROP_GAP - CROP_LEN, fold_y, x - CROP_GAP, fold_y)
    doc.line(x + w + CROP_GAP, fold_y, x + w + CROP_GAP + CROP_LEN, fold_y)
    doc.set_draw_color(170)
    with doc.local_context():
        doc.set_dash_pattern(dash=2, gap=1.5)
        doc.line(x, fold_y, x + w, fold_y)
    doc.set_draw_color(0)


def _tent(doc: _Document, content: Content) -> None:
    sheet_w, sheet_h = doc.w, doc.h
    x = (sheet_w - PANEL_W) / 2
    y = (sheet_h - 2 * PANEL_H) / 2
    fold_y = y + PANEL_H
    _crop_marks(doc, x, y, PANEL_W, 2 * PANEL_H, fold_y)
    doc.set_text_color(110)
    note = (
        "Table tent: cut along the corner marks, fold on the dashed line, "
        "and stand it on a table. Both sides show the code."
    )
    draw_text(doc, fit_text(doc, note, sheet_w - 40, 8, 6, 2), 20, 12, sheet_w - 40)
    doc.use(7)
    doc.set_xy(x + PANEL_W + CROP_GAP, fold_y - 4)
    doc.cell(20, 3, "fold", align="L")
    doc.set_text_color(0)
    with doc.rotation(180, x + PANEL_W / 2, y + PANEL_H / 2):  # the back, upside down
        _panel(doc, content, x, y)
    _panel(doc, content, x, fold_y)


def _poster(doc: _Document, content: Content) -> None:
    """Logo, name, call to action, the code as large as the rest leaves room for, hint, URL;
    the whole centred on the sheet."""
    margin = 18.0
    width = doc.w - 2 * margin
    logo_h = 0.0
    if content.logo is not None:
        w, h = content.logo.size
        logo_h = min(70 / w, 28 / h) * h
    name = fit_text(doc, content.name, width, 44, 20, 3, bold=True)
    cta = fit_text(doc, content.call_to_action, width, 28, 16, 3, bold=True)
    hint = fit_text(doc, SCAN_HINT, width, 16, 12, 1)
    url = fit_url(doc, content.url, width, 28, 12)
    gaps = (6 if logo_h else 0) + 6 + 6 + 2 + 4
    text_h = logo_h + name.height + cta.height + hint.height + url.height + gaps
    qr = max(40.0, min(width, doc.h - 2 * margin - text_h, 150.0))
    y = margin + max(0.0, (doc.h - 2 * margin - text_h - qr) / 2)
    if content.logo is not None:
        y += _logo(doc, content.logo, doc.w / 2, y, 70, 28) + 6
    y = draw_text(doc, name, margin, y, width) + 6
    y = draw_text(doc, cta, margin, y, width) + 6
    draw_qr(doc, content.url, (doc.w - qr) / 2, y, qr)
    y += qr + 2
    doc.set_text_color(90)
    y = draw_text(doc, hint, margin, y, width) + 4
    doc.set_text_color(0)
    draw_text(doc, url, margin, y, width)


def render_pdf(request: PrintRequest, identity: BusinessIdentity, base_url: str) -> bytes:
    """The PDF bytes for one request, laid out for its format."""
    doc = _Document(request.format.page, system_fonts())
    name = " ".join(identity.business_name.split())
    if len(name) > MAX_NAME_CHARS:
        name = name[: MAX_NAME_CHARS - 1] + "…"
    content = Content(
        name=name,
        call_to_action=request.call_to_action,
        url=join_url(base_url, request.source),
        logo=load_logo(identity),
    )
    doc.set_title(f"{name} - {request.format.label}"[:200])
    if request.format.key == "tent":
        _tent(doc, content)
    else:
        _poster(doc, content)
    return bytes(doc.output())


def print_pdf(session: Session, request: PrintRequest) -> bytes:
    """The PDF with the stored business identity and this deployment's public URL."""
    return render_pdf(request, business_identity(session), get_settings().public_base_url)
