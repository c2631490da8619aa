"""Chat templates rendered with limits: a time limit, a size limit, no unbounded loops or allocations.

A GGUF's chat template is code from whoever made the file. llama-cpp-python compiles it in
jinja2's ImmutableSandboxedEnvironment, which refuses sandbox escapes but not denial of
service: nested `range(99999)` loops run for hours and `{{ 'x' * 300000000 }}` allocates
gigabytes (at compile time even: jinja2 folds constants). LimitedEnvironment is that sandbox
with a deadline checked on every loop step and call; every operation that can make a text far
larger than its inputs (`*`, `**`, `%`, `+`, `~`, str methods, filters, writing a value out)
checked before it allocates, against a limit that grows with the conversation, and each text
made charged to a per-render total; calls nested at most MAX_DEPTH deep; ranges capped.
Normal templates render exactly as in the plain sandbox. No llama_cpp here: the engine passes
in the binding's environment, whose options are copied.
"""

import contextvars
import json
import math
import re
import string
import time
from functools import wraps
from inspect import signature

from jinja2 import TemplateSyntaxError, nodes, pass_context
from jinja2.environment import Environment, Template
from jinja2.ext import loopcontrols
from jinja2.runtime import LoopContext, Undefined, markup_join, str_join
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from workbench.errors import WorkbenchError

TIME_LIMIT_S = 1.0
# A render may write this much beyond OUTPUT_PER_INPUT times the text it is given.
BASE_MAX_CHARS = 1_000_000
OUTPUT_PER_INPUT = 4
# All the texts one render makes, together, may reach this many times its size limit;
# templates that rebuild a growing text with `+` stay far below it.
TOTAL_PER_LIMIT = 16
MAX_DEPTH = 100
MAX_TEMPLATE_CHARS = 200_000
MAX_INT_BITS = 16_384  # Python refuses to print integers over 4,300 digits anyway
# Filters that walk a text in Python (wordwrap, urlize, pprint) get smaller inputs: one
# call cannot be interrupted, and they take about a second for a million characters.
SLOW_INPUT_CHARS = 100_000
MAX_SUM_WORK = 50_000_000  # element copies a |sum over lists may make (it is quadratic)
# Constant folding at compile time keeps small results only; bigger ones wait for render.
COMPILE_MAX_CHARS = 100_000
COMPILE_MAX_TOTAL = 1_000_000


class ChatTemplateError(WorkbenchError):
    """A chat template cannot be used; `what` says what it did, in words."""

    def __init__(self, what: str, line: int | None = None, model: str | None = None):
        super().__init__(what)
        self.what, self.line, self.model = what, line, model

    def __str__(self) -> str:
        if self.model is None:
            return f"The chat template {self.detail}."
        return (f"{self.model} cannot be used for chat: its chat template {self.detail}. "
                "It can still be used in raw or URIAL mode.")

    def for_model(self, name: str) -> "ChatTemplateError":
        """The same error, its message naming the model."""
        return type(self)(self.what, self.line, name)

    @property
    def detail(self) -> str:
        """What the template did, with the line it was at when known."""
        return self.what if self.line is None else f"{self.what}, at line {self.line}"


class TemplateCompileError(ChatTemplateError):
    """The template does not compile (syntax error, too long, nested too deeply)."""


class TemplateLimitError(ChatTemplateError):
    """Rendering broke a limit: too slow, too large, too deep."""


class Budget:
    """What one render (or one compile) may still spend."""

    __slots__ = ("deadline", "depth", "max_chars", "max_total", "time_limit", "total")

    def __init__(self, max_chars: int, time_limit: float = TIME_LIMIT_S,
                 max_total: int | None = None):
        self.max_chars = max_chars
        self.max_total = max_total if max_total is not None else max_chars * TOTAL_PER_LIMIT
        self.total = self.depth = 0
        self.time_limit = time_limit
        self.deadline = time.perf_counter() + time_limit

    def step(self) -> None:
        """One loop step or call: stop once the render has run out of time."""
        if time.perf_counter() > self.deadline:
            raise TemplateLimitError(f"took longer than {self.time_limit:g} s to render")

    def need(self, n: int, what: str) -> None:
        """Refuse, before allocating, an operation whose result would be n characters."""
        if n > self.max_chars:
            raise TemplateLimitError(f"would produce more than {self.max_chars:,} characters "
                                     f"({what})")

    def made(self, n: int) -> None:
        """Charge a text just made to the render's total."""
        self.total += n
        if self.total > self.max_total:
            raise TemplateLimitError(f"would produce more than {self.max_total:,} characters "
                                     "of text in one render")
        self.step()


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("template_budget",
                                                                         default=None)


def _budget() -> Budget:
    return _BUDGET.get() or Budget(BASE_MAX_CHARS)  # outside render(): per-operation limits


_CONTAINERS = (list, tuple, dict, set, frozenset, Namespace)


def size_of(value, limit: int = 1 << 62) -> int:
    """About how many characters str(value) has, counted without making it; stops past limit."""
    if not isinstance(value, _CONTAINERS):
        return len(value) + 2 if isinstance(value, str) else _scalar_size(value)
    total, stack, seen = 0, [value], set()
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, _CONTAINERS):
            if id(v) in seen:  # a namespace can hold itself; str() prints it once
                continue
            seen.add(id(v))
            if isinstance(v, Namespace):
                v = v._Namespace__attrs  # what its repr prints
            total += 2 + 2 * len(v)
            for item in (v.keys(), v.values()) if isinstance(v, dict) else (v,):
                for x in item:  # texts counted here: messages are mostly texts
                    if x.__class__ is str:
                        total += len(x) + 2
                    else:
                        stack.append(x)
        else:
            total += _scalar_size(v)
    return total


def _scalar_size(v) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v.bit_length() // 3 + 2
    if isinstance(v, (bytes, bytearray)):
        return 4 * len(v) + 3
    return 24 if v is None or isinstance(v, (bool, float, Undefined)) else 64  # short reprs


def _guard_repeat(b: Budget, seq, n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        return
    if isinstance(seq, (str, bytes)):
        b.need(len(seq) * n, f"repeating a {len(seq):,}-character text {n:,} times")
    elif isinstance(seq, (list, tuple)):
        b.need(max(len(seq) * n, size_of(seq, b.max_chars) * n),
               f"repeating a {len(seq):,}-item list {n:,} times")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+)?)?[hlL]?([a-zA-Z%])")


def _largest(values, limit: int) -> tuple[int, int]:
    """The largest argument's printed size, and the largest integer (a width `*` may take)."""
    return (max((size_of(v, limit) for v in values), default=0),
            max((abs(v) for v in values if isinstance(v, int)), default=0))


def percent_size(fmt: str, args, limit: int) -> int:
    """An upper bound on len(fmt % args), counted from the conversions and the arguments."""
    values = list(args.values()) if isinstance(args, dict) else (
        list(args) if isinstance(args, tuple) else [args])
    biggest, star = _largest(values, limit)
    total = len(fmt)
    for m in _PERCENT_SPEC.finditer(fmt):
        if m.group(3) == "%":
            continue
        total += biggest + sum(star if g == "*" else int(g) for g in m.group(1, 2) if g)
        if total > limit:
            break
    return total


def format_size(fmt: str, args, kwargs, limit: int) -> int:
    """An upper bound on len(fmt.format(*args, **kwargs)): each field may print the largest
    argument, padded to the widths its spec names."""
    biggest, star = _largest([*args, *kwargs.values()], limit)
    total = 0
    for literal, field, spec, _conv in string.Formatter().parse(fmt):
        total += len(literal)
        if field is not None:  # `{` in a spec: a width taken from the arguments
            total += biggest + sum(map(int, re.findall(r"\d+", spec or ""))) + (
                star if "{" in (spec or "") else 0)
        if total > limit:
            break
    return total


def _materialized(items) -> list:
    return items if isinstance(items, list) else list(items)


def _join_size(sep, items: list, limit: int) -> int:
    total = len(sep) * max(len(items) - 1, 0)
    for item in items:
        if total > limit:
            break
        total += len(item) if item.__class__ is str else size_of(item, limit)
    return total


def _guard_method(b: Budget, method, args, kwargs):
    """Size checks for the methods of str, bytes and int that can make huge results;
    returns the (possibly materialized) arguments to call with."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    first = args[0] if args else kwargs.get({"expandtabs": "tabsize", "to_bytes": "length"}
                                            .get(name, "width"))
    n = first if isinstance(first, int) else 0  # anything else: the method raises itself
    if isinstance(owner, (str, bytes)):
        if name in ("center", "ljust", "rjust", "zfill"):
            b.need(n, f"padding a text to {n:,} characters")
        elif name == "expandtabs":
            b.need(len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * n,
                   f"expanding tabs to {n:,}")
        elif name == "replace":
            _guard_replace(b, owner, *args[:3])
        elif name == "join" and args:
            items = _materialized(args[0])
            b.need(_join_size(owner, items, b.max_chars), f"joining {len(items):,} items")
            args = (items, *args[1:])
        elif name == "translate" and isinstance(first, dict):
            longest = max((len(v) for v in first.values() if isinstance(v, str)), default=1)
            b.need(len(owner) * max(longest, 1), "translating characters to longer texts")
    elif isinstance(owner, int) and name == "to_bytes":
        b.need(n, f"making {n:,} bytes")
    return args, kwargs


def _guard_replace(b: Budget, s, old=None, new=None, count=-1) -> None:
    if not (isinstance(s, (str, bytes)) and type(old) is type(new) and hasattr(old, "__len__")):
        return
    try:
        found = len(s) + 1 if not old else s.count(old)
    except TypeError:
        return  # str.replace raises the same error itself
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    b.need(len(s) + found * max(len(new) - len(old), 0),
           f"replacing {found:,} places with a {len(new):,}-character text")


def _charge(b: Budget, value):
    if isinstance(value, (str, bytes)):
        b.made(len(value))
    return value


# -- filters: the builtin ones, checked before they run ------------------------------------


def _check_filter(b: Budget, name: str, a: dict) -> None:
    """The size check for a builtin filter that can make far more than it is given; `a` holds
    its arguments by parameter name, and a materialized iterable is put back into it."""
    if name == "center" and isinstance(a.get("width", 80), int):
        b.need(a.get("width", 80), f"centring a text in {a.get('width', 80):,} characters")
    elif name == "indent":
        s, width = a["s"], a.get("width", 4)
        if isinstance(s, list):  # do_indent does `s += "\n"`: on a list, that would change it
            a["s"] = list(s)
        width = len(width) if isinstance(width, str) else width
        if isinstance(width, int):
            lines = s.count("\n") + 1 if isinstance(s, str) else 1
            b.need(size_of(s, b.max_chars) + lines * width,
                   f"indenting {lines:,} lines by {width:,}")
    elif name == "replace":
        _guard_replace(b, a["s"], a.get("old"), a.get("new"), a.get("count"))
    elif name == "join":
        items = a["value"] = _materialized(a["value"])
        d = a.get("d", "")
        b.need(_join_size(d if isinstance(d, str) else "", items, b.max_chars),
               f"joining {len(items):,} items")
    elif name == "format" and isinstance(a["value"], str):
        b.need(percent_size(a["value"], a["*kwargs"] or a["*args"], b.max_chars),
               "formatting with large widths or arguments")
    elif name in ("wordwrap", "urlize", "pprint"):
        n = size_of(a.get("s", a.get("value")), b.max_chars)
        if n > SLOW_INPUT_CHARS:
            raise TemplateLimitError(f"gives {name} a {n:,}-character value (the limit is "
                                     f"{SLOW_INPUT_CHARS:,})")
        width, wrap = a.get("width", 79), a.get("wrapstring")
        breaks = n // max(width if isinstance(width, int) else 1, 1) + 1
        b.need(n + breaks * (len(wrap) if isinstance(wrap, str) else 1), f"applying {name}")
    elif name == "string":
        b.need(size_of(a["s"], b.max_chars), "writing out a large value")
    elif name == "batch" and a.get("fill_with") is not None and isinstance(a["linecount"], int):
        b.need(a["linecount"], f"padding batches to {a['linecount']:,} items")
    elif name == "slice" and isinstance(a["slices"], int) and a["slices"] > MAX_RANGE:
        raise TemplateLimitError(f"cuts a list into {a['slices']:,} slices (the limit is "
                                 f"{MAX_RANGE:,})")
    elif name == "sum":
        items = a["iterable"] = _materialized(a["iterable"])
        start = a.get("start", 0)
        if not all(isinstance(v, (int, float)) for v in (start, *items)):
            size = size_of([start, *items], b.max_chars)
            b.need(size, f"summing {len(items):,} lists")
            if len(items) * size > MAX_SUM_WORK:  # each step copies everything summed so far
                raise TemplateLimitError(f"sums {len(items):,} lists into one")


CHECKED_FILTERS = frozenset({"center", "indent", "replace", "join", "format", "wordwrap",
                             "urlize", "pprint", "string", "batch", "slice", "sum"})
_PASSED = ("context", "eval_ctx", "environment")


def _limited_filter(name: str, func):
    """The filter, with its size check (if it has one) before and its result charged after."""
    checked = name in CHECKED_FILTERS
    names = [p.name for p in signature(func).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)] if checked else []
    if checked and getattr(func, "jinja_pass_arg", None) and names[0] not in _PASSED:
        # jinja2's async_variant wrappers take the eval context and drop it, while their
        # signature is the plain filter's: the first argument is not a parameter.
        names.insert(0, "eval_ctx")

    @wraps(func)  # keeps jinja's pass_context/pass_eval_context marks
    def limited(*args, **kwargs):
        b = _budget()
        if checked:  # by name, by hand: inspect's bind costs 10 µs, too much in a |map
            a = {**dict(zip(names, args)), **kwargs, "*args": args[len(names):],
                 "*kwargs": {k: v for k, v in kwargs.items() if k not in names}}
            _check_filter(b, name, a)
            args = (*(a[n] for n in names[:len(args)]), *args[len(names):])
            kwargs = {k: a[k] for k in kwargs}
        return _charge(b, func(*args, **kwargs))
    return limited


def tojson(x, ensure_ascii: bool = False, indent=None, separators=None,
           sort_keys: bool = False) -> str:
    """llama-cpp-python's tojson filter (json.dumps with these defaults, as Transformers
    renders chat templates), written out in pieces so it stops at the size limit."""
    b = _budget()
    if indent is not None:  # a line's indent (width times depth, depth < size) is made at once
        width = len(indent) if isinstance(indent, str) else indent
        if isinstance(width, int):
            b.need(width * size_of(x, b.max_chars), f"indenting JSON by {width:,}")
    encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                               sort_keys=sort_keys)
    pieces, n = [], 0
    # iterencode without _one_shot streams (json.dumps' C path builds it all at once); the
    # text is the same.
    for piece in encoder.iterencode(x):
        n += len(piece)
        b.need(n, "writing a value as JSON")
        pieces.append(piece)
    return _charge(b, "".join(pieces))


# -- the environment -------------------------------------------------------------------------


@pass_context
def _counted_loop(context, iterable):
    return _Counted(iterable, _budget())


@pass_context
def _limited_concat_op(context, items):
    # `a ~ b`: jinja2 compiles it to str_join/markup_join; the same, measured first.
    b = _budget()
    b.need(sum(len(v) if isinstance(v, str) else size_of(v, b.max_chars) for v in items),
           "joining texts with ~")
    return _charge(b, (markup_join if context.eval_ctx.autoescape else str_join)(items))


class _Counted:
    """A loop's iterable: each step checks the clock; its length is the original's (so
    loop.length and loop.last do not consume the loop)."""

    __slots__ = ("_budget", "_it", "_source")

    def __init__(self, source, budget: Budget):
        self._source, self._it, self._budget = source, iter(source), budget

    def __iter__(self):
        return self

    def __next__(self):
        self._budget.step()
        return next(self._it)

    def __len__(self):
        return len(self._source)


class _Guards(NodeTransformer):
    """Every for loop counts its steps (`for x in xs|_wb_loop`); every `a ~ b` becomes
    `[a, b]|_wb_concat`, measured before it joins."""

    def __init__(self, environment):
        self.env = environment

    def visit_For(self, node):
        node = self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_wb_loop", [], [], None, None, lineno=node.lineno)
        return node.set_environment(self.env)

    def visit_Concat(self, node):
        items = nodes.List(self.generic_visit(node).nodes, lineno=node.lineno)
        return nodes.Filter(items, "_wb_concat", [], [], None, None,
                            lineno=node.lineno).set_environment(self.env)


def _limited_range(*args):
    n = len(range(*args))
    if n > MAX_RANGE:
        raise TemplateLimitError(f"asks for a range of {n:,} numbers (the limit is {MAX_RANGE:,})")
    return range(*args)


def _limited_lipsum(n=5, html=True, min=20, max=100):  # jinja's own parameter names
    if isinstance(n, int) and isinstance(max, int) and n * max > 20_000:
        raise TemplateLimitError(f"asks for {n * max:,} words of lorem ipsum")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _finalize(value):
    # What {{ value }} writes out: a list or a dict of large texts prints them all.
    if not isinstance(value, str):
        _budget().need(size_of(value, _budget().max_chars), "writing out a large value")
    return value


def _concat(parts) -> str:
    """environment.concat: joins a whole render, a macro's output or a {% set %} block;
    measured as it grows, so a template cannot write out more than the limit."""
    b, out, n = _budget(), [], 0
    for part in parts:
        n += len(part)
        if n > b.max_chars:
            b.need(n, "writing out text")
        out.append(part)
    b.made(n)
    return "".join(out)


class LimitedTemplate(Template):
    """A compiled chat template whose render() enforces the limits."""

    def render(self, *args, **kwargs) -> str:
        values = dict(*args, **kwargs)
        size = size_of(values)
        budget = Budget(BASE_MAX_CHARS + OUTPUT_PER_INPUT * size, TIME_LIMIT_S)
        token = _BUDGET.set(budget)
        try:
            return super().render(values)
        except ChatTemplateError as e:
            e.line = e.line or _template_line(e)
            raise
        except RecursionError as e:
            raise TemplateLimitError("recursed too deep", _template_line(e)) from None
        finally:
            _BUDGET.reset(token)


def _template_line(exc: BaseException) -> int | None:
    # jinja2 rewrites tracebacks so that template frames carry template line numbers.
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with limits on time, size and depth (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    template_class = LimitedTemplate
    concat = staticmethod(_concat)

    def __init__(self, **options):
        options.setdefault("finalize", _finalize)
        super().__init__(**options)
        self.filters = {name: _limited_filter(name, f) for name, f in self.filters.items()}
        self.filters.update(tojson=tojson, _wb_loop=_counted_loop, _wb_concat=_limited_concat_op)
        self.globals.update(range=_limited_range, lipsum=_limited_lipsum)

    def _parse(self, source, name, filename):
        return _Guards(self).visit(super()._parse(source, name, filename))

    def call_binop(self, context, operator, left, right):
        b = _budget()
        if operator == "+" and left.__class__ is str and right.__class__ is str:
            result = left + right  # the common case, kept fast: templates build texts with +
            b.made(len(result))
            return result
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "*":
            _guard_repeat(b, left, right)
            _guard_repeat(b, right, left)
            if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateLimitError("multiplies into a number too large to print")
        elif operator == "**" and ints and right > 0 and abs(left) > 1:
            if right * left.bit_length() > MAX_INT_BITS:  # about 0.3 digits a bit
                raise TemplateLimitError(f"raises to a power: a number of about "
                                         f"{math.ceil(right * left.bit_length() * 0.30103):,} digits")
        elif operator == "%" and isinstance(left, str):
            b.need(percent_size(left, right, b.max_chars), "formatting with %")
        elif operator == "+" and isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            b.need(size_of(left, b.max_chars) + size_of(right, b.max_chars), "adding lists")
        return _charge(b, super().call_binop(context, operator, left, right))

    def call(self, context, obj, /, *args, **kwargs):
        b = _budget()
        b.step()
        if isinstance(obj, LoopContext) and args:  # a recursive loop's next level
            args = (_Counted(args[0], b), *args[1:])
        else:
            args, kwargs = _guard_method(b, obj, args, kwargs)
        b.depth += 1
        try:
            if b.depth > MAX_DEPTH:
                raise TemplateLimitError(f"nests calls more than {MAX_DEPTH} deep "
                                         "(runaway recursion)")
            return _charge(b, super().call(context, obj, *args, **kwargs))
        finally:
            b.depth -= 1

    def wrap_str_format(self, value):
        fmt = super().wrap_str_format(value)
        if fmt is None:
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"

        def limited(*args, **kwargs):
            b = _budget()
            fields = (args[0] if args and isinstance(args[0], dict) else {}) if is_map else kwargs
            b.need(format_size(text, () if is_map else args, fields, b.max_chars),
                   "formatting with large widths or arguments")
            return _charge(b, fmt(*args, **kwargs))
        return wraps(value)(limited)


# Lexer and parser options a template's meaning depends on, copied from the binding.
_SYNTAX_OPTIONS = ("block_start_string", "block_end_string", "variable_start_string",
                   "variable_end_string", "comment_start_string", "comment_end_string",
                   "line_statement_prefix", "line_comment_prefix", "trim_blocks",
                   "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "autoescape",
                   "undefined")


def limited_environment(like: Environment | None = None) -> LimitedEnvironment:
    """A LimitedEnvironment with the syntax options and extensions of `like` (the binding's
    own environment), or llama-cpp-python's settings when none is given."""
    if like is None:
        options = {"trim_blocks": True, "lstrip_blocks": True, "extensions": [loopcontrols]}
    else:
        options = {k: getattr(like, k) for k in _SYNTAX_OPTIONS}
        options["extensions"] = [type(ext) for ext in like.extensions.values()]
    env = LimitedEnvironment(**options)
    if like is not None:
        env.policies.update(like.policies)
    return env


def compile_chat_template(source: str, environment: LimitedEnvironment | None = None
                          ) -> LimitedTemplate:
    """Compile a chat template in the limited sandbox; TemplateCompileError if it cannot be."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateCompileError(f"is {len(source):,} characters long (the limit is "
                                   f"{MAX_TEMPLATE_CHARS:,})")
    env = environment or limited_environment()
    token = _BUDGET.set(Budget(COMPILE_MAX_CHARS, math.inf, COMPILE_MAX_TOTAL))
    try:
        return env.from_string(source)
    except TemplateSyntaxError as e:
        raise TemplateCompileError(f"has a syntax error at line {e.lineno}: {e.message}") from None
    except RecursionError:
        raise TemplateCompileError("is nested too deeply to compile") from None
    except (ValueError, TypeError, MemoryError, SyntaxError) as e:
        raise TemplateCompileError(f"cannot be compiled ({e})") from None
    finally:
        _BUDGET.reset(token)
