"""Table tent and posters: real PDFs of the right size, with the name, the URL in words and a QR
code that a phone decodes to the `/join` link; any business name prints without a crash."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest
import qrcode
import zxingcpp
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from marketing_ui.core import print_materials
from marketing_ui.core.app_settings import BusinessIdentity
from marketing_ui.core.config import get_settings
from marketing_ui.core.images import uploads_dir
from marketing_ui.core.print_materials import (
    DEFAULT_CALL_TO_ACTION,
    FORMATS,
    MAX_CALL_TO_ACTION,
    FontSet,
    PrintError,
    display_url,
    file_name,
    join_url,
    parse_print_request,
    render_pdf,
    unprintable_characters,
)
from marketing_ui.core.qr import qr_modules

BASE = "https://bistro.example.com"
MM = 72 / 25.4  # points per millimetre
PAGE_POINTS = {
    "tent": (210 * MM, 297 * MM),  # two A6 panels on an A4 sheet
    "poster-a4": (210 * MM, 297 * MM),
    "poster-letter": (612.0, 792.0),  # 8.5 x 11 inches
}


def _render(fmt: str, source: str = "", cta: str = "", **identity: str) -> bytes:
    request = parse_print_request(fmt, source, cta)
    return render_pdf(request, BusinessIdentity(**identity), BASE)


def _page(pdf: bytes) -> pdfium.PdfPage:
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 1
    return doc[0]


def _text(pdf: bytes) -> str:
    """The page's words, one space between them (wrapping breaks lines anywhere)."""
    return " ".join(_page(pdf).get_textpage().get_text_bounded().split())


def _codes(pdf: bytes, dpi: int = 150) -> list[str]:
    image = _page(pdf).render(scale=dpi / 72).to_pil()
    return [r.text for r in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_is_one_page_of_its_paper_size_with_name_url_and_a_working_code(
    fmt: str,
) -> None:
    pdf = _render(fmt, business_name="Corner Café")
    assert pdf.startswith(b"%PDF-")
    width, height = _page(pdf).get_size()
    assert (width, height) == pytest.approx(PAGE_POINTS[fmt], abs=0.05)
    source = FORMATS[fmt].default_source
    url = f"{BASE}/join?src={source}"
    text = _text(pdf)
    assert "Corner Café" in text
    assert f"bistro.example.com/join?src={source}" in text
    assert DEFAULT_CALL_TO_ACTION in text
    expected = 2 if fmt == "tent" else 1  # the tent shows the code on both sides
    assert _codes(pdf) == [url] * expected


def test_the_tent_back_panel_is_upside_down_so_it_reads_when_folded() -> None:
    page = _page(_render("tent", business_name="Corner Cafe"))
    _, height = page.get_size()
    textpage = page.get_textpage()
    found = textpage.search("Corner Cafe", match_case=True)
    hits = []
    while (hit := found.get_next()) is not None:
        index, count = hit
        boxes = [textpage.get_charbox(i) for i in range(index, index + count)]
        hits.append(boxes)
    assert len(hits) == 2
    fold = height / 2
    upper, lower = sorted(hits, key=lambda boxes: -boxes[0][1])  # PDF y grows upwards
    assert all(box[1] > fold for box in upper) and all(box[3] < fold for box in lower)
    # Reading order: left to right on the front, right to left on the rotated back.
    assert lower[0][0] < lower[-1][0]
    assert upper[0][0] > upper[-1][0]


def test_the_code_is_drawn_from_qrcodes_own_matrix_for_the_url() -> None:
    url = join_url(BASE, "window")
    reference = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    reference.add_data(url)
    reference.make(fit=True)
    assert qr_modules(url) == reference.get_matrix()
    pdf = _render("poster-a4", source="window")
    assert _codes(pdf) == [url]
    assert _codes(pdf, dpi=60) == [url]  # sharp enough at a coarse rendering too


def test_the_owner_names_the_source_and_the_call_to_action() -> None:
    pdf = _render("poster-letter", source="Window", cta="Free dessert for joining")
    assert _codes(pdf) == [f"{BASE}/join?src=window"]  # one case, so counts never split
    assert "Free dessert for joining" in _text(pdf)
    request = parse_print_request("tent", "window", "")
    assert file_name(request) == "table-tent-window.pdf"


@pytest.mark.parametrize(
    ("fmt", "source", "cta", "message"),
    [
        ("flyer", "", "", "Format: choose one of tent, poster-a4, poster-letter."),
        ("", "", "", "Format: choose one of"),
        ("tent", "front window", "", "Source: use letters, digits and dashes only"),
        ("tent", "../etc", "", "Source: use letters, digits and dashes only"),
        ("tent", "-window", "", "Source:"),
        ("tent", "a" * 41, "", "Source: use letters, digits and dashes only (at most 40"),
        ("tent", "fenêtre", "", "Source:"),
        ("tent", "ok", "x" * (MAX_CALL_TO_ACTION + 1), "Call to action: at most 90 characters"),
        ("tent", "ok", "Join\x00 us", "Call to action: remove the control characters."),
    ],
)
def test_bad_requests_name_the_field(fmt: str, source: str, cta: str, message: str) -> None:
    with pytest.raises(PrintError) as caught:
        parse_print_request(fmt, source, cta)
    assert str(caught.value).startswith(message)


def test_blank_fields_take_the_defaults() -> None:
    tent = parse_print_request("tent", "  ", "   ")
    poster = parse_print_request(" poster-a4 ", "", "")
    assert (tent.source, poster.source) == ("table-tent", "poster")
    assert tent.call_to_action == DEFAULT_CALL_TO_ACTION
    assert parse_print_request("tent", "x", "  Join \n us ").call_to_action == "Join us"


def test_non_latin_names_print_and_what_no_font_has_is_a_question_mark() -> None:
    pdf = _render("poster-a4", business_name="Ταβέρνα Кафе Ñandú")
    assert "Ταβέρνα Кафе Ñandú" in _text(pdf)
    missing = unprintable_characters("Sushi 東京 🍣")
    shown = _text(_render("tent", business_name="Sushi 東京 🍣"))
    if missing:  # no CJK font on this machine: the rest still prints
        assert "Sushi ??" in shown
    else:
        assert "Sushi 東京" in shown


def test_without_a_unicode_font_the_core_font_prints_latin_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(print_materials, "system_fonts", lambda: FontSet(None, None, ()))
    pdf = _render("tent", business_name="Café Кафе")
    text = _text(pdf)
    assert "Café ????" in text
    assert "Join our list - get a treat" in text  # the dash made Latin-1
    assert _codes(pdf) == [f"{BASE}/join?src=table-tent"] * 2
    assert unprintable_characters("Café — Кафе") == "Кафе"  # what the page warns about


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_very_long_names_and_urls_fit_and_the_url_is_never_cut(fmt: str) -> None:
    base = "https://a-very-long-subdomain.restaurant-group-example.co.uk/locations/harbourside"
    request = parse_print_request(fmt, "x" * 40, "y" * MAX_CALL_TO_ACTION)
    pdf = render_pdf(request, BusinessIdentity(business_name="Harbour Fish " * 200), base)
    text = _text(pdf).replace(" ", "")
    assert display_url(join_url(base, "x" * 40)) in text  # whole, though wrapped
    assert "HarbourFish" in text
    codes = _codes(pdf, dpi=200)
    assert codes and set(codes) == {join_url(base, "x" * 40)}


def _images(pdf: bytes) -> int:
    return sum(1 for obj in _page(pdf).get_objects() if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)


def test_the_logo_is_printed_when_it_loads_and_skipped_when_not(tmp_path: Path) -> None:
    assert _images(_render("poster-a4", business_name="A", logo="logo.png")) == 1  # shipped
    assert _images(_render("poster-a4", business_name="A", logo="")) == 0
    assert _images(_render("poster-a4", business_name="A", logo="nowhere.png")) == 0
    assert _images(_render("tent", business_name="A", logo="../../etc/passwd")) == 0
    broken = uploads_dir(get_settings())
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "broken-logo.png").write_bytes(b"not an image at all")
    assert _images(_render("tent", business_name="A", logo="broken-logo.png")) == 0
    Image.new("RGB", (400, 100), "red").save(broken / "wide-logo.png")
    assert _images(_render("tent", business_name="A", logo="wide-logo.png")) == 2  # both sides


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("cmyk-logo.jpg", Image.new("CMYK", (120, 60), (0, 255, 255, 0))),
        ("grey16-logo.png", Image.new("I;16", (120, 60), 30000)),
        ("palette-logo.png", Image.new("P", (120, 60), 3)),
        ("alpha-logo.png", Image.new("LA", (120, 60), (0, 128))),
    ],
)
def test_logos_in_any_image_mode_print(name: str, image: Image.Image) -> None:
    folder = uploads_dir(get_settings())
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / name)
    pdf = _render("poster-letter", business_name="A", logo=name)
    assert _images(pdf) == 1 and _codes(pdf) == [f"{BASE}/join?src=poster"]
