"""Markdown rendering of hostile model output: bounded time on any 100 KB text, safe HTML, nothing lost.

The time limit the issue sets is 100 ms for a 100 KB text; the asserts allow 1 s so they hold on a
slow shared machine, and every test prints the real figure (run with -s to see them).
"""

import html
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.chat import markdown
from workbench.chat.markdown import ZWSP, clear_cache, render_markdown, split_blocks

SIZE = 100_000
LIMIT_S = 1.0  # 10x the 100 ms the issue asks for: a margin for a loaded 2-core machine


def _fill(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


def _nested_list() -> str:
    """A list nested one level deeper on every line, as deep as 100 KB allows."""
    lines, size, depth = [], 0, 0
    while size < SIZE:
        line = "    " * depth + f"- item {depth}\n"
        lines.append(line)
        size += len(line)
        depth += 1
    return "".join(lines)[:SIZE]


def _unique(unit: str) -> str:
    """unit repeated with a counter in it, so no two blocks are alike (no cache hits within a text)."""
    out, i, size = [], 0, 0
    while size < SIZE:
        piece = unit.replace("N", str(i))
        out.append(piece)
        size += len(piece)
        i += 1
    return "".join(out)[:SIZE]


# Each 100 KB: the ones the issue found, then our own.
PATHOLOGICAL = {
    "brackets": "[" * SIZE,
    "link_parens": _fill("[a]("),
    "short_lines": _fill("x\n"),
    "nested_list": _nested_list(),
    "nested_markers": _fill("- "),
    "nested_ordered": _fill("1. "),
    "nested_quotes": _fill("> "),
    "deep_brackets": "[" * (SIZE // 2) + "]" * (SIZE // 2),
    "images": _fill("!["),
    "stars": _unique("***aN "),
    "underscores": _unique("__aN_"),
    "backticks": _unique("``aN`"),
    "emphasis_unclosed": _unique("*a **bN "),
    "headings": _unique("# hN\n"),
    "long_word": "a" * SIZE,
    "escapes": _fill("\\"),
    "entities": _fill("&amp;"),
    "tags": _fill("<script>alert(1)</script><img src=x onerror=alert(1)>"),
    "fence_flood": _fill("```\n"),
    "unclosed_fence": "```python\n" + _fill("[a]("),
    "code_brackets": "```\n" + _fill("x = [(\n") + "```\n",
    "wide_table": _fill("|a" * 2000 + "|\n" + "|-" * 2000 + "|\n" + "|1" * 2000 + "|\n\n"),
    "long_table": "| a | b |\n|---|---|\n" + _unique("| N | [x](y |\n"),
    "reference_links": _unique("[aN][rN] [rN]: http://x/N\n"),
    "blank_runs": _fill("a\n\n\n\n"),
    "tabs": _fill("\t- a\n"),
}

WORDS = ("the model answer list table code python error value number time river city light keeper storm "
         "island harbour window engine prompt token reply system user assistant data file line").split()


def normal_document(size: int = SIZE, seed: int = 7) -> str:
    """Varied, ordinary Markdown (paragraphs, lists, code, tables, headings), no two blocks alike."""
    rnd = random.Random(seed)

    def sentence():
        ws = [rnd.choice(WORDS) for _ in range(rnd.randint(6, 16))]
        i = rnd.randrange(len(ws))
        ws[i] = rnd.choice([f"**{ws[i]}**", f"*{ws[i]}*", f"`{ws[i]}()`",
                            f"[{ws[i]}](https://example.com/{ws[i]}/{rnd.randint(1, 999)})"])
        return " ".join(ws).capitalize() + "."

    parts, n = [], 0
    while n < size:
        k = rnd.random()
        if k < 0.1:
            p = "#" * rnd.randint(1, 3) + " " + " ".join(rnd.choice(WORDS) for _ in range(4))
        elif k < 0.5:
            p = " ".join(sentence() for _ in range(rnd.randint(2, 6)))
        elif k < 0.65:
            p = "\n".join(f"- {sentence()}" for _ in range(rnd.randint(2, 6)))
        elif k < 0.75:
            p = "\n".join(f"{i}. {sentence()}" for i in range(1, rnd.randint(3, 7)))
        elif k < 0.88:
            p = "```python\n" + "\n".join(
                f"def {rnd.choice(WORDS)}_{i}(x):\n    return x * {rnd.randint(2, 99)}  # {rnd.choice(WORDS)}"
                for i in range(rnd.randint(2, 8))) + "\n```"
        else:
            p = "| name | value | note |\n|---|---:|---|\n" + "\n".join(
                f"| {rnd.choice(WORDS)} | {rnd.randint(1, 9999)} | {rnd.choice(WORDS)} |"
                for _ in range(rnd.randint(2, 8)))
        parts.append(p)
        n += len(p) + 2
    return "\n\n".join(parts)[:size]


ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "span", "div", "a", "ul", "ol", "li", "h1", "h2",
                "h3", "h4", "h5", "h6", "blockquote", "hr", "table", "thead", "tbody", "tr", "th", "td",
                "img"}
TAG = re.compile(r"<\s*/?\s*([A-Za-z][\w:-]*)([^>]*)>")


def assert_safe(out: str) -> None:
    """Every tag in out is one Markdown makes, with no event handler or script URL: so no tag
    from the input came out unescaped."""
    for m in TAG.finditer(out):
        assert m.group(1).lower() in ALLOWED_TAGS, m.group(0)[:80]
        attrs = m.group(2).lower()
        assert not re.search(r"\bon\w+\s*=", attrs), m.group(0)[:80]
        assert "javascript:" not in attrs, m.group(0)[:80]


COPY_LINK = re.compile(r'<p style="margin:0;text-align:right"><a href="wb:copy-code/[0-9a-f]+"[^>]*>Copy code</a></p>')


def visible(out: str) -> str:
    """The text a reader sees in out of the message itself (tags and code blocks' copy links
    dropped, entities decoded, break hints removed)."""
    return html.unescape(re.sub(r"<[^>]*>", "", COPY_LINK.sub("", out))).replace(ZWSP, "")


def letters(text: str) -> str:
    return re.sub(r"[^A-Za-z]", "", text)  # digits too can be syntax (1. a list)


def timed(text: str) -> tuple[str, float]:
    clear_cache()  # cold: nothing converted before
    start = time.perf_counter()
    out = render_markdown(text)
    return out, time.perf_counter() - start


def test_every_pathological_input_renders_in_time_safely_and_loses_nothing():
    worst = {}
    for name, text in PATHOLOGICAL.items():
        assert len(text) >= SIZE * 0.99, name
        out, seconds = timed(text)
        worst[name] = seconds
        assert seconds < LIMIT_S, f"{name}: {seconds:.2f} s"
        assert_safe(out)
        assert "<script" not in out and "<img src=x" not in out
        # Link targets go into href, so compare only where the input has no link syntax.
        if "](" not in text and "]: " not in text:
            assert letters(visible(out)) == letters(html.unescape(text)), name  # &amp; is &
    for name, seconds in sorted(worst.items(), key=lambda kv: -kv[1]):
        print(f"  {name:18s} {seconds * 1000:7.1f} ms")
    print(f"worst: {max(worst.values()) * 1000:.1f} ms ({max(worst, key=worst.get)})")


def test_a_normal_100kb_document_renders_in_time_with_its_start_as_markdown():
    text = normal_document()
    out, seconds = timed(text)
    print(f"normal 100 KB document: {seconds * 1000:.1f} ms")
    assert seconds < LIMIT_S
    assert_safe(out)
    head = out[:20_000]
    assert "<table>" in head and "<span style=" in head and "<li>" in head and "<strong>" in head
    # What the budget did not reach is there, as typed.
    assert letters(visible(out)).count("def") == letters(text).count("def")


def test_the_rest_of_a_long_text_is_shown_as_typed_when_the_budget_runs_out():
    text = normal_document(20_000)
    clear_cache()
    out = render_markdown(text, budget_s=0)
    assert out.startswith('<p style="white-space:pre-wrap">') and "**" in out  # not converted
    assert visible(out).strip() == text.strip()
    assert "<strong>" in render_markdown(text, budget_s=5)  # with time, it is Markdown


def test_converted_blocks_are_reused():
    text = normal_document(30_000, seed=3)
    clear_cache()
    render_markdown(text, budget_s=10)
    start = time.perf_counter()
    again = render_markdown(text, budget_s=10)
    seconds = time.perf_counter() - start
    print(f"30 KB re-rendered from the cache: {seconds * 1000:.1f} ms")
    assert seconds < 0.1 and "<table>" in again


def test_cut_blocks_keep_their_meaning():
    code = "```python\n" + "".join(f"value_{i} = {i}\n" for i in range(500)) + "```\n"
    table = "```\nx\n```\n\n| n | square |\n|---|---|\n" + "".join(f"| {i} | {i * i} |\n" for i in range(300))
    items = "".join(f"{i}. item\n" for i in range(1, 301))
    for text in (code, table, items):
        assert len(split_blocks(text)) > 1  # big enough to be cut
    out = render_markdown(code, budget_s=10)
    assert out.count("<pre") == len(split_blocks(code)) and "value_499" in out
    assert 'style="color' in out.split("value_499")[0][-400:]  # still highlighted after the cut
    out = render_markdown(table, budget_s=10)
    assert out.count("<table>") == len(split_blocks(table)) - 1 and "<td>299</td>" in out
    assert out.count("<th>square</th>") == out.count("<table>")  # the header is repeated
    out = render_markdown(items, budget_s=10)
    assert out.count("<li>") == 300 and 'start="' in out  # numbering carries on


def test_raw_html_and_long_words_in_every_block_kind():
    evil = "<script>alert(1)</script>"
    text = "\n\n".join([f"para {evil}", f"- item {evil}", f"| a | b |\n|---|---|\n| {evil} | x |",
                        f"> quote {evil}", f"# head {evil}", f"`{evil}`", "y" * 5000,
                        f"[link](javascript:alert(1)) {evil}"])
    out = render_markdown(text, budget_s=10)
    assert_safe(out)
    assert out.count("&lt;script&gt;") == 7
    assert all(len(run) <= markdown.WORD_PIECE for run in re.findall(r"y+", out))


def test_links_only_to_the_web_or_mail():
    out = render_markdown("[a](https://x.org/p) [b](mailto:m@x.org) [c](page.html#s) "
                          "[d](javascript:alert(1)) [e](wb:delete/3) [f](file:///etc/passwd) "
                          "[g](data:text/html,x)", budget_s=10)
    assert re.findall(r'href="([^"]*)"', out) == ["https://x.org/p", "mailto:m@x.org", "page.html#s"]
    assert all(f">{c}<" in out for c in "defg")  # their text stays


def test_unclosed_fence_shows_as_code():
    out = render_markdown("Look:\n\n```python\nprint('still streaming')", budget_s=10)
    assert "<pre" in out and 'style="color' in out


def test_blocks_of_a_growing_text_never_change_once_followed():
    text = normal_document(40_000, seed=11) + "\n\n" + PATHOLOGICAL["long_table"][:5000] + "\n```\n" + \
        PATHOLOGICAL["short_lines"][:3000]
    whole = split_blocks(text)
    assert "".join(b.raw for b in whole) == text
    for cut in range(0, len(text), 997):
        final = split_blocks(text[:cut])[:-1]
        assert [b.raw for b in final] == [b.raw for b in whole[:len(final)]], cut
    # Streaming splits only what follows the last finished block, carrying its state.
    done, carry, raws = 0, "", []
    for cut in range(0, len(text) + 1, 1499):
        blocks = split_blocks(text[done:cut], carry)
        for b in blocks[:-1]:
            raws.append(b.raw)
        if len(blocks) > 1:
            done += blocks[-2].end
            carry = blocks[-2].carry
    raws += [b.raw for b in split_blocks(text[done:], carry)]
    assert raws == [b.raw for b in whole]


PIECES = ["[", "]", "(", ")", "![", "*", "**", "_", "__", "`", "``", "```", "~~~", "\n", "\n\n", "    ",
          "\t", "- ", "1. ", "> ", "# ", "|", "|---|", "---", "<script>", "</div>", "<img src=x onerror=y>",
          "&amp;", "&#", "\\", "!", ":", "a", "word ", "http://x.y/z", "[r]: http://r", "  \n", "x" * 60]


@settings(max_examples=120, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=3000).map("".join))
def test_any_markdownish_text_renders_safely_in_time(text):
    out, seconds = timed(text)
    assert seconds < LIMIT_S
    assert_safe(out)
    assert "".join(b.raw for b in split_blocks(text)) == text


@settings(max_examples=25, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=60).map("".join), st.integers(0, 10**6))
def test_any_100kb_markdownish_text_renders_safely_in_time(unit, seed):
    rnd = random.Random(seed)
    parts, size = [], 0
    while size < SIZE:  # the unit with random words in between, so blocks differ
        piece = unit + rnd.choice(WORDS) + str(rnd.randint(0, 999))
        parts.append(piece)
        size += len(piece)
    text = "".join(parts)[:SIZE]
    out, seconds = timed(text)
    assert seconds < LIMIT_S
    assert_safe(out)


@settings(max_examples=150, deadline=2000)
@given(st.lists(st.sampled_from(PIECES + ["x" * 700, "\n" * 3, "| a | b |\n|---|---|\n"]), max_size=400)
       .map("".join), st.integers(0, 10**6))
def test_streaming_cuts_match_the_whole_text_whatever_it_is(text, seed):
    whole = [b.raw for b in split_blocks(text)]
    rnd = random.Random(seed)
    done, carry, raws = 0, "", []
    for cut in sorted(rnd.sample(range(len(text) + 1), min(12, len(text) + 1))):
        blocks = split_blocks(text[done:cut], carry)
        raws += [b.raw for b in blocks[:-1]]
        if len(blocks) > 1:
            done += blocks[-2].end
            carry = blocks[-2].carry
    raws += [b.raw for b in split_blocks(text[done:], carry)]
    assert raws == whole


def test_the_benchmark_script_runs():
    bench = Path(__file__).resolve().parents[2] / "bench" / "markdown_render.py"
    proc = subprocess.run([sys.executable, str(bench)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "worst render:" in proc.stdout and "ratio" in proc.stdout and "baseline:" in proc.stdout
