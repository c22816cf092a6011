"""Email rendering: the library compiles, bad templates fail early with lines, customers stay text."""

from __future__ import annotations

import re

import pytest

from marketing_ui.core.images import ASSETS_DIR, resolve_image
from marketing_ui.core.rendering import (
    FIELDS,
    TemplateError,
    check_template,
    compile_email,
    html_to_text,
    list_templates,
    load_template,
    personalize,
    sample_context,
)

TEMPLATE_NAMES = [info.name for info in list_templates()]


def tracked_context(**overrides: object) -> dict[str, object]:
    """A sample recipient plus the tracking callables the send worker supplies."""
    return {
        **sample_context(**overrides),
        "click_url": lambda n: f"https://t.example.org/c/TOKEN/{n}",
        "open_pixel_url": "https://t.example.org/o/TOKEN.gif",
    }


def test_library_has_the_promised_templates() -> None:
    assert {"monday_special", "newsletter", "event_invitation", "announcement", "blank"} <= set(
        TEMPLATE_NAMES
    )
    assert TEMPLATE_NAMES[-1] == "blank"
    for info in list_templates():
        assert info.title and info.description and "<mjml" in info.mjml


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_renders_with_footer(name: str) -> None:
    info = next(i for i in list_templates() if i.name == name)
    compiled = compile_email(
        info.mjml, info.subject or "Hello", info.preheader, image_resolver=lambda ref: "cid:x"
    )
    context = sample_context(
        unsubscribe_url="https://example.com/u/abc?x=1&y=2",
        business_address="9 Harbour Road, Portsmouth PO1 3AA",
    )
    email = personalize(compiled, context)
    assert 'href="https://example.com/u/abc?x=1&amp;y=2"' in email.html
    assert "9 Harbour Road, Portsmouth PO1 3AA" in email.html
    assert "https://example.com/view/sample" in email.html
    assert "{{" not in email.html and "{%" not in email.html
    assert "asset:" not in email.html
    assert "https://example.com/u/abc?x=1&y=2" in email.text
    assert "9 Harbour Road" in email.text
    assert "<" not in email.text.replace("<script", "")  # no markup leaks into the text part


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_template_loads_anything_but_its_images_from_the_internet(name: str) -> None:
    """Web fonts fail offline (and most mail clients drop them): system font stacks only."""
    info = next(i for i in list_templates() if i.name == name)
    html = personalize(
        compile_email(info.mjml, info.subject or "Hello", info.preheader), sample_context()
    ).html

    assert "<mj-font" not in info.mjml
    assert not re.search(r"<link\b|@import|@font-face|fonts\.googleapis", html, re.IGNORECASE)
    loaded = re.findall(r"\bsrc=[\"'](https?://[^\"']+)", html)
    assert loaded == []  # images are inlined here; links (href) are not loaded


def test_load_template_refuses_unknown_and_path_names() -> None:
    assert "<mjml" in load_template("monday_special")
    for bad in ("nope", "../config", "blank.mjml"):
        with pytest.raises(KeyError):
            load_template(bad)


def test_monday_special_shows_qr_block_only_with_a_qr() -> None:
    compiled = compile_email(load_template("monday_special"), "Monday")
    with_qr = personalize(compiled, sample_context(qr_code_url="https://q.example.com/1.png"))
    without = personalize(compiled, sample_context(qr_code_url=None))
    assert 'src="https://q.example.com/1.png"' in with_qr.html
    assert "MON-7K2Q" in with_qr.html and "YOUR PERSONAL COUPON" in with_qr.html
    assert "YOUR PERSONAL COUPON" not in without.html


def test_first_name_fallback_and_sparse_recipient() -> None:
    compiled = compile_email(
        load_template("monday_special"), 'Hi {{ first_name | default("you") }}'
    )
    minimal = {
        "unsubscribe_url": "https://example.com/u/1",
        "business_address": "1 Road",
        "first_name": None,
    }
    email = personalize(compiled, minimal)
    assert "It's Monday, there!" in email.html
    assert email.subject == "Hi you"


def test_unknown_field_is_named_with_its_line() -> None:
    source = load_template("blank").replace(
        '{{ first_name | default("there") }}', "{{ frist_name }}"
    )
    expected_line = source.splitlines().index(
        next(line for line in source.splitlines() if "frist_name" in line)
    )
    with pytest.raises(TemplateError, match="frist_name") as info:
        check_template(source)
    assert info.value.line == expected_line + 1
    assert f"Line {expected_line + 1}" in str(info.value)


def test_unknown_field_in_subject_is_rejected() -> None:
    with pytest.raises(TemplateError, match="subject.*coupon_cod"):
        compile_email(load_template("blank"), "Your code {{ coupon_cod }}")


def test_jinja_syntax_error_has_line() -> None:
    lines = load_template("blank").splitlines()
    at = next(i for i, line in enumerate(lines) if "Write your message" in line)
    lines[at] = "<mj-text>{% if offer_text %}never closed</mj-text>"
    with pytest.raises(TemplateError) as info:
        check_template("\n".join(lines))
    assert info.value.line is not None and info.value.line >= at + 1


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("<mj-text>Write your message here.</mj-button>", "not closed before </mj-button>"),
        ("<mj-txt>Write your message here.</mj-txt>", "unknown or unsupported MJML tag <mj-txt>"),
        ('<mj-text padding="4px>Write your message here.</mj-text>', "MJML error"),
        ("<div>Write your message here.</div>", "<div> must be inside"),
    ],
)
def test_broken_mjml_reports_line(broken: str, message: str) -> None:
    lines = load_template("blank").splitlines()
    at = next(i for i, line in enumerate(lines) if "Write your message" in line)
    lines[at] = "        " + broken
    with pytest.raises(TemplateError, match=re.escape(message)) as info:
        check_template("\n".join(lines))
    assert info.value.line == at + 1


def test_unclosed_section_reports_line_of_the_mismatch() -> None:
    source = "<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n</mj-section>\n</mj-body>\n</mjml>"
    with pytest.raises(TemplateError, match="<mj-column> opened on line 4") as info:
        check_template(
            source.replace(
                "<mj-column>",
                "<mj-column><mj-text>{{ unsubscribe_url }} {{ business_address }}</mj-text>",
            )
        )
    assert info.value.line == 5


def test_email_without_unsubscribe_or_address_is_refused() -> None:
    source = load_template("blank")
    with pytest.raises(TemplateError, match="unsubscribe_url"):
        check_template(source.replace("{{ unsubscribe_url }}", "https://example.com"))
    with pytest.raises(TemplateError, match="business_address"):
        check_template(source.replace("{{ business_address }}", "somewhere"))


def test_sandbox_blocks_python_internals() -> None:
    source = load_template("blank").replace(
        "Write your message here.", "{{ first_name.__class__.__mro__ }}"
    )
    with pytest.raises(TemplateError, match="unsafe"):
        check_template(source)


def test_jinja_comparisons_survive_mjml() -> None:
    source = load_template("blank").replace(
        "Write your message here.",
        "{% if offer_text | length < 5 %}short offer{% else %}long offer{% endif %}",
    )
    compiled = compile_email(source, "x")
    assert "long offer" in personalize(compiled, sample_context()).html
    assert "short offer" in personalize(compiled, sample_context(offer_text="Hi")).html


def test_customer_data_is_escaped_in_html_but_plain_in_text_and_subject() -> None:
    compiled = compile_email(load_template("monday_special"), "For {{ first_name }}")
    email = personalize(compiled, sample_context(first_name="<script>alert(1)</script>"))
    assert "<script>alert(1)</script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "It's Monday, <script>alert(1)</script>!" in email.text
    assert email.subject == "For <script>alert(1)</script>"


def test_subject_cannot_carry_a_header_break() -> None:
    compiled = compile_email(load_template("blank"), "Hi {{ first_name }}")
    email = personalize(compiled, sample_context(first_name="Al\r\nBcc: x@example.com"))
    assert "\n" not in email.subject and "\r" not in email.subject


def test_tracked_links_are_rewritten_and_listed() -> None:
    compiled = compile_email(load_template("newsletter"), "News", track_links=True)
    assert compiled.links == ["https://example.com/menu", "https://example.com/reservations"]
    email = personalize(compiled, tracked_context())
    assert 'href="https://t.example.org/c/TOKEN/0"' in email.html
    assert 'href="https://t.example.org/c/TOKEN/1"' in email.html
    assert 'href="https://example.com/reservations"' not in email.html
    # placeholders are personal links and stay as they are
    assert 'href="https://example.com/unsubscribe/sample"' in email.html
    assert 'href="https://example.com/view/sample"' in email.html
    pixel = '<img src="https://t.example.org/o/TOKEN.gif" width="1" height="1" alt=""'
    assert pixel in email.html and email.html.index(pixel) < email.html.index("</body>")
    assert "Book a table (https://t.example.org/c/TOKEN/1)" in email.text


def test_personalized_and_repeated_links() -> None:
    body = load_template("blank").replace(
        "Write your message here.",
        '<a href="https://shop.example.com/a?x=1&amp;y=2">A</a> '
        '<a href="https://shop.example.com/a?x=1&amp;y=2">again</a> '
        '<a href="https://shop.example.com/c/{{ coupon_code }}">mine</a> '
        '<a href="mailto:hi@example.com">mail</a>',
    )
    compiled = compile_email(body, "x", track_links=True)
    assert compiled.links == ["https://shop.example.com/a?x=1&y=2"]
    email = personalize(compiled, tracked_context())
    assert email.html.count('href="https://t.example.org/c/TOKEN/0"') == 2
    assert 'href="https://shop.example.com/c/MON-7K2Q"' in email.html
    assert 'href="mailto:hi@example.com"' in email.html


def test_untracked_email_keeps_links_and_has_no_pixel() -> None:
    compiled = compile_email(load_template("newsletter"), "News")
    assert compiled.links == []
    email = personalize(compiled, sample_context())
    assert 'href="https://example.com/reservations"' in email.html
    assert 'width="1" height="1"' not in email.html


def test_tracked_email_needs_tracking_values() -> None:
    compiled = compile_email(load_template("newsletter"), "News", track_links=True)
    with pytest.raises(TemplateError, match="click_url"):
        personalize(compiled, sample_context())


def test_missing_required_value_is_refused_at_send() -> None:
    compiled = compile_email(load_template("blank"), "x")
    with pytest.raises(TemplateError, match="unsubscribe_url"):
        personalize(compiled, sample_context(unsubscribe_url=""))


def test_images_resolve_through_the_resolver() -> None:
    seen: list[str] = []

    def resolver(ref: str) -> str:
        seen.append(ref)
        return f"https://cdn.example.com/{ref.removeprefix('asset:')}?v=1&w=2"

    compiled = compile_email(load_template("event_invitation"), "x", image_resolver=resolver)
    html = personalize(compiled, sample_context()).html
    assert "asset:logo.png" in seen and "asset:sample_event.jpg" in seen
    assert 'src="https://cdn.example.com/logo.png?v=1&amp;w=2"' in html
    assert "url('https://cdn.example.com/sample_event.jpg?v=1&amp;w=2')" in html


def test_missing_image_is_a_template_error() -> None:
    source = load_template("blank").replace(
        "<mj-text>Write", '<mj-image src="asset:nope.png" /><mj-text>Write'
    )

    def inline(ref: str) -> str:
        return resolve_image(ref, mode="inline", folders=(ASSETS_DIR,), base_url="")

    with pytest.raises(TemplateError, match="nope.png.*not found"):
        compile_email(source, "x", image_resolver=inline)


def test_subject_with_jinja_operators_and_ampersand() -> None:
    subject = "{% if offer_text | length > 3 %}Deals & {{ first_name }}{% endif %}"
    compiled = compile_email(load_template("blank"), subject)
    email = personalize(compiled, sample_context(first_name="Tom & Jerry"))
    assert email.subject == "Deals & Tom & Jerry"
    assert "<title>Deals &amp; Tom &amp; Jerry</title>" in email.html


def test_preheader_is_hidden_preview_text() -> None:
    compiled = compile_email(load_template("blank"), "Subj", "Hi {{ first_name }} & friends")
    email = personalize(compiled, sample_context())
    assert "Hi Alex &amp; friends</div>" in email.html
    assert "<title>Subj</title>" in email.html
    assert "friends" not in email.text


def test_html_to_text() -> None:
    source = (
        "<html><head><style>p{color:red}</style><title>T</title></head><body>"
        '<div style="display:none">hidden preheader</div>'
        "<h1>Title</h1><p>First &amp; second<br>line</p>"
        '<p><a href="https://x.example.com/a">Read more</a> '
        '<a href="https://x.example.com/b">https://x.example.com/b</a></p>'
        "<script>alert(1)</script><!-- note --></body></html>"
    )
    text = html_to_text(source)
    assert text == (
        "Title\n\nFirst & second\nline\n\n"
        "Read more (https://x.example.com/a) https://x.example.com/b\n"
    )


def test_fields_are_documented() -> None:
    assert set(FIELDS) >= {
        "first_name",
        "qr_code_url",
        "coupon_code",
        "coupon_url",
        "unsubscribe_url",
        "view_in_browser_url",
        "business_name",
        "business_address",
        "sender_name",
        "offer_text",
        "offer_expires",
        "last_name",
    }
    assert 'default("there")' in FIELDS["first_name"]
    assert set(sample_context()) == set(FIELDS)
    assert sample_context()["qr_code_url"].startswith("data:image/png;base64,")
