"""SMS: what carriers bill (encoding, septets, segments), the STOP notice, plain-text rendering."""

from __future__ import annotations

import pytest

from marketing_ui.core.rendering import TemplateError
from marketing_ui.core.sms import STOP_NOTICE, analyze_sms, render_sms, with_stop_notice


@pytest.mark.parametrize(
    ("text", "encoding", "characters", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("[" + "a" * 159, "GSM-7", 161, 2),
        ("Caffè, crème & ÄÖÜ £5 @ home", "GSM-7", 28, 1),
        ("😀" + "a" * 68, "UCS-2", 70, 1),
        ("😀" + "a" * 69, "UCS-2", 71, 2),
        ("ç" * 70, "UCS-2", 70, 1),
        ("ç" * 134, "UCS-2", 134, 2),
        ("ç" * 135, "UCS-2", 135, 3),
    ],
)
def test_segment_counting(text: str, encoding: str, characters: int, segments: int) -> None:
    info = analyze_sms(text)
    assert (info.encoding, info.characters, info.segments) == (encoding, characters, segments)


def test_escaped_character_never_splits_across_parts() -> None:
    # 152 plain septets then "€" (2 septets) would straddle the 153 boundary: it moves to part 2,
    # so 306 septets need 3 parts although 2 x 153 would hold them.
    info = analyze_sms("a" * 152 + "€" + "a" * 152)
    assert info.characters == 306
    assert info.segments == 3
    assert analyze_sms("a" * 153 + "€" + "a" * 151).segments == 2


def test_non_gsm_characters_are_listed_once_in_order() -> None:
    info = analyze_sms("It’s “great” 😀 ’")
    assert info.encoding == "UCS-2"
    assert info.non_gsm == ["’", "“", "”", "😀"]
    assert analyze_sms("plain").non_gsm == []


def test_stop_notice_added_on_its_own_line() -> None:
    assert with_stop_notice("Pasta 2-for-1 today!\n") == f"Pasta 2-for-1 today!\n{STOP_NOTICE}"
    assert with_stop_notice("") == STOP_NOTICE


@pytest.mark.parametrize(
    "body", ["Deal! Reply STOP to unsubscribe", "Deal! Text stop to quit", "Deal. STOP=end"]
)
def test_existing_stop_instruction_is_kept(body: str) -> None:
    assert with_stop_notice(body) == body


def test_render_sms_is_plain_text() -> None:
    text = render_sms(
        'Hi {{ first_name | default("there") }}! <3 {{ coupon_url }}',
        {"first_name": "<b>Ann</b> & Co", "coupon_url": "https://x.example/c?a=1&b=2"},
    )
    assert text == "Hi <b>Ann</b> & Co! <3 https://x.example/c?a=1&b=2"
    assert render_sms('Hi {{ first_name | default("there") }}', {"first_name": None}) == "Hi there"


def test_render_sms_rejects_unknown_fields_and_bad_syntax() -> None:
    with pytest.raises(TemplateError, match="frist_name"):
        render_sms("Hi {{ frist_name }}", {})
    with pytest.raises(TemplateError, match="Line 2"):
        render_sms("Hi\n{% if first_name %}", {})
    with pytest.raises(TemplateError, match="unsafe"):
        render_sms("{{ first_name.__class__ }}", {"first_name": "x"})
