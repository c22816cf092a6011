"""Bounded templates: runaway loops, huge values and slow renders stop with a message naming the limit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import jinja2
import pytest
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.sandbox import SandboxedEnvironment
from sqlmodel import Session

from marketing_ui.core import messages, template_limits
from marketing_ui.core.models import Campaign
from marketing_ui.core.rendering import (
    _TEXT_ENV,
    TemplateError,
    compile_email,
    compile_text,
    load_template,
    personalize,
    sample_context,
)
from marketing_ui.core.sms import render_sms
from marketing_ui.core.template_limits import (
    MAX_NODES,
    MAX_OUTPUT_CHARS,
    MAX_SOURCE_CHARS,
    render_context,
    time_limit,
)

STEPS = "did more than 1,000,000 loop steps"
SIZE = "produced more than 2 MB"
TIME = "took longer than"


def render(source: str, **context: object) -> str:
    """Compile like an SMS body (fields checked, strict trial run), then render once."""
    return compile_text(source, what="SMS").render({**sample_context(), **context})


def email_with(snippet: str) -> str:
    """The Monday special with `snippet` in a text block of its own, first in the body."""
    source = load_template("monday_special")
    at = source.index("<mj-section")
    block = f"<mj-section><mj-column><mj-text>{snippet}</mj-text></mj-column></mj-section>\n"
    return source[:at] + block + source[at:]


# --------------------------------------------------------------------------- refused at check time


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "would do more than 1,000,000 loop steps",
        ),
        ('{{ "x" * 10**9 }}', "would produce more than 2 MB"),
        ('{{ "x"|center(10**9) }}', "would produce more than 2 MB"),
        ('{{ "%999999999d"|format(1) }}', "would produce more than 2 MB"),
        ("{{ 9 ** 99999 }}", "would compute a number with more than 1,000 digits"),
        ("{{ 10000000000 }}", "the number 10,000,000,000 is too large"),
        ("{{ " + "9" * 5000 + " }}", "a number in the template is too large"),
        ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "recursive loops"),
        ("{% include 'other' %}", "cannot include, import or extend"),
        ("{{ " + "(" * 150 + "1" + ")" * 150 + " }}", "nested too deeply"),
        ("{{ first_name }}" * (MAX_NODES + 1), "too complex"),
        ("x" * (MAX_SOURCE_CHARS + 1), "longer than 100,000 characters"),
    ],
)
def test_hopeless_templates_are_refused_before_they_run(source: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match=re.escape(message)):
        compile_text(source, what="SMS")
    assert time.monotonic() - started < 1.5


def test_static_refusals_name_the_line_of_the_email_body() -> None:
    body = email_with(
        "\n{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    )
    line = body[: body.index("{% for a")].count("\n") + 1
    with pytest.raises(TemplateError, match=f"^Line {line}: body: This template would do more"):
        compile_email(body, "Hi")


def test_a_runaway_email_is_refused_when_it_is_checked() -> None:
    body = email_with(
        "{% set n = 100000 %}{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateError, match=f"^This template {STEPS}$"):
        compile_email(body, "Hi")
    assert time.monotonic() - started < 3


# --------------------------------------------------------------------------- refused while running


RUNAWAY = [
    # loops, whatever they walk over
    (
        "{% set n = 100000 %}{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}",
        STEPS,
    ),
    (
        "{% for a in business_name * 1000 %}{% for b in business_name * 1000 %}{% endfor %}{% endfor %}",
        STEPS,
    ),
    (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        f"{STEPS}|{TIME}",  # 2**40 calls: whichever limit comes first
    ),
    # operators that multiply
    ('{% set n = 10**9 %}{{ "x" * n }}', SIZE),
    (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}',
        SIZE,
    ),
    (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}',
        SIZE,
    ),
    ('{% set f = "%999999999d" %}{{ f % 1 }}', SIZE),
    (
        "{% set ns = namespace(n=2) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "number with more than 1,000 digits",
    ),
    ("{% set n = 999999 %}{{ 9 ** n }}", "number with more than 1,000 digits"),
    # literals holding one large value many times
    ('{% set s = "x" * 1000000 %}{{ [s, s, s] }}', SIZE),
    ('{% set s = "x" * 1000000 %}{% set l = [s, s, s] %}{{ l|length }}', SIZE),
    ('{% set s = "x" * 1000000 %}{{ {"a": s, "b": s, "c": s}|length }}', SIZE),
    # filters that multiply
    ('{% set n = 10**9 %}{{ "x"|center(n) }}', SIZE),
    ('{{ range(100000)|join("x" * 1000) }}', SIZE),
    ('{% set s = "x" * 100000 %}{{ s|replace("x", s) }}', SIZE),
    ('{% set n = 999999999 %}{{ [1]|batch(n, "x")|list|length }}', SIZE),
    ("{% set n = 999999999 %}{{ [1]|slice(n)|list|length }}", SIZE),
    ('{% set n = 999999999 %}{{ "%*d"|format(n, 1) }}', SIZE),
    ('{% set s = "\n" * 100000 %}{{ s|indent(1000) }}', SIZE),
    ('{% set s = "a " * 100000 %}{{ s|wordwrap(1, wrapstring="x" * 100) }}', SIZE),
    ('{{ "<"' + "|tojson" * 30 + "|length }}", SIZE),
    ('{% set s = "x" * 100000 %}{{ s|list|string|list|string|list|string|length }}', SIZE),
    (
        "{% for i in range(1000) %}{% filter center(1000000) %}x{% endfilter %}{% endfor %}",
        SIZE,
    ),
    # string methods that multiply
    ('{% set n = 10**9 %}{{ "x".ljust(n) }}', SIZE),
    ('{% set f = "{:>999999999}" %}{{ f.format(1) }}', SIZE),
    ('{% set n = 10**9 %}{{ "\t".expandtabs(n) }}', SIZE),
    ('{% set s = "x" * 100000 %}{{ s.join(range(1000)) }}', SIZE),
    # output
    ("{% for i in range(100000) %}" + "x" * 40 + "{% endfor %}", SIZE),
    ('{% set s = "x" * 1000000 %}' + "{{ s }}" * 3000, SIZE),
    (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set t %}{{ ns.s }}{{ ns.s }}{% endset %}{% set ns.s = t %}{% endfor %}',
        SIZE,
    ),
    # format strings built to make a size estimate slow: measured in linear time, then refused
    ('{% set f = "{" ~ ":" * 1000000 ~ "}" %}{{ f.format(1) }}', "Invalid format specifier"),
    ('{% set f = "%(" * 500000 %}{{ f % {} }}', "incomplete format key"),
    ('{% set f = "%" * 999999 ~ "999999999d" %}{{ f % 1 }}', SIZE),
    # what the sandbox refuses outright
    ('{{ (1).to_bytes(10**9, "big") }}', "to_bytes"),
]


@pytest.fixture(scope="module")
def runaway_results() -> list[dict]:
    """Every runaway case rendered in a fresh interpreter, in order: its error, its time, and the
    process's peak memory after it (this test process's own peak belongs to earlier tests)."""
    probe = subprocess.run(
        [sys.executable, "-m", "tests.core.template_limits_probe"],
        input=json.dumps([source for source, _ in RUNAWAY]),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(probe.stdout)


@pytest.mark.parametrize(("case", "message"), [(i, m) for i, (_, m) in enumerate(RUNAWAY)])
def test_runaway_templates_stop_with_the_limit_named(
    runaway_results: list[dict], case: int, message: str
) -> None:
    result = runaway_results[case]
    assert result["error"] is not None and re.search(message, result["error"]), result
    assert result["seconds"] < 3
    assert result["peak_mb"] < 1024  # nothing was allowed to grow to a gigabyte first


def test_lipsum_is_not_offered() -> None:
    with pytest.raises(TemplateError, match="unknown field lipsum"):
        compile_text("{{ lipsum(100000) }}", what="SMS")


def test_loops_over_customer_data_count_when_the_email_is_personalized() -> None:
    """A template that behaves for the sample customer but explodes for a long name."""
    body = email_with(
        "{% if first_name|length > 20 %}{% for a in first_name * 100 %}"
        "{% for b in first_name * 100 %}{% endfor %}{% endfor %}{% endif %}"
    )
    compiled = compile_email(body, "Hi")  # the sample customer is "Alex": fine
    assert personalize(compiled, sample_context(first_name="Ann")).html
    with pytest.raises(TemplateError, match=f"^This template {STEPS}$"):
        personalize(compiled, sample_context(first_name="A" * 40))


def test_sms_personalization_is_bounded_too() -> None:
    body = "{% if first_name|length > 20 %}{% for a in first_name * 1000 %}{% for b in first_name * 1000 %}{% endfor %}{% endfor %}{% endif %}Hi"
    assert render_sms(body, sample_context()) == "Hi"
    with pytest.raises(TemplateError, match=STEPS):
        render_sms(body, sample_context(first_name="A" * 40))


def test_slow_templates_stop_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_limits, "MAX_SECONDS", 0.2)
    slow = "{% for i in range(100000) %}{{ range(10000)|sum }}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateError, match="took longer than"):
        render(slow)
    assert time.monotonic() - started < 1.5


def test_one_deadline_covers_every_render_of_a_preview() -> None:
    template = _TEXT_ENV.from_string("{% for i in range(10) %}{{ i }}{% endfor %}")
    with time_limit(0.0):
        with pytest.raises(template_limits.TemplateLimitError, match=TIME):
            template.render()
    assert template.render() == "0123456789"


def test_each_render_has_its_own_budget() -> None:
    template = _TEXT_ENV.from_string(
        "{% for a in range(1000) %}{% for b in range(900) %}{% endfor %}{% endfor %}done"
    )
    assert [template.render() for _ in range(3)] == ["done"] * 3  # 901,000 steps each


def test_output_up_to_the_limit_is_fine() -> None:
    size = MAX_OUTPUT_CHARS - 10
    assert len(render(f'{{{{ "x" * {size} }}}}')) == size
    steps = "{% for i in range(999) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}"
    assert len(render(steps)) == 999_000  # 999,999 steps: just under the limit


def test_rendering_outside_the_limits_is_refused() -> None:
    template = _TEXT_ENV.from_string("{% for i in range(3) %}{{ i }}{% endfor %}")
    with pytest.raises(RuntimeError, match="render only through render_context"):
        "".join(template.generate())
    assert render_context(template, template.new_context({})) == "012"


# --------------------------------------------------------------------------- ordinary templates


ORDINARY = [
    "Hi {{ first_name | default('there') }}, {{ offer_text|upper }} at {{ business_name|e }}",
    "{% for n in ['<b>', 'y', first_name] %}{{ loop.index }}:{{ n }}{% if not loop.last %}, {% endif %}{% endfor %}",
    "{% macro button(t, url) %}<a href='{{ url }}'>{{ t }}</a>{% endmacro %}{{ button('Go', coupon_url) }}{{ button(first_name, '#') }}",
    "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}{{ first_name }} & co{% endcall %}",
    "{% set greeting %}Hello {{ first_name }}{% endset %}{{ greeting ~ '!' ~ 3 }} {{ 'a' + 'b' }} {{ 2 * 3 }} {{ 2 ** 10 }} {{ '%s-%d'|format('x', 5) }}",
    "{% filter upper %}{{ first_name }} <i>{% endfilter %}{{ [1, 2, 3]|join(', ') }} {{ {'a': 1}.items()|list }} {{ (1, 2) }}",
    "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% else %}none{% endfor %}{% for x in [] %}{% else %}empty{% endfor %}",
    "{% autoescape false %}{{ '<raw>' }}{% endautoescape %}{{ '<escaped>' }} {{ 'ab'.upper() }} {{ 'a-b'.split('-') }}",
    "{% set ns = namespace(total=0) %}{% for i in range(5) %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
    "{{ 'x'|center(9) }}|{{ 'a b c'|wordwrap(3) }}|{{ 'abc'|replace('b', 'BB') }}|{{ range(7)|batch(3)|list }}|{{ {'k': '<v>'}|tojson }}",
]


@pytest.mark.parametrize("source", ORDINARY)
@pytest.mark.parametrize("autoescape", [True, False])
def test_ordinary_templates_render_exactly_as_plain_jinja(source: str, autoescape: bool) -> None:
    context = sample_context()
    plain = SandboxedEnvironment(autoescape=autoescape).from_string(source).render(context)
    bounded = template_limits.BoundedEnvironment(autoescape=autoescape).from_string(source)
    assert bounded.render(context) == plain


def test_every_jinja_filter_is_classified() -> None:
    """A filter Jinja adds later must be looked at: can it make its result larger than its input?"""
    classified = (
        set(template_limits._FILTER_SIZES)
        | template_limits._FILTERS_CHECKED_AFTER
        | template_limits._FILTERS_UNCHECKED
        | template_limits._FILTERS_REMOVED
    )
    assert set(DEFAULT_FILTERS) == classified
    groups = [
        set(template_limits._FILTER_SIZES),
        template_limits._FILTERS_CHECKED_AFTER,
        template_limits._FILTERS_UNCHECKED,
        template_limits._FILTERS_REMOVED,
    ]
    assert sum(len(g) for g in groups) == len(classified)  # each in one group only


def test_limit_errors_are_jinja_errors() -> None:
    assert issubclass(template_limits.TemplateLimitError, jinja2.TemplateError)


# --------------------------------------------------------------------------- previews


def test_a_runaway_preview_returns_the_error_within_the_deadline(session: Session) -> None:
    campaign = Campaign(
        name="x",
        channel="both",
        subject="Hi",
        mjml_body=email_with(
            "{% set n = 100000 %}{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}"
        ),
        sms_body="{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    )
    started = time.monotonic()
    result = messages.preview(session, campaign)
    assert time.monotonic() - started < 3
    assert any(STEPS in error for error in result.errors)
    assert len(result.errors) == 2 and not result.html


def test_renders_in_several_threads_keep_their_own_budgets() -> None:
    template = _TEXT_ENV.from_string(
        "{% for a in range(700) %}{% for b in range(1000) %}{% endfor %}{% endfor %}ok"
    )
    results: list[str] = []

    def work() -> None:
        results.append(template.render())

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["ok"] * 3  # 700,000 steps each: a shared budget would have refused
