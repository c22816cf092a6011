"""Email rendering: MJML once per campaign version, then fast sandboxed personalization per recipient.

The pipeline (see `compile_email`):
1. check the Jinja syntax and the field names against the MJML source, so errors carry its lines;
2. check the MJML structure with expat (mrml reports no positions and silently drops some mistakes);
3. swap every Jinja construct for an opaque token, so MJML can neither choke on `{% if a < b %}`
   nor mangle braces inside attributes, run MJML, and put the constructs back;
4. resolve `asset:NAME` images, rewrite links for click tracking, add the open pixel;
5. compile HTML (autoescaped), plain-text and subject templates in a sandboxed Jinja environment
   whose every render is bounded in steps, time and size (`template_limits`).
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.parsers import expat

import jinja2
import mjml
from jinja2 import meta, nodes

from marketing_ui.core.config import get_settings
from marketing_ui.core.images import image_folders, resolve_image
from marketing_ui.core.template_limits import (
    MAX_SOURCE_CHARS,
    BoundedEnvironment,
    TemplateLimitError,
    render_context,
    time_limit,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates" / "email"

FIELDS: dict[str, str] = {
    "first_name": 'Customer first name; may be empty, so write {{ first_name | default("there") }}',
    "last_name": "Customer last name; may be empty",
    "offer_text": "The campaign's offer, e.g. '2-for-1 pasta every Monday'",
    "offer_expires": "Offer expiry as a formatted date, e.g. 'August 4, 2025'",
    "qr_code_url": "Image src of the recipient's coupon QR code (a data URI in development, an "
    "absolute URL in production); empty when the campaign has no QR offer, so wrap it in "
    "{% if qr_code_url %}",
    "coupon_code": "The recipient's short coupon code, typed at the counter",
    "coupon_url": "Link to the recipient's coupon page",
    "unsubscribe_url": "One-click unsubscribe link (required in every email)",
    "view_in_browser_url": "Link to this email as a web page",
    "business_name": "Your business name",
    "business_address": "Your postal address (required in every email by CAN-SPAM)",
    "sender_name": "Who the email is from, e.g. 'Maria from Trattoria'",
}

# Fields a compliant email must print; check_template refuses a body without them.
REQUIRED_FIELDS: tuple[str, ...] = ("unsubscribe_url", "business_address")


class TemplateError(ValueError):
    """A template problem the author can fix; the message names the line when it is known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"Line {line}: {message}" if line else message)


@dataclass(frozen=True)
class TemplateInfo:
    """One entry of the template library shown in the campaign editor."""

    name: str
    title: str
    description: str
    mjml: str
    subject: str = ""
    preheader: str = ""
    offer_text: str = ""  # a QR-coupon template's default offer; "" = no coupon
    offer_days: int = 0  # how many days that default offer stays valid


@dataclass(frozen=True)
class CompiledEmail:
    """MJML already rendered: everything the send worker needs to personalize per recipient."""

    html_template: jinja2.Template
    text_template: jinja2.Template
    subject_template: jinja2.Template
    links: list[str] = field(default_factory=list)
    required: tuple[str, ...] = ()
    tracked: bool = False


@dataclass(frozen=True)
class RenderedEmail:
    """One recipient's email, ready for a provider."""

    subject: str
    html: str
    text: str


# --------------------------------------------------------------------------- Jinja environments


def _environment(*, autoescape: bool, strict: bool = False) -> BoundedEnvironment:
    """Sandboxed so a template cannot reach Python internals, bounded so it cannot run away.

    Strict environments serve the compile-time trial render, where every field has a value; at
    send time a field the customer lacks (no first name) renders empty, so `default()` applies,
    and the fields an email cannot do without are enforced by `personalize`.
    """
    return BoundedEnvironment(
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        keep_trailing_newline=True,
    )


_HTML_ENV = _environment(autoescape=True)
_TEXT_ENV = _environment(autoescape=False)
_STRICT_HTML_ENV = _environment(autoescape=True, strict=True)
_STRICT_TEXT_ENV = _environment(autoescape=False, strict=True)

_COMMENT_RE = re.compile(r"<!--(?!\[if|<!\[endif).*?-->", re.DOTALL)
_JINJA_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def check_fields(
    source: str, *, what: str = "template", allowed: Iterable[str] = FIELDS
) -> set[str]:
    """Parse Jinja and reject unknown names with their line; returns the fields the source uses."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateError(f"{what} is longer than {MAX_SOURCE_CHARS:,} characters")
    try:
        tree = _TEXT_ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{what}: {exc.message}", exc.lineno) from None
    used = meta.find_undeclared_variables(tree) - set(_TEXT_ENV.globals)
    unknown = sorted(used - set(allowed))
    if unknown:
        line = next(
            (n.lineno for n in tree.find_all(nodes.Name) if n.name in unknown and n.ctx == "load"),
            None,
        )
        names = ", ".join(unknown)
        raise TemplateError(
            f"{what} uses unknown field{'s' if len(unknown) > 1 else ''} {names}; "
            f"available fields: {', '.join(FIELDS)}",
            line,
        )
    return used


# --------------------------------------------------------------------------- MJML structure check

_KNOWN_TAGS = frozenset(
    """mjml mj-head mj-body mj-attributes mj-all mj-class mj-breakpoint mj-font mj-html-attributes
    mj-html-attribute mj-selector mj-preview mj-style mj-title mj-section mj-column mj-group
    mj-wrapper mj-hero mj-text mj-image mj-button mj-divider mj-spacer mj-table mj-raw mj-social
    mj-social-element mj-navbar mj-navbar-link mj-accordion mj-accordion-element
    mj-accordion-title mj-accordion-text mj-carousel mj-carousel-image""".split()
)
# Tags whose content is HTML or CSS rather than MJML; expat must not judge it.
_ENDING_TAGS = (
    "mj-text|mj-button|mj-raw|mj-table|mj-style|mj-title|mj-preview|mj-navbar-link|"
    "mj-social-element|mj-accordion-title|mj-accordion-text"
)
_ENDING_RE = re.compile(
    rf"(<({_ENDING_TAGS})\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*(?<!/)>)(.*?)(</\2\s*>)", re.DOTALL
)
_MJ_TAG_RE = re.compile(r"</?(?:mj-[\w-]+|mjml)")


def _blank(text: str, filler: str = " ") -> str:
    """Same length and line breaks, no content: keeps expat's line numbers true to the source."""
    return re.sub(r"[^\n]", filler, text)


def _check_mjml_structure(source: str) -> None:
    """Report mismatched, unclosed or unknown MJML tags with their line (mrml gives no positions)."""
    text = _JINJA_RE.sub(lambda m: _blank(m.group(), "x"), source)

    def blank_content(match: re.Match[str]) -> str:
        inner = _MJ_TAG_RE.search(match.group(3))
        if inner:
            raise TemplateError(
                f"MJML error: <{match.group(2)}> opened on line "
                f"{source.count(chr(10), 0, match.start()) + 1} is not closed before "
                f"{inner.group()}>",
                source.count("\n", 0, match.start(3) + inner.start()) + 1,
            )
        return match.group(1) + _blank(match.group(3)) + match.group(4)

    text = _ENDING_RE.sub(blank_content, text)
    text = text.replace("&", "_")
    parser = expat.ParserCreate()
    stack: list[tuple[str, int]] = []

    def start(name: str, _attrs: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        if not stack and name != "mjml":
            raise TemplateError(f"the document must start with <mjml>, found <{name}>", line)
        if name not in _KNOWN_TAGS:
            if name.startswith("mj-"):
                raise TemplateError(f"unknown or unsupported MJML tag <{name}>", line)
            raise TemplateError(
                f"HTML tag <{name}> must be inside <mj-text>, <mj-button> or <mj-raw>", line
            )
        stack.append((name, line))

    def end(_name: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code)
        if exc.code == expat.errors.codes[expat.errors.XML_ERROR_TAG_MISMATCH] and stack:
            name, opened = stack[-1]
            reason = f"closing tag does not match <{name}> opened on line {opened}"
        elif exc.code == expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS]:
            reason = "no <mjml> document found"
        elif stack and exc.code == expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN]:
            reason = f"unclosed tag (last open: <{stack[-1][0]}> from line {stack[-1][1]})"
        raise TemplateError(f"MJML error: {reason}", exc.lineno) from None


# --------------------------------------------------------------------------- MJML with Jinja tokens


@dataclass
class _Tokens:
    """Jinja constructs swapped out for opaque tokens that MJML passes through untouched."""

    nonce: str
    constructs: list[str]
    lines: list[int]

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(rf"jx{self.nonce}t(\d+)z")

    def restore(self, text: str) -> str:
        return self.pattern.sub(lambda m: self.constructs[int(m.group(1))], text)


def _tokenize(source: str) -> tuple[str, _Tokens]:
    nonce = secrets.token_hex(4)
    tokens = _Tokens(nonce, [], [])

    def swap(match: re.Match[str]) -> str:
        tokens.constructs.append(match.group())
        tokens.lines.append(source.count("\n", 0, match.start()) + 1)
        return f"jx{nonce}t{len(tokens.constructs) - 1}z"

    return _JINJA_RE.sub(swap, source), tokens


def _check_tokens_survived(rendered: str, tokens: _Tokens) -> None:
    """MJML drops text it has no place for; a lost `{% endif %}` would silently change the email."""
    counts = [0] * len(tokens.constructs)
    for match in tokens.pattern.finditer(rendered):
        counts[int(match.group(1))] += 1
    for index, construct in enumerate(tokens.constructs):
        is_block = construct.startswith("{%")
        if counts[index] == 0 and not construct.startswith("{#"):
            raise TemplateError(
                f"MJML dropped {construct!r}; put it inside <mj-text> or wrap it in <mj-raw>",
                tokens.lines[index],
            )
        if is_block and counts[index] > 1:
            raise TemplateError(
                f"MJML repeated {construct!r} (it sits in an attribute MJML copies); "
                "move it between elements inside <mj-raw>",
                tokens.lines[index],
            )


def _escape_outside_jinja(text: str) -> str:
    """HTML-escape the literal text but not the Jinja inside it (`{% if a < b %}`)."""
    pieces, at = [], 0
    for match in _JINJA_RE.finditer(text):
        pieces += [html.escape(text[at : match.start()], quote=False), match.group()]
        at = match.end()
    return "".join(pieces) + html.escape(text[at:], quote=False)


# A campaign with a QR offer always shows the coupon: a message that does not place it itself
# (no qr_code_url, coupon_code or coupon_url anywhere) gets this section above its footer.
COUPON_VARIABLES = ("qr_code_url", "coupon_code", "coupon_url")
COUPON_SECTION = """
    <mj-section padding="8px 0">
      <mj-column>
        <mj-raw>{% if qr_code_url %}</mj-raw>
        <mj-text align="center" padding="0 24px 8px">
          <table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border:2px dashed #c0392b;border-radius:10px;border-collapse:separate;background:#fffaf5;">
            <tr><td align="center" style="padding:16px 20px;line-height:1.6;font-family:'Helvetica Neue',Helvetica,Arial,sans-serif;">
              <div style="font-size:18px;font-weight:bold;color:#c0392b;">{{ offer_text }}</div>
              <img src="{{ qr_code_url }}" alt="QR code for coupon {{ coupon_code }}" width="180" height="180" style="display:block;margin:8px auto;border:0;">
              <div class="coupon-code" style="font-size:24px;font-weight:bold;color:#2c3e50;letter-spacing:4px;">{{ coupon_code }}</div>
              <div style="font-size:14px;">Show this code at the counter{% if offer_expires %} — valid until <strong>{{ offer_expires }}</strong>{% endif %}.</div>
              {% if coupon_url %}<a href="{{ coupon_url }}" style="display:inline-block;margin-top:16px;padding:14px 32px;border-radius:6px;background:#c0392b;color:#ffffff;font-size:16px;font-weight:bold;text-decoration:none;">Open my coupon</a>{% endif %}
            </td></tr>
          </table>
        </mj-text>
        <mj-raw>{% endif %}</mj-raw>
      </mj-column>
    </mj-section>
"""


def with_coupon_section(source: str) -> str:
    """`source` with the coupon shown: unchanged when it places the coupon itself, else with
    COUPON_SECTION before its last section (the footer, by the library's convention)."""
    if any(name in source for name in COUPON_VARIABLES):
        return source
    footer = source.rfind("<mj-section")
    end = source.rfind("</mj-body>")
    at = footer if footer != -1 else end
    if at == -1:
        return source  # not MJML we understand; the structure check reports it
    return source[:at] + COUPON_SECTION.strip() + "\n    " + source[at:]


def _inject_preheader(source: str, preheader: str) -> str:
    """Give MJML the preheader as hidden preview text (the inbox line after the subject)."""
    if not preheader or "<mj-preview" in source:
        return source
    preview = f"<mj-preview>{_escape_outside_jinja(preheader)}</mj-preview>"
    if re.search(r"<mj-head\b[^>]*>", source):
        return re.sub(r"(<mj-head\b[^>]*>)", lambda m: m.group(1) + preview, source, count=1)
    return re.sub(
        r"(<mjml\b[^>]*>)", lambda m: m.group(1) + f"<mj-head>{preview}</mj-head>", source, count=1
    )


def _inject_title(rendered: str, subject: str) -> str:
    """The subject as the page <title> (browser view), added after MJML so it appears once."""
    if not subject or "<title></title>" not in rendered:
        return rendered
    return rendered.replace(
        "<title></title>", f"<title>{_escape_outside_jinja(subject)}</title>", 1
    )


def _run_mjml(source: str) -> str:
    try:
        return mjml.mjml2html(source, fonts={})
    except ValueError as exc:
        raise TemplateError(f"MJML error: {exc}") from None


# --------------------------------------------------------------------------- images and links

_ASSET_REF_RE = re.compile(r"(?<=[\"'(])(?:asset:|/assets/)([A-Za-z0-9][A-Za-z0-9._-]*)(?=[\"')])")
_HREF_RE = re.compile(r"(<a\b[^>]*?\bhref\s*=\s*)([\"'])(.*?)\2", re.IGNORECASE | re.DOTALL)
_OPEN_PIXEL = (
    '<img src="{{ open_pixel_url }}" width="1" height="1" alt="" '
    'style="display:block;border:0;width:1px;height:1px;">'
)


def _resolve_images(rendered: str, resolver: Callable[[str], str]) -> str:
    def swap(match: re.Match[str]) -> str:
        try:
            resolved = resolver(f"asset:{match.group(1)}")
        except (ValueError, OSError) as exc:
            raise TemplateError(f"image {match.group(1)!r}: {exc}") from None
        if _JINJA_RE.search(resolved):
            raise TemplateError(f"image {match.group(1)!r} resolved to template syntax")
        return html.escape(resolved, quote=True)

    return _ASSET_REF_RE.sub(swap, rendered)


def _track_links(rendered: str, tokens: _Tokens) -> tuple[str, list[str]]:
    """Rewrite literal http(s) links to `{{ click_url(N) }}`; personalized hrefs stay as they are."""
    links: list[str] = []
    index: dict[str, int] = {}

    def swap(match: re.Match[str]) -> str:
        url = html.unescape(match.group(3)).strip()
        if not url.lower().startswith(("http://", "https://")) or tokens.pattern.search(url):
            return match.group()
        if url not in index:
            index[url] = len(links)
            links.append(url)
        return f"{match.group(1)}{match.group(2)}{{{{ click_url({index[url]}) }}}}{match.group(2)}"

    return _HREF_RE.sub(swap, rendered), links


def _add_open_pixel(rendered: str) -> str:
    at = rendered.rfind("</body>")
    return rendered + _OPEN_PIXEL if at < 0 else rendered[:at] + _OPEN_PIXEL + rendered[at:]


# --------------------------------------------------------------------------- compile and personalize


def _compile(env: BoundedEnvironment, source: str, what: str) -> jinja2.Template:
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{what}: {exc.message}", exc.lineno) from None


def compile_email(
    mjml_source: str,
    subject: str,
    preheader: str = "",
    *,
    track_links: bool = False,
    image_resolver: Callable[[str], str] | None = None,
) -> CompiledEmail:
    """Render MJML once and compile the per-recipient templates; pure, so callers may cache it.

    Without an image_resolver `asset:NAME` references are left as they are.
    """
    check_fields(subject, what="subject")
    check_fields(preheader, what="preheader")
    # Comments (the library's metadata header among them) are not part of the email.
    mjml_source = _COMMENT_RE.sub(lambda m: _blank(m.group()), mjml_source)
    used = check_fields(mjml_source, what="body")
    missing = [name for name in REQUIRED_FIELDS if name not in used]
    if missing:
        raise TemplateError(
            "every email must show " + " and ".join("{{ " + name + " }}" for name in missing)
        )
    _check_mjml_structure(mjml_source)

    tokenized, tokens = _tokenize(_inject_preheader(mjml_source, preheader))
    rendered = _run_mjml(tokenized)
    _check_tokens_survived(rendered, tokens)
    if image_resolver is not None:
        rendered = _resolve_images(rendered, image_resolver)
    links: list[str] = []
    if track_links:
        rendered, links = _track_links(rendered, tokens)
        rendered = _add_open_pixel(rendered)
    html_source = _inject_title(tokens.restore(rendered), subject)
    text_source = tokens.restore(html_to_text(rendered))

    compiled = CompiledEmail(
        html_template=_compile(_HTML_ENV, html_source, "body"),
        text_template=_compile(_TEXT_ENV, text_source, "text version"),
        subject_template=_compile(_TEXT_ENV, subject, "subject"),
        links=links,
        required=tuple(REQUIRED_FIELDS),
        tracked=track_links,
    )
    with time_limit():  # one deadline for all trial renders
        _trial_render(compiled, html_source, text_source, subject)
    return compiled


def compile_text(source: str, *, what: str) -> jinja2.Template:
    """A plain-text template (SMS body) checked like an email: fields, syntax, a strict trial run."""
    check_fields(source, what=what)
    template = _compile(_TEXT_ENV, source, what)
    try:
        _compile(_STRICT_TEXT_ENV, source, what).render(sample_context())
    except TemplateLimitError as exc:
        raise TemplateError(f"{what}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any runtime failure of author code is the author's
        raise TemplateError(f"{what} fails with a sample customer: {exc}") from None
    return template


def _trial_render(
    compiled: CompiledEmail, html_source: str, text_source: str, subject: str
) -> None:
    """Fail at compile time, not at send time: full context strictly, then a sparse one leniently."""
    full = _tracking_context(sample_context(), compiled.tracked)
    sparse = _tracking_context(
        {name: full[name] for name in ("unsubscribe_url", "business_address", "business_name")},
        compiled.tracked,
    )
    try:
        _STRICT_HTML_ENV.from_string(html_source).render(full)
        _STRICT_TEXT_ENV.from_string(text_source).render(full)
        _STRICT_TEXT_ENV.from_string(subject).render(full)
    except TemplateLimitError as exc:
        raise TemplateError(str(exc)) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"body fails with a sample customer: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any runtime failure of author code is the author's
        raise TemplateError(
            f"body fails with a sample customer: {type(exc).__name__}: {exc}"
        ) from None
    try:
        personalize(compiled, sparse)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001 - any runtime failure of author code is the author's
        raise TemplateError(f"body fails for a customer without optional fields: {exc}") from None


def _tracking_context(context: dict[str, Any], tracked: bool) -> dict[str, Any]:
    if not tracked:
        return context
    return {
        **context,
        "click_url": lambda n: f"https://example.com/c/{n}",
        "open_pixel_url": "https://example.com/o.gif",
    }


_JINJA_GLOBALS = dict(_HTML_ENV.globals)


def _render(template: jinja2.Template, values: dict[str, Any]) -> str:
    """Template.render without re-merging the globals per call (a third of the per-recipient cost)."""
    return render_context(template, template.new_context(values, shared=True))


def personalize(compiled: CompiledEmail, context: dict[str, Any]) -> RenderedEmail:
    """One recipient's email from a compiled one; `None` values count as missing."""
    values = dict(_JINJA_GLOBALS)
    values.update((key, value) for key, value in context.items() if value is not None)
    for name in compiled.required:
        if not values.get(name):
            raise TemplateError(f"no value for required field {name}")
    try:
        subject = _render(compiled.subject_template, values)
        body = _render(compiled.html_template, values)
        text = _render(compiled.text_template, values)
    except TemplateLimitError as exc:
        raise TemplateError(str(exc)) from None
    except jinja2.TemplateError as exc:
        hint = " (tracked emails need click_url and open_pixel_url)" if compiled.tracked else ""
        raise TemplateError(f"personalization failed: {exc}{hint}") from None
    except Exception as exc:  # noqa: BLE001 - author code failing on this recipient's data
        raise TemplateError(f"personalization failed: {type(exc).__name__}: {exc}") from None
    # A name with a line break must never become a second header line.
    return RenderedEmail(" ".join(subject.split()), body, _BLANK_LINES_RE.sub("\n\n", text))


# --------------------------------------------------------------------------- plain-text alternative

_BLOCK_TAGS = frozenset(
    "p div br tr table h1 h2 h3 h4 h5 h6 li ul ol blockquote hr section article header footer".split()
)
_SKIP_TAGS = frozenset({"style", "script", "head", "title"})
_VOID_TAGS = frozenset("area base br col embed hr img input link meta source track wbr".split())
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_HIDDEN_RE = re.compile(r"display\s*:\s*none", re.IGNORECASE)


class _TextExtractor(HTMLParser):
    """Collects visible text; links become `text (url)`; hidden and non-content elements vanish."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self.hidden = 0
        self.links: list[tuple[str, int]] = []  # (href, index into parts where its text starts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag in _VOID_TAGS:
            return
        hides = tag in _SKIP_TAGS or bool(_HIDDEN_RE.search(attributes.get("style") or ""))
        self.stack.append((tag, hides))
        self.hidden += hides
        if tag == "a":
            self.links.append(((attributes.get("href") or "").strip(), len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID_TAGS or not any(t == tag for t, _ in self.stack):
            return
        while self.stack:
            open_tag, hides = self.stack.pop()
            self.hidden -= hides
            if open_tag == "a":
                self._close_link()
            if open_tag == tag:
                break
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def _close_link(self) -> None:
        if not self.links:
            return
        href, start = self.links.pop()
        label = " ".join("".join(self.parts[start:]).split())
        if self.hidden or not href or href.startswith(("#", "data:", "javascript:")):
            return
        url = href.removeprefix("mailto:")
        if label != url:
            self.parts.append(f" ({url})" if label else url)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html_source: str) -> str:
    """The plain-text alternative: readable text, links as `text (url)`, no CSS or script."""
    extractor = _TextExtractor()
    extractor.feed(html_source)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    text = "\n".join(lines)
    return _BLANK_LINES_RE.sub("\n\n", text).strip() + "\n"


# --------------------------------------------------------------------------- template library

_META_RE = re.compile(r"\A\s*<!--(.*?)-->", re.DOTALL)


def _read_template(path: Path) -> TemplateInfo:
    source = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    match = _META_RE.match(source)
    if match:
        for line in match.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                header[key.strip().lower()] = value.strip()
    return TemplateInfo(
        name=path.stem,
        title=header.get("title", path.stem.replace("_", " ").title()),
        description=header.get("description", ""),
        mjml=source,
        subject=header.get("subject", ""),
        preheader=header.get("preheader", ""),
        offer_text=header.get("offer", ""),
        offer_days=int(header.get("offer_days", "0") or 0),
    )


def list_templates() -> list[TemplateInfo]:
    """The shipped library, `blank` last so the editor shows real designs first."""
    infos = [_read_template(p) for p in sorted(TEMPLATES_DIR.glob("*.mjml"))]
    return sorted(infos, key=lambda info: (info.name == "blank", info.name))


def load_template(name: str) -> str:
    """The MJML source of one library template."""
    if not re.fullmatch(r"[a-z0-9_]+", name) or not (TEMPLATES_DIR / f"{name}.mjml").is_file():
        raise KeyError(f"no template named {name!r}")
    return (TEMPLATES_DIR / f"{name}.mjml").read_text(encoding="utf-8")


def check_template(mjml_source: str, subject: str = "", preheader: str = "") -> None:
    """Raise TemplateError for anything that would break at send time; the editor calls this."""
    compile_email(mjml_source, subject, preheader)


SAMPLE_CUSTOMER = ("Alex", "Rivera")  # first and last name in every preview and test send
SAMPLE_CUSTOMER_LABEL = f"Sample customer ({' '.join(SAMPLE_CUSTOMER)})"


def sample_context(
    *, image_resolver: Callable[[str], str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A sample customer for previews; images are inlined unless a resolver is given."""
    if image_resolver is None:

        def image_resolver(ref: str) -> str:
            return resolve_image(
                ref, mode="inline", folders=image_folders(get_settings()), base_url=""
            )

    expires = date.today() + timedelta(days=14)
    context: dict[str, Any] = {
        "first_name": SAMPLE_CUSTOMER[0],
        "last_name": SAMPLE_CUSTOMER[1],
        "offer_text": "2-for-1 fresh pasta, all day Monday",
        "offer_expires": f"{expires:%B} {expires.day}, {expires.year}",
        "qr_code_url": image_resolver("asset:sample_qr.png"),
        "coupon_code": "MON-7K2Q",
        "coupon_url": "https://example.com/coupon/sample",
        "unsubscribe_url": "https://example.com/unsubscribe/sample",
        "view_in_browser_url": "https://example.com/view/sample",
        "business_name": "Trattoria Esempio",
        "business_address": "123 Main Street, Springfield, IL 62701",
        "sender_name": "Maria from Trattoria Esempio",
    }
    context.update(overrides)
    return context
