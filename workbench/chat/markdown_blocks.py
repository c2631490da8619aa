"""Model output cut into blocks, shown as typed, and the code its copy links stand for: the part of
Markdown rendering that needs neither Python-Markdown nor pygments.

The window imports this at start and chat.markdown (the conversion, whose libraries take ~0.2 s
to load) once it is on screen; until then text is placed as typed (loaded() says which).
"""

import hashlib
import html
import re
import sys
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

BLOCK_DEADLINE_S = 0.015  # one block not converted in this time is shown as plain text
MAX_BLOCK_CHARS = 1200  # prose blocks bigger than this are cut at a line (or space)
MAX_BLOCK_LINES = 100
MIN_BLOCK_CHARS = 200  # smaller blocks are joined with the next
MAX_CODE_CHARS = 1200  # pygments takes 5-15 us a character here: pieces are drawn as one block
MAX_CODE_LINES = 60
MAX_TABLE_COLUMNS = 64  # wider "tables" are shown as typed
LONG_WORD = 48  # Qt lays out a long unbreakable run in quadratic time: such runs get
WORD_PIECE = 32  # a zero-width space every WORD_PIECE characters
CACHE_ENTRIES = 4096
ZWSP = "\u200b"
RUN = re.compile(r"[^\s\x02\x03%s]{%d,}" % (ZWSP, LONG_WORD))  # \x02..\x03 wrap Python-Markdown's placeholders


CODE_STYLE = {"code": "friendly", "link": "#5F6B7A"}  # the pygments style and link colour in use


def loaded():
    """The converter module (workbench.chat.markdown) once it is imported, else None."""
    return sys.modules.get("workbench.chat.markdown")


def use_code_style(style: str, link: str) -> None:
    """Highlight code with another pygments style (dark mode), links in another colour: at once
    when the converter is loaded, else from its loading on."""
    CODE_STYLE.update(code=style, link=link)
    converter = loaded()
    if converter is not None:
        converter.set_code_style(style, link)


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


_REF = re.compile(r"^[ ]{0,3}\[([^\[\]\n]+)\]:[ \t]*<?([^\s>]+)>?"
                  r"(?:[ \t]+(?:\"([^\"\n]*)\"|'([^'\n]*)'|\(([^()\n]*)\)))?[ \t]*$", re.MULTILINE)


def references(text: str) -> str:
    """The reference-link definitions in text (`[id]: url`), which every block may use."""
    return "\n".join(m.group(0) for m in _REF.finditer(text))


# -- as typed ------------------------------------------------------------------------------------

def _pieces(m: re.Match) -> str:
    word = m.group(0)
    return ZWSP.join(word[i:i + WORD_PIECE] for i in range(0, len(word), WORD_PIECE))


def breakable(text: str) -> str:
    """text with a zero-width space every WORD_PIECE characters of each long unbroken run."""
    return RUN.sub(_pieces, text)


def plain_html(text: str) -> str:
    """HTML showing text as typed, wrapped, in the message's font (a fallback for Markdown)."""
    text = text.strip("\n")
    if not text:
        return ""
    return f'<p style="white-space:pre-wrap">{html.escape(breakable(text))}</p>'


# -- the code behind copy links ------------------------------------------------------------------

_COPIES: OrderedDict[str, str] = OrderedDict()  # copy-link key -> the code piece it copies


def keep_copy(code: str) -> str:
    """The key a copy link for code carries (code_for(key) gives the code back)."""
    key = hashlib.sha1(code.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    _COPIES[key] = code
    _COPIES.move_to_end(key)
    if len(_COPIES) > CACHE_ENTRIES:
        _COPIES.popitem(last=False)
    return key


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
