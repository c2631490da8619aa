"""Markdown -> HTML for model output: highlighted code, raw HTML shown as text, bounded time for any text.

Python-Markdown is super-linear on some text a model can write (runs of brackets, `[a](` repeated,
thousands of lines in one paragraph, deep nesting), and one slow call would freeze the window. So:
text is cut into blocks of bounded size (linear, regex-driven), each block is defused of the
constructs known to be slow, and each is converted under a deadline; a block not done in time is
shown as plain text instead. Results are cached per block, so re-rendering a growing or unchanged
message only converts what is new.
"""

import hashlib
import html
import io
import re
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import markdown
from markdown.treeprocessors import Treeprocessor
from pygments.formatters.html import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

BUDGET_S = 0.07  # render_markdown(): Markdown until then, plain text for the rest
BLOCK_DEADLINE_S = 0.015  # one block not converted in this time is shown as plain text
MAX_BLOCK_CHARS = 1200  # prose blocks bigger than this are cut at a line (or space)
MAX_BLOCK_LINES = 100
MIN_BLOCK_CHARS = 200  # smaller blocks are joined with the next
MAX_CODE_CHARS = 1200  # pygments takes 5-15 us a character here: pieces are drawn as one block
MAX_CODE_LINES = 60
MAX_TABLE_COLUMNS = 64  # wider "tables" are shown as typed
MAX_INDENT = 24  # leading columns kept: deeper nesting adds nothing readable
MAX_QUOTE_DEPTH = 8
MAX_NESTING = 3  # brackets and parentheses nested deeper are escaped (they show as typed)
DEFUSE_MIN = 8  # fewer suspicious brackets than this cost little: the block is left exactly as typed
DEFUSE_MAX = 64  # more: each escape costs Python-Markdown a match, so the block is shown as typed
LONG_WORD = 48  # Qt lays out a long unbreakable run in quadratic time: such runs get
WORD_PIECE = 32  # a zero-width space every WORD_PIECE characters
CACHE_ENTRIES = 4096

_EXTENSIONS = ["fenced_code", "codehilite", "tables", "sane_lists", "nl2br"]
ZWSP = "\u200b"


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

    RUN = re.compile(r"[^\s\x02\x03%s]{%d,}" % (ZWSP, LONG_WORD))  # \x02..\x03 wrap placeholders
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
                elem.text = self.RUN.sub(_pieces, elem.text)
            for child in elem:
                if child.tail:
                    child.tail = self.RUN.sub(_pieces, child.tail)
                stack.append(child)


def _pieces(m: re.Match) -> str:
    word = m.group(0)
    return ZWSP.join(word[i:i + WORD_PIECE] for i in range(0, len(word), WORD_PIECE))


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


# -- cutting text into blocks ------------------------------------------------------------------

@dataclass(slots=True)
class Block:
    """One independently rendered piece of a text.

    raw: the text it covers (the raws of split_blocks(text) joined are text itself);
    source: the Markdown rendered for it (raw, with a code fence or table header repeated when it
    continues a cut one, and an unclosed fence closed); end: offset just past raw in the text
    split; carry: what the block after it continues ('' when it starts afresh), for splitting
    the rest of a growing text with split_blocks(rest, carry); markdown: False when it is shown
    as typed whatever happens (a "table" too wide to lay out); code: for a piece of fenced code,
    the code; cut: it continues a block cut before it.
    """

    raw: str
    source: str
    end: int
    carry: str = ""
    markdown: bool = True
    code: str | None = None
    cut: bool = False


# An opener counts once its line is complete (so a growing last line cannot make one vanish).
_FENCE = re.compile(r"^(`{3,}|~{3,})[ ]*(?:\{[^\n]*\}|\.?[\w#.+-]*)[ ]*(?=\n)", re.MULTILINE)
_BOUNDARY = re.compile(r"\n(?:[ \t]*\n)+(?=[^ \t\n])")  # blank lines, then a line at column 0
_TABLE_RULE = re.compile(r"[ |:-]*-[ |:-]*")
_NEWLINES = re.compile(r"\n*")
_CLOSERS: dict[str, re.Pattern] = {}


_LINES = {n: re.compile(r"(?:[^\n]*\n){%d}" % n) for n in (MAX_BLOCK_LINES, MAX_CODE_LINES)}


def iter_blocks(text: str, carry: str = "") -> Iterator[Block]:
    """Cut text into blocks rendered one by one, lazily, in time linear in len(text).

    Blocks end at blank lines followed by an unindented line and around fenced code; big ones
    are cut again, tiny ones joined. Prefix-stable: as text grows, every block but the last
    stays the same. carry: the carry of the block before text, when text is the rest of one.
    """
    pos, n = 0, len(text)
    fence = _FENCE.match(carry + "\n") if carry else None
    table = carry if carry and not fence else ""
    if fence:
        pos = yield from _code(text, 0, 0, fence.group(0), fence.group(1), continued=True)
    fences = _FENCE.finditer(text, pos)
    nxt = next(fences, None)
    while pos < n:
        while nxt is not None and nxt.start() < pos:
            nxt = next(fences, None)
        stop = nxt.start() if nxt is not None else n
        if stop > pos:
            yield from _prose(text, pos, stop, table)
            table = ""
        if nxt is None:
            return
        pos = yield from _code(text, stop, nxt.end() + 1, nxt.group(0), nxt.group(1), continued=False)


def split_blocks(text: str, carry: str = "") -> list[Block]:
    """All of iter_blocks(text, carry): the raws of the blocks joined are text itself."""
    return list(iter_blocks(text, carry))


def _code(text: str, start: int, body: int, fence: str, marker: str, continued: bool):
    """Blocks of fenced code from start (its opener line, unless continued) to the closing
    fence; returns the offset after it."""
    closer = _CLOSERS.get(marker)
    if closer is None:
        closer = _CLOSERS[marker] = re.compile(r"^%s[ ]*$" % re.escape(marker), re.MULTILINE)
    n = len(text)
    body = min(body, n)
    m = closer.search(text, body)
    stop = m.start() if m else n  # an unclosed fence runs to the end: shown as code while it streams
    end = min(m.end() + 1, n) if m else n
    s = body
    while True:
        cut = _cut(text, s, stop, MAX_CODE_CHARS, MAX_CODE_LINES)
        last = cut >= stop
        piece_end = end if last else cut
        code = text[s:cut]
        if code and code[-1] != "\n":
            code += "\n"
        yield Block(raw=text[start:piece_end], source=f"{fence}\n{code}{marker}\n", end=piece_end,
                    carry="" if (last and m) else fence, code=code, cut=continued)
        if last:
            return end
        start = s = cut
        continued = True


def _prose(text: str, s: int, e: int, table: str):
    """Blocks of the text between fences."""
    start = s
    for m in _BOUNDARY.finditer(text, s, e):
        # Tiny blocks are joined (each costs a conversion's overhead), but a table starts its
        # own, so that its header can be repeated if it is cut.
        if m.end() - start >= MIN_BLOCK_CHARS or text[m.end()] == "|":
            yield from _paragraphs(text, start, m.end(), table)
            start, table = m.end(), ""
    yield from _paragraphs(text, start, e, table)


def _paragraphs(text: str, bs: int, be: int, table: str):
    header = table
    if not header:
        hs = _NEWLINES.match(text, bs, be).end()  # a block may start with the blank lines before it
        first = text.find("\n", hs, be)
        second = text.find("\n", first + 1, be) if first >= 0 else -1
        rule = text[first + 1:second if second >= 0 else be] if first >= 0 else ""
        if rule and _TABLE_RULE.fullmatch(rule.strip()) and "|" in text[hs:first] + rule:
            header = text[hs:first + 1 + len(rule)]
    # Qt takes seconds to lay out a table thousands of columns wide.
    wide = bool(header) and header.rsplit("\n", 1)[-1].strip().strip("|").count("|") + 1 > MAX_TABLE_COLUMNS
    yield from _capped(text, bs, be, header, table != "", wide)


def _capped(text: str, s: int, e: int, header: str, continued: bool, wide: bool):
    """[s, e) as blocks within the size limits; a table's header is repeated on each piece."""
    while True:
        cut = _cut(text, s, e, MAX_BLOCK_CHARS, MAX_BLOCK_LINES)
        raw = text[s:cut]
        source = f"{header}\n{raw}" if (header and continued) else raw
        yield Block(raw=raw, source=source, end=cut, carry=header if cut < e else "",
                    markdown=not wide, cut=continued)
        if cut >= e:
            return
        s, continued = cut, True


def _cut(text: str, s: int, e: int, max_chars: int, max_lines: int) -> int:
    """Where the piece starting at s ends: e if [s, e) is within the limits, else a line start
    (an unindented one if possible: code and lists split best there), a space, or the limit."""
    limit = min(e, s + max_chars)
    if e == limit and text.count("\n", s, e) < max_lines:  # the usual case, quickly
        return e
    m = _LINES[max_lines].match(text, s, limit)
    if m:
        limit = min(limit, m.end())
    if e <= limit:
        return e
    floor = s + (limit - s) // 2
    j = text.rfind("\n", floor, limit)
    while j >= floor:
        if text[j + 1] not in " \t\n":
            return j + 1
        j = text.rfind("\n", floor, j)
    j = text.rfind("\n", s, limit)
    if j >= s:
        return j + 1
    j = text.rfind(" ", s, limit)
    return j + 1 if j >= s else limit


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


_REF = re.compile(r"^[ ]{0,3}\[([^\[\]\n]+)\]:[ \t]*<?([^\s>]+)>?"
                  r"(?:[ \t]+(?:\"([^\"\n]*)\"|'([^'\n]*)'|\(([^()\n]*)\)))?[ \t]*$", re.MULTILINE)
_REF_TABLES: dict[str, dict] = {}


def references(text: str) -> str:
    """The reference-link definitions in text (`[id]: url`), which every block may use."""
    return "\n".join(m.group(0) for m in _REF.finditer(text))


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
    key = hashlib.sha1(code.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    _COPIES[key] = code
    _COPIES.move_to_end(key)
    if len(_COPIES) > CACHE_ENTRIES:
        _COPIES.popitem(last=False)
    return (f'<p style="margin:0;text-align:right"><a href="wb:copy-code/{key}" '
            f'style="color:{_STYLE["link"]};text-decoration:none;font-size:small">Copy code</a></p>')


def code_for(key: str) -> str | None:
    """The code a copy link stands for (None once forgotten)."""
    return _COPIES.get(key)


_FENCE_BLOCK = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(.*?)(?:^ {0,3}\1[`~]*[ \t]*$|\Z)",
                          re.MULTILINE | re.DOTALL)


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a text, whole (a long block is shown in pieces; copying one
    copies the block it belongs to)."""
    return [m.group(2) for m in _FENCE_BLOCK.finditer(text)]


def full_code(piece: str, texts) -> str:
    """The whole code block among texts that the first piece `piece` starts, else piece."""
    head = piece.strip("\n")
    for text in texts:
        for code in code_blocks(text):
            if code.strip("\n").startswith(head):
                return code
    return piece


def set_code_style(style: str, link: str) -> None:
    """Highlight code with another pygments style (dark mode), links in another colour."""
    global _CODE_FORMATTER
    if (_STYLE["code"], _STYLE["link"]) == (style, link):
        return
    _STYLE.update(code=style, link=link)
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
_COPIES: OrderedDict[str, str] = OrderedDict()  # copy-link key -> the code piece it copies
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


def plain_html(text: str) -> str:
    """HTML showing text as typed, wrapped, in the message's font (a fallback for Markdown)."""
    text = text.strip("\n")
    if not text:
        return ""
    text = _Finish.RUN.sub(_pieces, text)
    return f'<p style="white-space:pre-wrap">{html.escape(text)}</p>'


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


# The first conversion imports what Python-Markdown and pygments load lazily; done here, it is
# not charged to (and does not time out) the first real message.
render_markdown("**a** [b](c) `d`\n\n- e\n\n| f | g |\n|---|---|\n| 1 | 2 |\n\n```python\nh = 1\n```\n", 1.0)
