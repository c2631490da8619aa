"""Markdown -> HTML for model output: highlighted code, raw HTML shown as text, bounded time for any text.

Python-Markdown is super-linear on some text a model can write (runs of brackets, `[a](` repeated,
thousands of lines in one paragraph, deep nesting), and one slow call would freeze the window. So:
text is cut into blocks of bounded size (linear, regex-driven), each block is defused of the
constructs known to be slow, and each is converted under a deadline; a block not done in time is
shown as plain text instead. Results are cached per block, so re-rendering a growing or unchanged
message only converts what is new. Cutting into blocks, text as typed and the code behind copy
links are in chat.markdown_blocks (imported with this module's names), which needs neither library:
the window imports this module only once it is on screen.
"""

import html
import io
import re
import time
from collections import OrderedDict

import markdown
from markdown.treeprocessors import Treeprocessor
from pygments.formatters.html import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from workbench.chat.markdown_blocks import (  # noqa: F401 - callers find these here too
    _REF,
    BLOCK_DEADLINE_S,
    CACHE_ENTRIES,
    CODE_STYLE,
    WORD_PIECE,
    ZWSP,
    Block,
    breakable,
    code_blocks,
    code_for,
    full_code,
    iter_blocks,
    keep_copy,
    plain_html,
    references,
    split_blocks,
)

BUDGET_S = 0.07  # render_markdown(): Markdown until then, plain text for the rest
MAX_INDENT = 24  # leading columns kept: deeper nesting adds nothing readable
MAX_QUOTE_DEPTH = 8
MAX_NESTING = 3  # brackets and parentheses nested deeper are escaped (they show as typed)
DEFUSE_MIN = 8  # fewer suspicious brackets than this cost little: the block is left exactly as typed
DEFUSE_MAX = 64  # more: each escape costs Python-Markdown a match, so the block is shown as typed

_EXTENSIONS = ["fenced_code", "codehilite", "tables", "sane_lists", "nl2br"]


class _Formatter(HtmlFormatter):
    """Pygments' HTML formatter, with its inline style table built once per style, not per block
    (building it is most of the cost of a short code block)."""

    _tables: dict = {}

    def _create_stylesheet(self):
        key = (self.style, self.classprefix)
        if key not in self._tables:
            super()._create_stylesheet()
            self._tables[key] = (self.ttype2class, self.class2style)
        t2c, c2s = self._tables[key]
        self.ttype2class, self.class2style = dict(t2c), dict(c2s)


# Inline styles, not classes: Qt's rich-text engine supports little CSS.
_CONFIG = {"codehilite": {"noclasses": True, "guess_lang": False, "pygments_style": "friendly",
                          "pygments_formatter": _Formatter}}


class _TooSlow(Exception):
    """The block's deadline passed."""


class _Finish(Treeprocessor):
    """Puts break opportunities into long unbroken runs of text (not in code blocks, not in
    attributes: links keep working), and drops link targets other than web and mail ones (a
    javascript: or the window's own wb: link in model output must not act when clicked)."""

    SAFE_LINK = re.compile(r"(?:https?|mailto):|[^:]*(?:[/?#]|$)", re.IGNORECASE)  # or no scheme at all

    def run(self, root):
        stack = [root]
        while stack:
            elem = stack.pop()
            if elem.tag == "pre":
                continue
            if elem.tag == "a" and not self.SAFE_LINK.match(elem.get("href", "")):
                del elem.attrib["href"]
            if elem.text:
                elem.text = breakable(elem.text)
            for child in elem:
                if child.tail:
                    child.tail = breakable(child.tail)
                stack.append(child)


def _converter() -> markdown.Markdown:
    md = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=_CONFIG)
    # Without these, <script>, <img src=...> or <style> in model output would be
    # passed through as markup; deregistered, they are escaped and shown as text.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_Finish(md), "finish", -1)  # after unescaping
    # Python-Markdown's slow cases are many calls of these, each O(block): checking the clock
    # at each call bounds a block's time to its deadline plus one call.
    for pattern in md.inlinePatterns:
        pattern.handleMatch = _guarded(pattern.handleMatch)
    for processor in md.parser.blockprocessors:
        processor.test = _guarded(processor.test)
        processor.run = _guarded(processor.run)
    return md


_deadline = [float("inf")]


def _guarded(method):
    def guarded(*args):
        if time.perf_counter() > _deadline[0]:
            raise _TooSlow
        return method(*args)
    return guarded


_MD = _converter()
_CACHE: OrderedDict = OrderedDict()
_STRUCK: OrderedDict = OrderedDict()  # blocks that ran out of time once


# -- defusing and converting one block ---------------------------------------------------------

_INDENT = re.compile(r"^([ ]{%d})[ ]+" % MAX_INDENT, re.MULTILINE)
_QUOTES = re.compile(r"^((?:[ ]{0,3}>[ ]?){%d})(?:[ ]{0,3}>[ ]?)+" % MAX_QUOTE_DEPTH, re.MULTILINE)
_TOKENS = re.compile(r"\\[\\`*_{}\[\]()>#+\-.!|]|`+|[\[\]()]")


def defuse(source: str) -> str | None:
    """source with the constructs that make Python-Markdown super-linear made harmless, or None
    when the block is better shown as typed.

    Deep indentation and quoting are capped; brackets and parentheses that are unmatched or
    nested deeper than MAX_NESTING, outside code spans, are backslash-escaped, which shows them
    exactly as typed (only done when there are at least DEFUSE_MIN of them; beyond DEFUSE_MAX
    the escapes themselves would be slow).
    """
    source = source.expandtabs(4)
    source = _INDENT.sub(r"\1", source)
    source = _QUOTES.sub(r"\1", source)
    escape = _suspicious(source)
    if len(escape) < DEFUSE_MIN:
        return source
    if len(escape) > DEFUSE_MAX:
        return None
    out, last = [], 0
    for i in escape:
        out.append(source[last:i])
        out.append("\\")
        last = i
    out.append(source[last:])
    return "".join(out)


def _suspicious(source: str) -> list[int]:
    """Offsets of the brackets and parentheses to escape, in order."""
    tokens = [(m.start(), m.group(0)) for m in _TOKENS.finditer(source)]
    # Code spans first: a run of n backticks up to the next run of exactly n.
    runs = [i for i, (_, t) in enumerate(tokens) if t[0] == "`"]
    closing, seen = {}, {}
    for i in reversed(runs):
        closing[i] = seen.get(len(tokens[i][1]))
        seen[len(tokens[i][1])] = i
    escape, stacks = [], {"[": [], "(": []}
    pairs = {"]": "[", ")": "("}
    i = 0
    while i < len(tokens):
        pos, t = tokens[i]
        if t[0] == "`":
            if closing.get(i) is not None:
                i = closing[i]  # skip the span
        elif t in stacks:
            stack = stacks[t]
            if len(stack) >= MAX_NESTING:
                stack.append(-1 - pos)  # too deep: escaped, and so is its partner
                escape.append(pos)
            else:
                stack.append(pos)
        elif t in pairs:
            stack = stacks[pairs[t]]
            if not stack or stack.pop() < 0:
                escape.append(pos)
        i += 1
    for stack in stacks.values():
        escape.extend(p for p in stack if p >= 0)  # never closed
    return sorted(escape)


_REF_TABLES: dict[str, dict] = {}


def _reference_table(refs: str) -> dict:
    table = _REF_TABLES.get(refs)
    if table is None:
        table = {}
        for m in _REF.finditer(refs):
            table[m.group(1).strip().lower()] = (m.group(2), m.group(3) or m.group(4) or m.group(5))
        _REF_TABLES.clear()  # one text at a time needs them
        _REF_TABLES[refs] = table
    return table


def block_html(block: Block, refs: str = "", time_left: float = BLOCK_DEADLINE_S,
               remember: bool = True) -> tuple[str, bool | None]:
    """HTML for one block, safe for untrusted text, and how it came out: True, as Markdown;
    False, shown as typed for good (it cannot be converted within BLOCK_DEADLINE_S); None, shown
    as typed for now (it had less time than that, or ran out once: worth another try).

    remember=False leaves the cache alone (for the growing last block of a streaming text).
    """
    global _MD
    key = (block.source, refs)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        if block.code is not None and not block.cut:
            copy_link(block.code)  # its copy link must still find the code
        return hit
    if not block.markdown:
        return _remember(key, (plain_html(block.raw), False)) if remember else (plain_html(block.raw), False)
    allowed = min(time_left, BLOCK_DEADLINE_S)
    if allowed <= 0:
        return _plain_block(block), None
    if block.code is None:
        convert = _markdown_html
    else:
        convert = _code_html
        _lexer(block)  # a one-off import of a lexer module is not the block's slowness
    _deadline[0] = time.perf_counter() + allowed
    try:
        result = convert(block, refs)
    except Exception:  # noqa: BLE001 - too slow, too deep, or a renderer bug on odd text: shown as typed
        if block.code is None:
            # A conversion cut short leaves the parser's state half set: start from a fresh one.
            _MD = _converter()
        result = (_plain_block(block), False)
        # Given less than a full allowance, or slow just once (a busy machine), it may well fit
        # next time: only a second full failure is final.
        if not remember:
            return result[0], None
        if allowed < BLOCK_DEADLINE_S or key not in _STRUCK:
            if allowed >= BLOCK_DEADLINE_S:
                _STRUCK[key] = True
                if len(_STRUCK) > CACHE_ENTRIES:
                    _STRUCK.popitem(last=False)
            return result[0], None
    finally:
        _deadline[0] = float("inf")
    return _remember(key, result) if remember else result


def _with_copy(code_html: str, block: Block) -> str:
    """A piece of code with a copy link above it (the first piece only: later pieces of a cut
    block continue the same box)."""
    if block.cut or block.code is None or not block.code.strip():
        return code_html
    return copy_link(block.code) + code_html


def copy_link(code: str) -> str:
    """A small "Copy code" link for a code block; SafeBrowser copies what code_for(key) gives."""
    key = keep_copy(code)
    return (f'<p style="margin:0;text-align:right"><a href="wb:copy-code/{key}" '
            f'style="color:{_STYLE["link"]};text-decoration:none;font-size:small">Copy code</a></p>')


def set_code_style(style: str, link: str) -> None:
    """Highlight code with another pygments style (dark mode), links in another colour."""
    global _CODE_FORMATTER
    if (_STYLE["code"], _STYLE["link"]) == (style, link):
        return
    _STYLE.update(code=style, link=link)
    CODE_STYLE.update(_STYLE)
    _CODE_FORMATTER = _Formatter(noclasses=True, style=style, cssclass="codehilite", wrapcode=True)
    _CONFIG["codehilite"]["pygments_style"] = style
    global _MD
    _MD = _converter()
    _CACHE.clear()  # cached HTML carries the old colours


def _markdown_html(block: Block, refs: str) -> tuple[str, bool]:
    source = defuse(block.source)
    if source is None:
        return plain_html(block.raw), False
    _MD.reset()
    if refs:
        _MD.references.update(_reference_table(refs))
    return _MD.convert(source), True


_STYLE = {"code": "friendly", "link": "#5F6B7A"}
_CODE_FORMATTER = _Formatter(noclasses=True, style="friendly", cssclass="codehilite", wrapcode=True)
_LEXER_CACHE: dict[str, object] = {}


def _lexer(block: Block):
    """The pygments lexer for a code block's language (plain text when unknown), kept once made."""
    info = block.source.split("\n", 1)[0].lstrip("`~").strip().lstrip(".{").rstrip("}").split()
    lang = info[0].lower() if info else "text"
    lexer = _LEXER_CACHE.get(lang)
    if lexer is None:
        try:
            lexer = get_lexer_by_name(lang)
        except ClassNotFound:
            lexer = get_lexer_by_name("text")
        _LEXER_CACHE[lang] = lexer
    return lexer


def _code_html(block: Block, refs: str) -> tuple[str, bool]:
    """A piece of fenced code, highlighted as Python-Markdown's codehilite does it, under the
    deadline (pygments is fed a token stream that checks the clock)."""
    code = block.code.strip("\n") + "\n"
    tokens = _timed(_lexer(block).get_tokens(code))
    out = io.StringIO()
    _CODE_FORMATTER.format(tokens, out)
    return _with_copy(_join_pieces(out.getvalue(), block), block), True


def _timed(tokens):
    for i, token in enumerate(tokens):
        if not i & 63 and time.perf_counter() > _deadline[0]:
            raise _TooSlow
        yield token


def _join_pieces(code_html: str, block: Block) -> str:
    """Pieces of one cut code block drawn as one: no margin and no last empty line between them."""
    if block.cut:
        code_html = code_html.replace('<pre style="', '<pre style="margin-top: 0; ', 1)
    if block.carry:
        code_html = code_html.replace('<pre style="', '<pre style="margin-bottom: 0; ', 1)
        code_html = code_html.replace("\n</code></pre>", "</code></pre>", 1)
    return code_html


def _plain_block(block: Block) -> str:
    if block.code is None:
        return plain_html(block.raw)
    code = html.escape(block.code)
    return _with_copy(_join_pieces(f'<pre style="line-height: 125%;"><code>{code}</code></pre>', block),
                      block)


def _remember(key, result):
    _CACHE[key] = result
    if len(_CACHE) > CACHE_ENTRIES:
        _CACHE.popitem(last=False)
    return result


def clear_cache() -> None:
    """Forget converted blocks (for measuring cold conversions)."""
    _CACHE.clear()
    _STRUCK.clear()


def render_markdown(text: str, budget_s: float = BUDGET_S) -> str:
    """HTML for a message. Safe for untrusted text: any tag in it comes out escaped.

    Takes about budget_s at most for any text: blocks not converted by then are shown as typed
    (a later call, finding the earlier blocks cached, gets further).
    """
    deadline = time.perf_counter() + budget_s
    refs = references(text)
    parts, done = [], 0
    for block in iter_blocks(text):
        left = deadline - time.perf_counter()
        if left <= 0:  # the rest is not even cut into blocks: that takes time too
            parts.append(plain_html(text[done:]))
            break
        parts.append(block_html(block, refs, left)[0])
        done = block.end
    return "".join(parts)


def render_plain(text: str) -> str:
    """HTML showing text exactly as written (for raw prompts)."""
    return f"<pre>{html.escape(text)}</pre>"


set_code_style(CODE_STYLE["code"], CODE_STYLE["link"])  # the colours chosen before loading
# The first conversion imports what Python-Markdown and pygments load lazily; done here, it is
# not charged to (and does not time out) the first real message.
render_markdown("**a** [b](c) `d`\n\n- e\n\n| f | g |\n|---|---|\n| 1 | 2 |\n\n```python\nh = 1\n```\n", 1.0)
