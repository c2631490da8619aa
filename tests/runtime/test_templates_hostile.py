"""Hostile chat templates: rendered with limits, refused with a clear message, nothing escapes.

The pure tests run the limited renderer on templates written to hang, to allocate without
end or not to compile; the model tests put such templates into a copy of the default chat
model's GGUF and load it for real.
"""

import contextlib
import gc
import resource
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_cpp import llama_chat_format
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from workbench.errors import ModelFileError, WorkbenchError
from workbench.runtime import templates
from workbench.runtime.engine import Engine, LimitedChatFormatter
from workbench.runtime.generation import what_the_model_sees
from workbench.runtime.params import SamplingParams
from workbench.runtime.templates import (
    ChatTemplateError,
    TemplateCompileError,
    TemplateLimitError,
    compile_chat_template,
)

# Generous against the 1 s limit: the machine running the tests may be slow and shared.
REFUSE_WITHIN_S = 5.0
MiB = 1 << 20
CONVERSATION = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is the capital of France?"},
                {"role": "assistant", "content": "Paris."},
                {"role": "user", "content": "And of Italy?"}]

SMOLLM2 = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
           "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
           "Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
           "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
           "{{ '<|im_start|>assistant\n' }}{% endif %}")
# The features real templates use (Llama 3.x, Qwen, Gemma, Mistral): namespaces, macros,
# loop variables, tojson with indent, filters, string methods, raise_exception, `~`.
KITCHEN_SINK = """\
{%- set ns = namespace(system='', n=0, seen=[]) -%}
{%- macro show(content) -%}
  {%- if content is string -%}{{ content | trim }}
  {%- else -%}{%- for part in content if part.type == 'text' -%}{{ part.text }}{%- endfor -%}
  {%- endif -%}
{%- endmacro -%}
{{ bos_token }}
{%- for m in messages -%}
  {%- if m.role == 'system' -%}{%- set ns.system = ns.system + m.content -%}{%- continue -%}
  {%- endif -%}
  {%- set ns.n = ns.n + 1 -%}{%- set ns.seen = ns.seen + [m.role] -%}
  {%- if m.role not in ['user', 'assistant', 'tool'] -%}
    {{ raise_exception('Unknown role ' ~ m.role) }}
  {%- endif -%}
  [{{ loop.index }}/{{ loop.length }}{{ '*' if loop.last else '' }}] {{ m.role | upper }}:
  {%- if loop.first and ns.system %} ({{ ns.system | replace('brief', 'short') }}){% endif %}
  {{ show(m.content) }}{{ '\\n' }}
  {%- if m.tool_calls is defined -%}{{ m.tool_calls | tojson(indent=2) }}{%- endif -%}
{%- endfor -%}
{{ '%d turns, %s' % (ns.n, ns.seen | join(',')) }} {{ '{}|{:>6}'.format('x', ns.n) }}
{{ 'a b c'.split() | map('upper') | join('-') }} {{ range(3) | list | sum }}
{{ (ns.seen | unique | list | length) ~ ' roles' }} {{ 'abc'.center(9, '.') }}
{%- if add_generation_prompt %}{{ '\\n' + 'ASSISTANT:' * 1 }}{% endif -%}
"""
REAL_TEMPLATES = {
    "smollm2": SMOLLM2,
    "chatml": llama_chat_format.CHATML_CHAT_TEMPLATE,
    "mistral": llama_chat_format.MISTRAL_INSTRUCT_CHAT_TEMPLATE,
    "mixtral": llama_chat_format.MIXTRAL_INSTRUCT_CHAT_TEMPLATE,
    "llama3": llama_chat_format.LLAMA3_INSTRUCT_CHAT_TEMPLATE,
    "kitchen_sink": KITCHEN_SINK,
}

# name -> (template, what the message must say)
HOSTILE = {
    "nested ranges": (("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}"
                       "{% endfor %}"), "took longer than 1 s"),
    "nested ranges writing": (("{% for i in range(99999) %}{% for j in range(99999) %}"
                               "{{ messages }}{% endfor %}{% endfor %}"), "would produce more than"),
    "huge repeat": ("{{ 'x' * 300000000 }}", "repeating a 1-character text 300,000,000 times"),
    "repeat by power": ("{{ 'x' * 10 ** 9 }}", "would produce more than"),
    "huge power": ("{{ 7 ** 1000000000 }}", "raises to a power"),
    "range 10**9": ("{% for i in range(10**9) %}{% endfor %}", "range of 1,000,000,000 numbers"),
    "center filter": ("{{ 'x'|center(10**9) }}", "centring a text in 1,000,000,000"),
    "center method": ("{{ 'x'.center(1000000000) }}", "padding a text to 1,000,000,000"),
    "ljust method": ("{{ 'x'.ljust(10**9, '-') }}", "would produce more than"),
    "zfill method": ("{{ '1'.zfill(10**9) }}", "would produce more than"),
    "indent filter": ("{{ 'a\nb'|indent(10**9) }}", "indenting 2 lines"),
    "join huge range": ("{{ range(10**9)|join }}", "range of 1,000,000,000"),
    "join long separator": ("{{ range(100000)|join('y' * 100000) }}", "joining 100,000 items"),
    "join method": ("{{ ('y' * 100000).join(range(1000)|map('string')) }}", "joining 1,000"),
    "map center": ("{{ range(100000)|map('center', 100000)|join }}", "of text in one render"),
    "deep macro recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
                             "nests calls more than 100 deep"),
    "exponential macros": (("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
                            "{% endmacro %}{{ f(60) }}"), "took longer than 1 s"),
    "recursive loop": ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
                       "nests calls more than 100 deep"),
    "doubling with ~": (("{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                         "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"), "joining texts with ~"),
    "doubling with +": (("{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                         "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}"), "would produce more"),
    "doubling a list": (("{% set ns = namespace(l=['x' * 1000]) %}{% for i in range(64) %}"
                         "{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}"),
                        "would produce more than"),
    "list repeat": ("{{ ([1] * 10**9)|length }}", "repeating a 1-item list"),
    "percent width": ("{{ '%1000000000d' % 1 }}", "formatting with %"),
    "percent star": ("{{ '%*d' % (10**9, 1) }}", "formatting with %"),
    "format width": ("{{ '{:>1000000000}'.format(1) }}", "large widths"),
    "format nested width": ("{{ '{:{}}'.format('x', 10**9) }}", "large widths"),
    "format repeated field": ("{{ ('{0}' * 100000).format('z' * 100000) }}", "large widths"),
    "format filter": ("{{ '%1000000000s'|format('x') }}", "formatting"),
    "replace amplifies": ("{{ ('x' * 100000)|replace('', 'y' * 100000) }}",
                          "replacing 100,001 places"),
    "replace method": ("{{ ('x' * 100000).replace('x', 'y' * 100000) }}", "replacing 100,000"),
    "macro writes a lot": (("{% macro m() %}{% for i in range(100000) %}{{ big }}{% endfor %}"
                            "{% endmacro %}{% set big = 'x' * 100000 %}{{ m() }}"), "writing out"),
    "set block": ("{% set s %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}",
                  "would produce more than"),
    "filter block": (("{% filter upper %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"
                      "{% endfilter %}"), "would produce more than"),
    "printing a big list": ("{{ ['x' * 100000] * 1000 }}", "repeating a 1-item list"),
    "printing a dict": ("{{ dict.fromkeys(range(100000), 'x' * 1000) }}", "would produce more"),
    "tojson indent": ("{{ [[[[1]]]] | tojson(indent=10**8) }}", "indenting JSON by 100,000,000"),
    "tojson of repeats": (("{% set l = ['x' * 100000] * 9 %}{% set ns = namespace(l=l) %}"
                           "{% for i in range(5) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}"
                           "{{ ns.l | tojson }}"), "as JSON"),
    "sum of lists": ("{{ ([[1]] * 50000)|sum(start=[]) }}", "sums 50,000 lists"),
    "to_bytes": ("{{ (1).to_bytes(10**9, 'big') }}", "making 1,000,000,000 bytes"),
    "expandtabs": ("{{ ('\t' * 1000).expandtabs(10**7) }}", "expanding tabs"),
    "batch fill": ("{{ [1]|batch(10**9, 0)|list }}", "padding batches"),
    "slice count": ("{{ [1]|slice(10**9)|list }}", "slices"),
    "wordwrap": ("{{ ('word ' * 100000)|wordwrap(1) }}", "gives wordwrap a 500,002-character"),
    "lipsum": ("{{ lipsum(10**6) }}", "lorem ipsum"),
    "translate": ("{{ ('x' * 100000).translate({120: 'y' * 100000}) }}", "translating"),
    "block recursion": ("{% block a %}{{ self.a() }}{% endblock %}", "nests calls more than"),
    "deep nesting": (("{% set ns = namespace(l=[]) %}{% for i in range(5000) %}"
                      "{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}"), "recursed too deep"),
    "syntax error": ("{% for m in messages %}\n{{ m.content }\n{% endfor %}",
                     "has a syntax error at line 2: unexpected '}'"),
    "unclosed block": ("{% if true %}\nyes", "has a syntax error at line 2"),
    "unknown tag": ("{% frobnicate %}", "has a syntax error at line 1"),
    "too long": ("x" * (templates.MAX_TEMPLATE_CHARS + 1), "characters long"),
    "nested too deep": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "too deep"),
}


def peak_rss() -> int:
    """The most memory this process has held so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@contextlib.contextmanager
def memory_cap(headroom: int = 2 << 30):
    """An address-space limit a little above what the process uses now, so that a guard that
    fails shows as a MemoryError in its test instead of the machine running out of memory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (used + headroom, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def limited(template: str, generation: bool = True) -> LimitedChatFormatter:
    """The engine's formatter for a template, with stand-in tokens."""
    return LimitedChatFormatter(template=template, eos_token="</s>", bos_token="<s>",
                                add_generation_prompt=generation, stop_token_ids=[2])


def plain(template: str, generation: bool = True) -> Jinja2ChatFormatter:
    """The binding's own formatter, as the engine used before: the reference text."""
    return Jinja2ChatFormatter(template=template, eos_token="</s>", bos_token="<s>",
                               add_generation_prompt=generation, stop_token_ids=[2])


# -- pure: the limited renderer ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_template_is_refused_quickly_with_a_clear_message(name):
    source, says = HOSTILE[name]
    gc.collect()  # as below: time the refusal, not a collection of earlier tests' garbage
    before, start = peak_rss(), time.perf_counter()
    with memory_cap(), pytest.raises(ChatTemplateError) as caught:
        compile_chat_template(source).render(messages=CONVERSATION, add_generation_prompt=True)
    assert time.perf_counter() - start < REFUSE_WITHIN_S
    assert says in str(caught.value)
    assert peak_rss() - before < 512 * MiB  # refused before it allocated


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_formatter_keeps_refusing_at_once(name):
    with memory_cap():
        formatter = limited(HOSTILE[name][0])
        for _ in range(2):
            with pytest.raises(ChatTemplateError):
                formatter(messages=CONVERSATION)
        gc.collect()  # earlier tests' garbage is not this measurement's (a full collection of a
        start = time.perf_counter()  # long test process's heap took 0.5 s once; 20 refusals, 2 ms)
        for _ in range(20):  # a window renders on every keystroke
            with pytest.raises(ChatTemplateError):
                formatter(messages=CONVERSATION)
    assert time.perf_counter() - start < 0.5


def test_compile_problems_are_known_before_any_render():
    assert isinstance(limited(HOSTILE["syntax error"][0]).problem, TemplateCompileError)
    assert limited(HOSTILE["nested ranges"][0]).problem is None  # found when it renders


def test_a_template_cannot_change_the_messages_it_renders():
    messages = [dict(m) for m in CONVERSATION]
    for source in ("{{ messages|indent }}", "{{ messages.append(1) }}", "{{ messages.pop() }}",
                   "{% set m = messages[0] %}{{ m.update(role='x') }}", "{{ messages|sort }}"):
        with contextlib.suppress(Exception):
            limited(source)(messages=messages)
    assert messages == CONVERSATION


def test_runtime_limits_name_the_line():
    source = "line one\n{% for m in messages %}{{ m.content }}{% endfor %}\n{{ 'x' * 10**9 }}"
    with pytest.raises(TemplateLimitError, match="at line 3"):
        compile_chat_template(source).render(messages=CONVERSATION)


@pytest.mark.parametrize("name", list(REAL_TEMPLATES))
def test_real_templates_render_exactly_as_the_binding(name):
    template = REAL_TEMPLATES[name]
    ours, theirs = limited(template), plain(template)
    for n in range(1, len(CONVERSATION) + 1):
        conv = CONVERSATION[:n] if name != "mistral" else [m for m in CONVERSATION[:n]
                                                           if m["role"] != "system"]
        try:
            expected = theirs(messages=conv).prompt
        except Exception as e:  # noqa: BLE001 - the template refuses this shape: so must ours
            with pytest.raises(type(e)):
                ours(messages=conv)
            continue
        assert ours(messages=conv).prompt == expected


messages_strategy = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool"]),
                           "content": st.text(max_size=200)}), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(REAL_TEMPLATES)), messages=messages_strategy,
       generation=st.booleans())
def test_property_real_templates_match_the_binding_on_any_conversation(name, messages,
                                                                        generation):
    ours, theirs = _formatters(name, generation)
    try:
        expected = theirs(messages=messages).prompt
    except Exception as e:  # noqa: BLE001 - e.g. raise_exception() on a role it refuses
        with pytest.raises(type(e)):
            ours(messages=messages)
        return
    assert ours(messages=messages).prompt == expected


_FORMATTERS: dict = {}


def _formatters(name: str, generation: bool):
    key = name, generation
    if key not in _FORMATTERS:
        _FORMATTERS[key] = (limited(REAL_TEMPLATES[name], generation),
                            plain(REAL_TEMPLATES[name], generation))
    return _FORMATTERS[key]


def test_tojson_matches_the_binding():
    values = [{"b": [1, 2.5, None, True], "a": "é\n\"\\\x01", "c": {"d": []}}, "text", 3,
              [{"name": "f", "parameters": {"type": "object", "properties": {}}}]]
    for v in values:
        for kwargs in ({}, {"indent": 2}, {"indent": "\t", "sort_keys": True},
                       {"separators": (",", ":")}, {"ensure_ascii": True}):
            assert templates.tojson(v, **kwargs) == Jinja2ChatFormatter.tojson(v, **kwargs)


def test_a_normal_template_handles_a_long_conversation():
    conv = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " * 50}
            for i in range(2000)]
    start = time.perf_counter()
    text = limited(SMOLLM2)(messages=conv).prompt
    assert time.perf_counter() - start < REFUSE_WITHIN_S
    assert text == plain(SMOLLM2)(messages=conv).prompt
    # A single huge message is not a hostile template: the size limit grows with the input.
    big = [{"role": "user", "content": "word " * 1_000_000}]
    assert limited(KITCHEN_SINK)(messages=big).prompt == plain(KITCHEN_SINK)(messages=big).prompt


def test_the_time_limit_stops_a_template_that_loops_over_the_messages_without_end():
    source = ("{% for a in messages %}{% for b in messages %}{% for c in messages %}"
              "{% for d in messages %}{% for e in messages %}{% for f in messages %}"
              "{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}")
    conv = CONVERSATION * 25  # 100 messages: 10^12 steps
    start = time.perf_counter()
    with pytest.raises(TemplateLimitError, match="took longer than 1 s"):
        limited(source)(messages=conv)
    assert time.perf_counter() - start < REFUSE_WITHIN_S


# Fragments a hostile template is made of; hypothesis combines them at random.
_NUMBERS = st.sampled_from(["0", "3", "1000", "99999", "100000", "10**6", "10**9", "-1"])
_ATOMS = st.one_of(st.sampled_from(["'x'", "'ab\\n'", "messages", "[1, 'y']", "range(50)",
                                    "ns.s", "messages[0].content", "''"]), _NUMBERS)


def _expressions():
    def grow(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["*", "+", "~", "**", "%"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(
                ["center({n})", "indent({n})", "join", "join({e})", "replace('', {e})",
                 "list", "tojson", "string", "batch({n}, 'p')|list", "sum(start=[])",
                 "format({e})", "map('center', {n})|join", "wordwrap(1)", "slice({n})|list",
                 "truncate({n})", "reverse|join", "unique|list", "sort|join"]),
                      _NUMBERS, inner).map(
                lambda t: f"({t[0]}|{t[1].format(n=t[2], e=t[3])})"),
            st.tuples(inner, st.sampled_from(
                [".center({n})", ".ljust({n})", ".zfill({n})", ".replace('', {e})",
                 ".join({e})", ".format({e})", ".split()", ".expandtabs({n})",
                 ".upper()"]), _NUMBERS, inner).map(
                lambda t: f"({t[0]}{t[1].format(n=t[2], e=t[3])})"),
        )
    return st.recursive(_ATOMS, grow, max_leaves=6)


def _statements():
    expr = _expressions()

    def grow(inner):
        return st.one_of(
            st.tuples(st.sampled_from(["range({n})", "messages", "'abc'"]), _NUMBERS,
                      st.lists(inner, min_size=1, max_size=2)).map(
                lambda t: "{% for i in " + t[0].format(n=t[1]) + " %}" + "".join(t[2])
                + "{% endfor %}"),
            expr.map(lambda e: "{% set ns.s = " + e + " %}"),
            st.lists(inner, min_size=1, max_size=2).map(
                lambda b: "{% macro m(k) %}" + "".join(b) + "{{ m(k) if k else '' }}"
                "{% endmacro %}{{ m(1) }}"),
        )
    return st.recursive(expr.map(lambda e: "{{ " + e + " }}"), grow, max_leaves=5)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(body=_statements())
def test_property_no_generated_template_hangs_explodes_or_escapes(body):
    source = "{% set ns = namespace(s='q') %}" + body
    before, start = peak_rss(), time.perf_counter()
    with pytest.MonkeyPatch.context() as mp, memory_cap():
        mp.setattr(templates, "TIME_LIMIT_S", 0.25)  # many examples hit it: keep them short
        formatter = limited(source)
        try:
            text = formatter(messages=CONVERSATION).prompt
        except ChatTemplateError:
            pass  # refused: the point
        except MemoryError:
            pytest.fail(f"this template got past the limits and ran out of memory: {source}")
        except Exception:  # noqa: BLE001, S110 - TypeError and the like: the engine reports them
            pass
        else:
            assert len(text) <= templates.BASE_MAX_CHARS + 4 * templates.size_of(CONVERSATION)
    assert time.perf_counter() - start < REFUSE_WITHIN_S
    assert peak_rss() - before < 512 * MiB


# -- model: real GGUFs carrying hostile templates ---------------------------------------------

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def _skip_value(buf: bytes, pos: int, vtype: int) -> int:
    if vtype in _SCALAR_SIZES:
        return pos + _SCALAR_SIZES[vtype]
    if vtype == _STRING:
        (n,) = struct.unpack_from("<Q", buf, pos)
        return pos + 8 + n
    assert vtype == _ARRAY, f"unknown GGUF value type {vtype}"
    item_type, count = struct.unpack_from("<IQ", buf, pos)
    pos += 12
    if item_type in _SCALAR_SIZES:
        return pos + _SCALAR_SIZES[item_type] * count
    for _ in range(count):
        pos = _skip_value(buf, pos, item_type)
    return pos


def _gguf_string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def rewrite_gguf(src, dst, chat_template: str | None = None, drop_tensors: bool = False) -> None:
    """Copy a GGUF, replacing its tokenizer.chat_template (or emptying its tensor table).

    Tensor offsets are relative to the start of the data section, so only the header is
    rebuilt: the key/value table with the one string replaced, the tensor table as it was,
    padding to the file's alignment, then the tensor data unchanged.
    """
    buf = Path(src).read_bytes()
    assert buf[:4] == b"GGUF"
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
    pos, kvs, alignment, found = 24, [], 32, False
    for _ in range(n_kv):
        start = pos
        (n,) = struct.unpack_from("<Q", buf, pos)
        key = buf[pos + 8:pos + 8 + n].decode()
        (vtype,) = struct.unpack_from("<I", buf, pos + 8 + n)
        value_at = pos + 12 + n
        pos = _skip_value(buf, value_at, vtype)
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", buf, value_at)
        if key == "tokenizer.chat_template" and chat_template is not None:
            kvs.append(_gguf_string(key) + struct.pack("<I", _STRING) + _gguf_string(chat_template))
            found = True
        else:
            kvs.append(buf[start:pos])
    if chat_template is not None and not found:
        kvs.append(_gguf_string("tokenizer.chat_template") + struct.pack("<I", _STRING)
                   + _gguf_string(chat_template))
    tensors_at = pos
    for _ in range(n_tensors):
        (n,) = struct.unpack_from("<Q", buf, pos)
        (n_dims,) = struct.unpack_from("<I", buf, pos + 8 + n)
        pos += 8 + n + 4 + 8 * n_dims + 4 + 8
    tensor_table, data_start = buf[tensors_at:pos], -(-pos // alignment) * alignment
    if drop_tensors:
        n_tensors, tensor_table, data = 0, b"", b""
    else:
        data = memoryview(buf)[data_start:]
    header = b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(kvs)) + b"".join(kvs) + tensor_table
    with open(dst, "wb") as f:
        f.write(header + b"\0" * (-len(header) % alignment))
        f.write(data)


@pytest.fixture(scope="module")
def gguf_with(chat_model_path, tmp_path_factory):
    """Builds (once each) a copy of the default chat model with the given chat template."""
    made = {}

    def build(template: str | None = None, drop_tensors: bool = False):
        key = (template, drop_tensors)
        if key not in made:
            made[key] = tmp_path_factory.mktemp("gguf") / "model.gguf"
            rewrite_gguf(chat_model_path, made[key], template, drop_tensors)
        return made[key]
    return build


@pytest.fixture(scope="module")
def engine():
    e = Engine()
    yield e
    e.unload()


def test_the_rewritten_gguf_uses_the_new_template(gguf_with, engine):
    engine.load(gguf_with("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"))
    assert engine.render_chat(CONVERSATION[:2]) == ("<system>Be brief.<user>What is the capital "
                                                   "of France?")
    assert engine.load_result.notice == ""


@pytest.mark.parametrize("name", ["nested ranges", "huge repeat", "exponential macros",
                                  "doubling with +", "map center"])
def test_a_hostile_gguf_loads_refuses_chat_and_stays_usable(gguf_with, engine, name):
    source, says = HOSTILE[name]
    before = peak_rss()
    result = engine.load(gguf_with(source))  # must not raise, hang or allocate
    assert "cannot be used for chat" in result.notice and "raw or URIAL" in result.notice
    assert says in result.notice and engine.info.name in result.notice
    start = time.perf_counter()
    with pytest.raises(WorkbenchError, match="cannot be used for chat") as caught:
        engine.render_chat(CONVERSATION)
    assert time.perf_counter() - start < REFUSE_WITHIN_S
    assert says in str(caught.value) and engine.info.name in str(caught.value)
    with pytest.raises(WorkbenchError):  # the window's view of the prompt: a message, not a hang
        what_the_model_sees(engine, "chat", CONVERSATION)
    with pytest.raises(WorkbenchError, match="cannot be used for chat"):  # the binding's own path
        engine._llm.create_chat_completion(messages=CONVERSATION, max_tokens=1)
    assert time.perf_counter() - start < REFUSE_WITHIN_S
    # Raw mode still works on the same engine.
    text, n = what_the_model_sees(engine, "raw", CONVERSATION)
    assert "And of Italy?" in text and n > 0
    pieces = list(engine.stream_completion("The capital of France is",
                                           SamplingParams(temperature=0, max_tokens=2)))
    assert "".join(p for p in pieces if isinstance(p, str)).strip()
    assert peak_rss() - before < 512 * MiB


def test_a_template_with_a_syntax_error_loads_and_says_where(gguf_with, engine):
    result = engine.load(gguf_with(HOSTILE["syntax error"][0]))
    assert "has a syntax error at line 2: unexpected '}'" in result.notice
    assert "raw or URIAL" in result.notice
    with pytest.raises(WorkbenchError, match="syntax error at line 2"):
        engine.render_chat(CONVERSATION)
    assert engine.count_tokens("still counts tokens") > 0


def test_a_gguf_without_tensors_is_refused_as_having_no_weights(gguf_with):
    with pytest.raises(ModelFileError, match="no weights") as caught:
        Engine().load(gguf_with(drop_tensors=True))
    assert "memory" not in str(caught.value)


def test_the_default_model_renders_exactly_as_the_bindings_formatter(chat_engine):
    info, llm = chat_engine.info, chat_engine._llm
    before = Jinja2ChatFormatter(template=info.chat_template,
                                 eos_token=llm._model.token_get_text(llm.token_eos()),
                                 bos_token=llm._model.token_get_text(llm.token_bos()),
                                 stop_token_ids=[llm.token_eos()])
    assert chat_engine.chat_problem is None
    for n in range(1, len(CONVERSATION) + 1):
        for conv in (CONVERSATION[:n], CONVERSATION[1:n + 1]):
            assert chat_engine.render_chat(conv) == before(messages=conv).prompt
