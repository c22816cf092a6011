"""Bounded template rendering: no email or SMS template can run forever or fill memory.

Templates are written in the browser and run in the app and in every send worker, so a
runaway one must fail fast with a message naming the limit. The Jinja sandbox keeps them
away from Python internals; `BoundedEnvironment` adds the limits:

- **steps**: every loop iteration (over ranges, literals or customer data alike) and every
  macro call counts against one budget of `MAX_STEPS` per render;
- **time**: each render has a deadline (`MAX_SECONDS`, shared by the renders of one
  `time_limit()` block), checked at every step, counted output, operator, filter and string
  method; the clock starts at the render's first counted operation (before it, a template
  runs only straight-line code, bounded by its size);
- **size**: no output and no value a template builds may exceed `MAX_OUTPUT_CHARS`. The
  operations that can multiply their input (`*`, `**`, `%`, `+`, `~`, list literals, filters
  such as `center`, `join`, `replace`, string methods such as `ljust`) are refused *before*
  they run when their result would be too big; output inside loops, macros and anything
  not a plain field is counted as it is produced;
- **static checks** at compile time refuse what is wrong whatever the data: sources over
  `MAX_SOURCE_CHARS`, numbers over `MAX_NUMBER`, recursive loops, nested ranges or constant
  expressions already over a limit, nesting too deep to compile, includes and imports.

The per-recipient render of a plain template (fields, light filters, `click_url(N)`) pays
only for setting one context variable and measuring its result (about 3% of a render).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from string import Formatter
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_STEPS = 1_000_000
MAX_OUTPUT_CHARS = 2 * 1024 * 1024
MAX_SECONDS = 2.0
MAX_SOURCE_CHARS = 100_000  # what an author may type; the largest shipped template is 4,401
MAX_NUMBER = 1_000_000_000  # the largest number literal a template may contain
MAX_INT_DIGITS = 1_000  # the largest number a template may compute
MAX_NESTING = 100  # Jinja and Python compile deeper templates by recursion, then crash
MAX_NODES = 5_000  # compiling takes ~0.1 s per 1,000; the largest shipped template has 57
# Outputs of plain fields outside loops are counted once, at the end, unless there are more.
MAX_UNCOUNTED_OUTPUTS = 256

STEPS_MESSAGE = f"This template did more than {MAX_STEPS:,} loop steps"
SIZE_MESSAGE = f"This template produced more than {MAX_OUTPUT_CHARS // 2**20} MB"
TIME_MESSAGE = f"This template took longer than {MAX_SECONDS:g} s"
NUMBER_MESSAGE = f"This template computed a number with more than {MAX_INT_DIGITS:,} digits"

_MAX_INT_BITS = int(MAX_INT_DIGITS * 3.33)  # a decimal digit is log2(10) = 3.32 bits


class TemplateLimitError(jinja2.TemplateRuntimeError):
    """A render stopped by one of the limits; the message names the limit."""


class _Budget:
    """What one render has used so far."""

    __slots__ = ("deadline", "emitted", "steps")

    def __init__(self, deadline: float) -> None:
        self.steps = 0
        self.emitted = 0
        self.deadline = deadline


_OUTSIDE = _Budget(0.0)  # the ContextVar's value when no render is running
# The running render's budget; None until its first counted step (plain renders never need one).
_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=_OUTSIDE)
_outer_deadline: ContextVar[float | None] = ContextVar("template_deadline", default=None)


@contextmanager
def time_limit(seconds: float = MAX_SECONDS) -> Iterator[None]:
    """One deadline for every render inside (a preview or a compile runs several)."""
    deadline = time.monotonic() + seconds
    outer = _outer_deadline.get()
    token = _outer_deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _outer_deadline.reset(token)


def _current() -> _Budget:
    """The running render's budget, created at its first counted operation (plain renders skip it)."""
    budget = _budget.get()
    if budget is None:
        deadline = time.monotonic() + MAX_SECONDS
        outer = _outer_deadline.get()
        budget = _Budget(deadline if outer is None or outer > deadline else outer)
        _budget.set(budget)
    elif budget is _OUTSIDE:  # a render that bypassed render_context: refuse, never run unbounded
        raise RuntimeError("templates of a BoundedEnvironment render only through render_context")
    return budget


def _step(budget: _Budget) -> None:
    """A loop iteration or a macro call: the only ways a template repeats work."""
    budget.steps += 1
    if budget.steps > MAX_STEPS:
        raise TemplateLimitError(STEPS_MESSAGE)
    if time.monotonic() > budget.deadline:
        raise TemplateLimitError(TIME_MESSAGE)


def _charge(budget: _Budget, chars: int) -> None:
    """Text produced where it may repeat (loops, macros) or be large (computed values)."""
    budget.emitted += chars
    if budget.emitted > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(SIZE_MESSAGE)
    if time.monotonic() > budget.deadline:
        raise TemplateLimitError(TIME_MESSAGE)


def render_context(template: jinja2.Template, context: Context) -> str:
    """Render with a fresh budget.

    Everything that can repeat or grow is counted while it is produced; what is not (literal
    text outside loops, at most MAX_UNCOUNTED_OUTPUTS plain fields) is bounded by the template
    itself, so measuring the joined result afterwards is safe and keeps plain renders fast.
    """
    token = _budget.set(None)
    try:
        text = "".join(template.root_render_func(context))
    except Exception:
        template.environment.handle_exception()
    finally:
        _budget.reset(token)
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(SIZE_MESSAGE)
    return text


class BoundedTemplate(jinja2.Template):
    """`render()` runs under the limits like every other render path."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        return render_context(self, self.new_context(dict(*args, **kwargs)))


# --------------------------------------------------------------------------- measuring values


def weight(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """An upper bound on what a value costs, in characters; stops counting past `limit`.

    Strings count their length, containers their items plus what each item weighs (a list
    holding one string twice weighs twice: printing it would copy it twice).
    """
    if isinstance(value, str):
        return len(value)
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 8
        elif isinstance(item, int):
            total += max(8, item.bit_length() // 3)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item) + 2
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, dict):
            total += len(item) + 2
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, Namespace):
            stack.append(dict(item._Namespace__attrs))  # type: ignore[attr-defined]
        else:
            total += 8
        if total > limit:
            return total
    return total


def text_size(value: Any) -> int:
    """An upper bound on len(str(value)): repr of a container can be ~10x its strings."""
    return len(value) if isinstance(value, str) else 12 * weight(value) + 100


def _check_value(value: Any) -> Any:
    """A value just built, passed on unless it is over the size limit."""
    if isinstance(value, str):
        if len(value) > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(SIZE_MESSAGE)
    elif weight(value) > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(SIZE_MESSAGE)
    return value


def _refuse_over(size: int) -> None:
    """An estimate made before an operation runs: refuse it rather than allocate."""
    if size > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(SIZE_MESSAGE)


def _int(value: Any, default: int = 0) -> int:
    """A size argument, when it is one (else the operation itself reports the wrong type)."""
    return value if isinstance(value, int) else default


def _digits(value: int) -> int:
    return value.bit_length()


# --------------------------------------------------------------------------- operators


# Both scanners are linear on any input: templates can build 2 MB format strings.
_PERCENT_KEY = re.compile(r"\([^()]*+\)")
_PERCENT_TAIL = re.compile(r"[#0\- +]*+(\*|\d++)?(?:\.(\*|\d++)?)?")
_DIGITS = re.compile(r"\d++")


def _number(digits: str) -> int:
    return int(digits) if len(digits) < 12 else MAX_OUTPUT_CHARS + 1


def _percent_widths(fmt: str) -> tuple[int, bool]:
    """Padding the `%` conversions of `fmt` ask for; True when one takes it from the arguments."""
    total, starred, at, end = 0, False, 0, len(fmt)
    while 0 < (at := fmt.find("%", at) + 1) < end:
        if fmt[at] == "(":
            key = _PERCENT_KEY.match(fmt, at)
            if key is not None:
                at = key.end()
            else:  # a key with parentheses inside: Python's own rule, balanced parentheses
                depth = 0
                while at < end:
                    depth += 1 if fmt[at] == "(" else -1 if fmt[at] == ")" else 0
                    at += 1
                    if depth == 0:
                        break
                if depth:
                    break  # unclosed: Python refuses it before formatting anything
        tail = _PERCENT_TAIL.match(fmt, at)
        for number in tail.groups():
            if number == "*":
                starred = True
            elif number:
                total += _number(number)
        at = tail.end() + 1  # past the conversion character
    return total, starred


def _brace_widths(fmt: str) -> tuple[int, bool]:
    """Padding the `{...:spec}` fields of `fmt` ask for; True when a spec holds a nested field."""
    total, nested = 0, False
    try:
        for _text, _field, spec, _conversion in Formatter().parse(fmt):
            if spec:
                nested = nested or "{" in spec
                total += sum(_number(d) for d in _DIGITS.findall(spec))
    except ValueError:
        pass  # not a valid format string: str.format refuses it before allocating anything
    return total, nested


def format_size(fmt: str, args: Iterable[Any], kwargs: dict[str, Any] | None = None) -> int:
    """Upper bound for `fmt % args`, `fmt.format(...)` and the `format` filter: padding included."""
    values = [*args, *(kwargs or {}).values()]
    if len(values) == 1 and isinstance(values[0], (tuple, dict)):
        values = list(values[0].values() if isinstance(values[0], dict) else values[0])
    percent, starred = _percent_widths(fmt)
    braces, nested = _brace_widths(fmt)
    size = len(fmt) + sum(text_size(v) for v in values) + percent + braces
    if starred or nested:
        size += sum(abs(v) for v in values if isinstance(v, int))
    return size


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `left operator right` before it runs when its result would pass a limit."""
    if operator == "*":
        if isinstance(right, (str, list, tuple)) and isinstance(left, int):
            left, right = right, left
        if isinstance(left, (str, list, tuple)) and isinstance(right, int):
            _refuse_over(weight(left) * max(right, 0))
        elif isinstance(left, int) and isinstance(right, int):
            if _digits(left) + _digits(right) > _MAX_INT_BITS:
                raise TemplateLimitError(NUMBER_MESSAGE)
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(_digits(left), 1) * right > _MAX_INT_BITS:
                raise TemplateLimitError(NUMBER_MESSAGE)
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _refuse_over(weight(left) + weight(right))
    elif operator == "%" and isinstance(left, str):
        _refuse_over(format_size(left, (right,)))


# --------------------------------------------------------------------------- filters


def _materialize(value: Any) -> Any:
    return value if hasattr(value, "__len__") else list(value)


def _center_size(value: Any, width: Any = 80) -> int:
    return max(text_size(value), _int(width))


def _indent_size(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> int:
    prefix = _int(width) if isinstance(width, int) else text_size(width)
    lines = s.count("\n") + 1 if isinstance(s, str) else text_size(s) + 1
    return text_size(s) + lines * prefix


def _wordwrap_size(s: Any, width: Any = 79, *args: Any, wrapstring: Any = None, **_: Any) -> int:
    if len(args) >= 2:
        wrapstring = args[1]
    size = text_size(s)
    return size + (size + 1) * len(str(wrapstring or "\n")[:MAX_OUTPUT_CHARS])


def _replace_size(s: Any, old: Any, new: Any, count: Any = None) -> int:
    size = text_size(s)
    old, new = str(old), str(new)
    if isinstance(count, int) and count >= 0:
        times = count
    elif old == "" or not isinstance(s, str):
        times = size + 1
    else:
        times = s.count(old)
    return size + times * max(len(new) - len(old), 0)


def _join_size(value: Any, d: Any = "", attribute: Any = None) -> int:
    items = list(value)
    return sum(text_size(i) for i in items) + max(len(items) - 1, 0) * text_size(d)


def _batch_size(value: Any, linecount: Any, fill_with: Any = None) -> int:
    filler = 0 if fill_with is None else weight(fill_with) + 1
    return weight(value) + _int(linecount) * (filler + 1)


def _slice_size(value: Any, slices: Any, fill_with: Any = None) -> int:
    filler = 0 if fill_with is None else weight(fill_with) + 1
    return weight(value) + _int(slices) * (filler + 2)


def _format_filter_size(value: Any, *args: Any, **kwargs: Any) -> int:
    return format_size(str(value), args, kwargs)


def _nesting(value: Any) -> int:
    """How deeply containers nest inside `value` (JSON indents each level on every line)."""
    deepest, stack = 0, [(value, 0)]
    while stack and deepest <= MAX_OUTPUT_CHARS:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, (list, tuple, set, frozenset)):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
    return deepest


def _tojson_size(value: Any, indent: Any = None) -> int:
    size = 6 * text_size(value)
    if indent is None:
        return size
    step = _int(indent) if isinstance(indent, int) else text_size(indent)
    _refuse_over(size)  # before measuring the nesting of something already too big
    return size + size * step * _nesting(value)


def _urlize_size(
    value: Any,
    trim_url_limit: Any = None,
    nofollow: Any = False,
    target: Any = None,
    rel: Any = None,
    extra_schemes: Any = None,
) -> int:
    words = len(value.split()) if isinstance(value, str) else text_size(value)
    extra = text_size(target or "") + text_size(rel or "") + 64
    return 3 * text_size(value) + (words + 1) * extra


# Filters whose result can be much larger than their input: checked before they run.
_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "batch": _batch_size,
    "center": _center_size,
    "format": _format_filter_size,
    "indent": _indent_size,
    "join": _join_size,
    "replace": _replace_size,
    "slice": _slice_size,
    "tojson": _tojson_size,
    "urlize": _urlize_size,
    "wordwrap": _wordwrap_size,
}
# At most a few times their input (escaping, repr), but linear or worse in time: their result
# is checked after they run, and so is the clock.
_FILTERS_CHECKED_AFTER = frozenset(
    "capitalize dictsort e escape filesizeformat forceescape groupby items list lower map max "
    "min reject rejectattr reverse safe select selectattr sort string striptags sum title trim "
    "truncate unique upper urlencode wordcount xmlattr".split()
)
# Constant time and no larger than their input: the per-recipient hot path, left as they are.
_FILTERS_UNCHECKED = frozenset(
    "abs attr count d default first float int last length random round".split()
)
# Debug output whose size depends on the nesting of the value: not offered.
_FILTERS_REMOVED = frozenset({"pprint"})
_MATERIALIZED = frozenset({"batch", "join", "slice"})


def _check_time() -> None:
    """After an operation that may take long on a large value (no step of its own)."""
    if time.monotonic() > _current().deadline:
        raise TemplateLimitError(TIME_MESSAGE)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, refusing results over the size limit (before running it when it can tell)."""
    size_of = _FILTER_SIZES.get(name)
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @wraps(func)  # keeps jinja_pass_arg, so Jinja still passes the context
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if size_of is not None:
            if name in _MATERIALIZED and len(args) > skip:
                args = (*args[:skip], _materialize(args[skip]), *args[skip + 1 :])
            try:
                size = size_of(*args[skip:], **kwargs)
            except (TypeError, ValueError, AttributeError):
                size = 0  # wrong arguments: the filter itself says what is wrong
            _refuse_over(size)
        result = _check_value(func(*args, **kwargs))
        _check_time()
        return result

    return bounded


def _filters() -> dict[str, Callable[..., Any]]:
    """Jinja's filters as templates get them: bounded, except the constant-time ones."""
    filters: dict[str, Callable[..., Any]] = {}
    for name, func in DEFAULT_FILTERS.items():
        if name in _FILTERS_REMOVED:
            continue
        filters[name] = func if name in _FILTERS_UNCHECKED else _bounded_filter(name, func)
    return filters


# --------------------------------------------------------------------------- methods

_STR_METHODS = frozenset(
    "capitalize casefold count endswith find index isalnum isalpha isascii isdecimal isdigit "
    "isidentifier islower isnumeric isprintable isspace istitle isupper lower lstrip partition "
    "removeprefix removesuffix rfind rindex rpartition rsplit rstrip split splitlines startswith "
    "strip swapcase title upper striptags unescape "
    "center ljust rjust zfill expandtabs replace join format".split()
)
_SEQUENCE_METHODS = frozenset({"count", "index"})
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})


def _pad_size(s: str, width: Any = 0, fillchar: Any = " ") -> int:
    return max(len(s), _int(width))


def _expandtabs_size(s: str, tabsize: Any = 8) -> int:
    return len(s) + s.count("\t") * max(_int(tabsize, 8), 0)


def _method_replace_size(s: str, old: Any, new: Any, count: Any = -1) -> int:
    return _replace_size(s, old, new, count)


def _method_join_size(s: str, iterable: Any) -> int:
    return _join_size(iterable, s)


def _method_format_size(s: str, *args: Any, **kwargs: Any) -> int:
    return format_size(s, args, kwargs)


_METHOD_SIZES: dict[str, Callable[..., int]] = {
    "center": _pad_size,
    "ljust": _pad_size,
    "rjust": _pad_size,
    "zfill": _pad_size,
    "expandtabs": _expandtabs_size,
    "replace": _method_replace_size,
    "join": _method_join_size,
    "format": _method_format_size,
}


def _allowed_attributes(obj: Any) -> frozenset[str] | None:
    """The attributes a template may read on a built-in value; None means the sandbox decides."""
    if isinstance(obj, str):
        return _STR_METHODS
    if isinstance(obj, (bool, int, float, complex, bytes)):
        return frozenset()
    if isinstance(obj, (list, tuple, range)):
        return _SEQUENCE_METHODS
    if isinstance(obj, dict):
        return _DICT_METHODS
    return None


# --------------------------------------------------------------------------- static checks


_UNKNOWN = object()


def _static(node: nodes.Node) -> Any:
    """The value of a constant expression, computed only after its size is checked."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.List, nodes.Tuple)) and getattr(node, "ctx", "load") == "load":
        items = [_static(item) for item in node.items]
        if any(item is _UNKNOWN for item in items):
            return _UNKNOWN
        return items if isinstance(node, nodes.List) else tuple(items)
    if isinstance(node, nodes.BinExpr) and node.operator in ("+", "*", "**", "%"):
        left, right = _static(node.left), _static(node.right)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        check_binop(node.operator, left, right)
        try:
            return ImmutableSandboxedEnvironment.default_binop_table[node.operator](left, right)
        except Exception:  # noqa: BLE001 - not a constant after all (1 % 0): left to runtime
            return _UNKNOWN
    if isinstance(node, nodes.Neg):
        value = _static(node.node)
        return -value if isinstance(value, (int, float)) else _UNKNOWN
    return _UNKNOWN


def _static_length(iterable: nodes.Node) -> int:
    """How many steps a loop over `iterable` takes when that is known at compile time (else 1)."""
    if (
        isinstance(iterable, nodes.Call)
        and isinstance(iterable.node, nodes.Name)
        and iterable.node.name == "range"
        and not iterable.kwargs
    ):
        args = [_static(a) for a in iterable.args]
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            try:
                return len(range(*args))
            except (ValueError, OverflowError):
                return 1
    value = _static(iterable)
    return len(value) if isinstance(value, (str, list, tuple)) else 1


def _fail(message: str, node: nodes.Node) -> None:
    raise jinja2.TemplateSyntaxError(message, node.lineno or 0)


def _check_loops(node: nodes.Node, steps: int) -> None:
    """Nested loops whose sizes are known multiply: refuse a product over the step budget."""
    for child in node.iter_child_nodes():
        inner = steps
        if isinstance(child, nodes.For):
            if child.recursive:
                _fail("recursive loops are not supported in templates", child)
            inner = steps * _static_length(child.iter)
            if inner > MAX_STEPS:
                _fail(f"This template would do more than {MAX_STEPS:,} loop steps", child)
        _check_loops(child, inner)


def _check_shape(tree: nodes.Template) -> None:
    """Few enough parts to compile quickly, shallow enough to compile at all."""
    stack = [(tree, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            parts = f"more than {MAX_NODES:,} fields, tags and operators"
            raise jinja2.TemplateSyntaxError(f"the template is too complex ({parts})", 0)
        if depth > MAX_NESTING:
            _fail(f"the template is nested too deeply (more than {MAX_NESTING} levels)", node)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def _would(message: str) -> str:
    """A limit found before running: the template has not computed anything yet."""
    return message.replace(" computed ", " would compute ").replace(" produced ", " would produce ")


def _check_constant_sizes(tree: nodes.Template) -> None:
    """Operators and filters on constants whose result is already over a limit."""
    for node in tree.find_all(nodes.BinExpr):
        try:
            _static(node)
        except TemplateLimitError as exc:
            _fail(_would(str(exc)), node)
    for node in tree.find_all(nodes.Filter):
        size_of = _FILTER_SIZES.get(node.name)
        if size_of is None or node.node is None or node.dyn_args or node.dyn_kwargs:
            continue
        try:
            values = [_static(n) for n in (node.node, *node.args)]
            kwargs = {kw.key: _static(kw.value) for kw in node.kwargs}
        except TemplateLimitError:
            continue  # reported with its operator above
        if _UNKNOWN in values or _UNKNOWN in kwargs.values():
            continue
        try:
            size = size_of(*values, **kwargs)
        except (TypeError, ValueError, AttributeError):
            continue  # wrong arguments: reported when the filter runs
        except TemplateLimitError:
            size = MAX_OUTPUT_CHARS + 1
        if size > MAX_OUTPUT_CHARS:
            _fail(_would(SIZE_MESSAGE), node)


def static_check(tree: nodes.Template) -> None:
    """Refuse at compile time what would fail (or never end) whatever the data."""
    _check_shape(tree)
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        _fail("templates cannot include, import or extend other templates", node)
    for node in tree.find_all(nodes.Const):
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if abs(value) > MAX_NUMBER:
                shown = f"{value:,}" if isinstance(value, int) else f"{value:g}"
                _fail(f"the number {shown} is too large (at most {MAX_NUMBER:,})", node)
    _check_loops(tree, 1)
    _check_constant_sizes(tree)


# --------------------------------------------------------------------------- code generation

_PLAIN_FILTERS = frozenset(
    "default d e escape upper lower title capitalize trim striptags truncate".split()
)


def _stored_names(tree: nodes.Template) -> set[str]:
    """Names the template assigns (set, for, macro, with): these are not customer fields."""
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx != "load"}
    names.update(n.name for n in tree.find_all(nodes.NSRef))
    names.update(n.name for n in tree.find_all(nodes.Macro))
    return names


def _is_plain(node: nodes.Node, stored: set[str]) -> bool:
    """A field, a constant, a light filter of those, or `fn(constants)`: bounded by its input."""
    if isinstance(node, (nodes.Const, nodes.TemplateData)):
        return True
    if isinstance(node, nodes.Name):
        return node.name not in stored
    if isinstance(node, nodes.Filter):
        return (
            node.name in _PLAIN_FILTERS
            and node.node is not None
            and _is_plain(node.node, stored)
            and all(_is_plain(arg, stored) for arg in node.args)
            and all(_is_plain(kw.value, stored) for kw in node.kwargs)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
    if isinstance(node, nodes.Call):
        return (
            isinstance(node.node, nodes.Name)
            and node.node.name not in stored
            and all(isinstance(arg, nodes.Const) for arg in node.args)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
    return False


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator plus the counting: loops, repeated output, joins, literals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._repeated = 0  # > 0 inside a loop, macro or call block: its output repeats
        self._stored: set[str] = set()
        self._count_all = False
        self._const_chars = 0
        self._counting: list[bool] = []
        self._loop_iterables: set[int] = set()

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        self._stored = _stored_names(node)
        outputs = sum(
            1
            for output in node.find_all(nodes.Output)
            for child in output.nodes
            if not isinstance(child, nodes.TemplateData)
        )
        self._count_all = outputs > MAX_UNCOUNTED_OUTPUTS
        self._loop_iterables = {id(loop.iter) for loop in node.find_all(nodes.For)}
        super().visit_Template(node, frame)

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) not in self._loop_iterables:
            return super().visit(node, *args, **kwargs)
        self.write("environment.loop_steps(")  # what a for-loop walks over: each item a step
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def _repeating(self, visit: Callable[[Any, Frame], None], node: nodes.Node, frame: Frame):
        self._repeated += 1
        try:
            visit(node, frame)
        finally:
            self._repeated -= 1

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self._repeating(super().visit_For, node, frame)

    def visit_Macro(self, node: nodes.Macro, frame: Frame) -> None:
        self._repeating(super().visit_Macro, node, frame)

    def visit_CallBlock(self, node: nodes.CallBlock, frame: Frame) -> None:
        self._repeating(super().visit_CallBlock, node, frame)

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        self._const_chars = 0
        super().visit_Output(node, frame)
        if self._repeated and self._const_chars:
            self.writeline(f"environment.charge({self._const_chars})")

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        const = super()._output_child_to_const(node, frame, finalize)
        self._const_chars += len(const)
        return const

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        counted = self._repeated > 0 or self._count_all or not _is_plain(node, self._stored)
        self._counting.append(counted)
        if counted:
            self.write("environment.emit(")
        else:
            super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if not self._counting.pop():
            super()._output_child_post(node, frame, finalize)
        elif frame.eval_ctx.volatile:
            self.write(", (escape if context.eval_ctx.autoescape else str))")
        elif frame.eval_ctx.autoescape:
            self.write(", escape)")
        else:
            self.write(", str)")

    def start_write(self, frame: Frame, node: nodes.Node | None = None) -> None:
        super().start_write(frame, node)
        self.write("environment.emit(")  # what a filter, call or template block outputs

    def end_write(self, frame: Frame) -> None:
        self.write(", identity)")
        super().end_write(frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.joined({join}, (")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def _literal(self, visit: Callable[[Any, Frame], None], node: Any, frame: Frame) -> None:
        if getattr(node, "ctx", "load") != "load":
            visit(node, frame)  # an assignment target such as `for a, b in ...`
            return
        self.write("environment.checked(")
        visit(node, frame)
        self.write(")")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._literal(super().visit_List, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        self._literal(super().visit_Tuple, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._literal(super().visit_Dict, node, frame)


# --------------------------------------------------------------------------- the environment


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """A sandbox whose templates render within MAX_STEPS, MAX_SECONDS and MAX_OUTPUT_CHARS."""

    code_generator_class = _BoundedCodeGenerator
    template_class = BoundedTemplate
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = _filters()
        self.globals.pop("lipsum", None)  # generates text by the kilobyte on request

    # Compile time -------------------------------------------------------------------

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            tree = super()._parse(source, name, filename)
            static_check(tree)
        except RecursionError:
            raise jinja2.TemplateSyntaxError("the template is nested too deeply", 0) from None
        except ValueError:  # a number literal Python refuses to read (over 4,300 digits)
            message = f"a number in the template is too large (at most {MAX_NUMBER:,})"
            raise jinja2.TemplateSyntaxError(message, 0) from None
        return tree

    def _generate(self, source: nodes.Template, *args: Any, **kwargs: Any) -> str:
        try:
            return super()._generate(source, *args, **kwargs)
        except RecursionError:
            raise jinja2.TemplateSyntaxError("the template is nested too deeply", 0) from None

    def _compile(self, source: str, filename: str) -> Any:
        try:
            return super()._compile(source, filename)
        except (RecursionError, SyntaxError, MemoryError):
            raise jinja2.TemplateSyntaxError("the template is nested too deeply", 0) from None

    # Run time: called from the generated code ------------------------------------------

    def loop_steps(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Each item a loop walks over is one step."""
        budget = _current()
        for item in iterable:
            _step(budget)
            yield item

    def emit(self, value: Any, convert: Callable[[Any], str]) -> str:
        """Output that can repeat or grow: counted against the size budget as it is produced."""
        budget = _current()
        if not isinstance(value, str):
            _check_value(value)  # a container prints ~12x its weight at most: bound it first
        text = convert(value)
        _charge(budget, len(text))
        return text

    def charge(self, chars: int) -> None:
        """Literal text output inside a loop or macro."""
        _charge(_current(), chars)

    def joined(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        """`a ~ b ~ ...`: the parts may each be large, so their sum is checked before joining."""
        _refuse_over(sum(text_size(part) for part in parts))
        return _check_value(join(parts))

    def checked(self, value: Any) -> Any:
        """A list, tuple or dict literal: it may hold the same large value many times."""
        return _check_value(value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        result = _check_value(self.binop_table[operator](left, right))
        _check_time()
        return result

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        allowed = _allowed_attributes(obj)
        return allowed is None or attr in allowed

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        if isinstance(obj, Macro):  # macros and caller(): recursion must count
            _step(_current())
            return _check_value(super().call(context, obj, *args, **kwargs))
        method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        owner = getattr(method, "__self__", None)
        if not isinstance(owner, (str, list, tuple, dict, range)):
            # Functions the app passes in (click_url) and Jinja's globals: cheap, sizes checked.
            return _check_value(super().call(context, obj, *args, **kwargs))
        name = getattr(method, "__name__", "")
        size_of = _METHOD_SIZES.get(name) if isinstance(owner, str) else None
        if size_of is not None:
            if name == "join" and args:
                args = (_materialize(args[0]), *args[1:])
            try:
                size = size_of(owner, *args, **kwargs)
            except (TypeError, ValueError, AttributeError):
                size = 0  # wrong arguments: the method itself says what is wrong
            _refuse_over(size)
        result = _check_value(super().call(context, obj, *args, **kwargs))
        _check_time()
        return result
