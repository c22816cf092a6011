"""Coupon tokens and short codes are unguessable and typeable; QR images decode to the redeem URL."""

from __future__ import annotations

import base64
import io
import re
import string
import xml.etree.ElementTree as ET
from collections import Counter

import zxingcpp
from PIL import Image, ImageDraw

from marketing_ui.core.coupons import redeem_url
from marketing_ui.core.qr import (
    SHORT_CODE_ALPHABET,
    SHORT_CODE_LENGTH,
    TOKEN_BYTES,
    cached_qr_png,
    format_short_code,
    new_short_code,
    new_token,
    normalize_short_code,
    qr_data_uri,
    qr_png,
    qr_svg,
)

URLSAFE = set(string.ascii_letters + string.digits + "-_")


def _decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_a_million_tokens_carry_128_bits_and_never_repeat() -> None:
    tokens = [new_token() for _ in range(1_000_000)]
    assert TOKEN_BYTES * 8 >= 128
    assert {len(t) for t in tokens} == {22}  # 16 random bytes, unpadded base64
    assert len(base64.urlsafe_b64decode(tokens[0] + "==")) == TOKEN_BYTES
    assert set("".join(tokens)) == URLSAFE  # every symbol in use: no narrowed alphabet
    assert len(set(tokens)) == len(tokens)


def test_short_code_alphabet_has_no_look_alikes_and_enough_codes() -> None:
    assert not set("0O1IL") & set(SHORT_CODE_ALPHABET)
    assert len(set(SHORT_CODE_ALPHABET)) == len(SHORT_CODE_ALPHABET) == 31
    assert len(SHORT_CODE_ALPHABET) ** SHORT_CODE_LENGTH > 2**39


def test_short_codes_are_uniform_over_the_alphabet_in_every_position() -> None:
    codes = [new_short_code() for _ in range(100_000)]
    assert all(len(c) == SHORT_CODE_LENGTH and set(c) <= set(SHORT_CODE_ALPHABET) for c in codes)
    expected = len(codes) / len(SHORT_CODE_ALPHABET)  # ~3226, standard deviation ~56
    for position in range(SHORT_CODE_LENGTH):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set(SHORT_CODE_ALPHABET)
        assert all(abs(n - expected) < 0.15 * expected for n in counts.values()), position


def test_short_code_is_accepted_in_any_case_with_or_without_separators() -> None:
    for typed in ("abcd efgh", "ABCD-EFGH", " abcd-efgh ", "ABCDEFGH", "aBcD\tEfGh"):
        assert normalize_short_code(typed) == "ABCDEFGH", typed
    assert format_short_code("ABCDEFGH") == "ABCD-EFGH"
    code = new_short_code()
    assert normalize_short_code(format_short_code(code).lower()) == code


def test_text_that_cannot_be_a_short_code_is_rejected() -> None:
    for typed in ("", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG0", "OOOO-OOOO", "ABCD-EFGI", "ABCD/EFGH"):
        assert normalize_short_code(typed) is None, typed
    assert normalize_short_code("A" * 10_000) is None


def test_png_decodes_back_to_the_redeem_url() -> None:
    url = redeem_url(new_token(), "https://shop.example")
    image = Image.open(io.BytesIO(qr_png(url)))
    assert image.format == "PNG"
    assert _decode(image) == [url]
    small = Image.open(io.BytesIO(qr_png(url, box_size=3, border=4)))
    assert small.size < image.size
    assert _decode(small) == [url]


def _rasterize_path_svg(svg: bytes, scale: int = 8) -> Image.Image:
    """Draw the unit squares of qrcode's path SVG; enough of a renderer to scan what it drew."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    _, _, width, height = (int(float(v)) for v in root.attrib["viewBox"].split())
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    paths = [p.attrib["d"] for p in root.iter(f"{ns}path")]
    squares = re.findall(r"M(\d+),(\d+)H(\d+)V(\d+)H\d+z", "".join(paths))
    assert squares
    for x0, y0, x1, y1 in (tuple(map(int, s)) for s in squares):
        draw.rectangle((x0 * scale, y0 * scale, x1 * scale - 1, y1 * scale - 1), fill=0)
    return image


def test_svg_is_well_formed_and_decodes_back_to_the_redeem_url() -> None:
    url = redeem_url(new_token(), "https://shop.example")
    svg = qr_svg(url)
    assert svg.lstrip().startswith(b"<") and b"<svg" in svg
    assert _decode(_rasterize_path_svg(svg)) == [url]


def test_data_uri_carries_a_decodable_png() -> None:
    url = redeem_url(new_token(), "https://shop.example")
    uri = qr_data_uri(url)
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    assert _decode(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :])))) == [url]


def test_cached_png_is_reused_for_the_same_data() -> None:
    url = redeem_url(new_token(), "https://shop.example")
    before = cached_qr_png.cache_info().hits
    first = cached_qr_png(url)
    assert cached_qr_png(url) is first
    assert cached_qr_png.cache_info().hits == before + 1
    assert first == qr_png(url)
