"""Ollama Modelfiles, read and written by the rules of Ollama's own parser (parser/parser.go).

Those rules, as the parser applies them: an instruction is a word, a space, then a value; a
value ends at a line break unless it opens a quote (`"` or `\"\"\"`), and then it ends at the
first line break where the text so far, trimmed of white space, ends with that quote. Quotes
are only stripped: there are no escapes, so a backslash is an ordinary character and `\\n` is
two characters. White space around an unquoted value is trimmed, and characters that are not
printable (other than spaces, tabs and, inside a quote, line breaks) are dropped. `#` starts a
comment only at the start of a line.
"""

from __future__ import annotations

import re

from workbench.errors import ImportFormatError
from workbench.runtime.params import shown

COMMANDS = {"FROM", "SYSTEM", "PARAMETER", "MESSAGE", "TEMPLATE", "ADAPTER", "LICENSE", "DRAFT",
            "RENDERER", "PARSER", "REQUIRES"}
_BREAK = re.compile(r"(\r\n|\r|\n)")
# Go's strings.TrimSpace trims unicode.IsSpace; these are the characters it trims.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008" \
            "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
TRIPLE = '"""'


def _kept(c: str) -> bool:
    """What the parser keeps of a value: printable characters (Go's strconv.IsPrint, the same
    test as Python's isprintable) and tabs."""
    return c.isprintable() or c == "\t"


def unquote(s: str) -> tuple[str, bool]:
    """The parser's unquote: (text, True) when s is unquoted or a closed quote."""
    if s.startswith(TRIPLE):
        return (s[3:-3], True) if len(s) >= 6 and s.endswith(TRIPLE) else ("", False)
    if s.startswith('"'):
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True


def quote(text: str) -> tuple[str, str | None]:
    """TEXT as a Modelfile value Ollama reads back exactly, and None; or, when no quoting can
    carry it, the nearest value it can and a note on what changed."""
    problem = None
    if any(not _kept(c) and c not in "\r\n" for c in text):
        text = "".join(c for c in text if _kept(c) or c in "\r\n")
        problem = "characters Ollama drops (control characters) were left out"
    plain = (text and "\n" not in text and "\r" not in text and text == text.strip(_GO_SPACE)
             and not text.startswith('"'))
    if plain:
        return text, problem
    # In triple quotes the value would end early at any inner line whose end (white space
    # trimmed) is \"\"\": the one thing a Modelfile cannot say. Break such runs.
    pieces = _BREAK.split(text)
    for i in range(0, len(pieces) - 2, 2):
        # The text so far, trimmed, ends where this line ends (or an earlier one already did).
        so_far = (TRIPLE + pieces[0] if i == 0 else pieces[i]).rstrip(_GO_SPACE)
        if so_far.endswith(TRIPLE) and (i > 0 or len(so_far) >= 6):
            core = pieces[i].rstrip(_GO_SPACE)
            pieces[i] = core[:-1] + ' "' + pieces[i][len(core):]
            problem = ('a line ending in """ cannot be written in a Modelfile; its last quote '
                       'was moved one space to the right')
    return TRIPLE + "".join(pieces) + TRIPLE, problem


def commands(text: str):
    """(line number, COMMAND, name or role or None, value) for each instruction, as Ollama's
    parser reads it; ImportFormatError naming the line where it would fail."""
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        pieces = _BREAK.split(text)
        lines, breaks = pieces[0::2], pieces[1::2] + [""]
    else:  # the usual case, and fast for a file of millions of lines
        lines = text.split("\n")
        breaks = ["\n"] * len(lines)
    lines = [line if line.isprintable() else "".join(c for c in line if _kept(c)) for line in lines]
    i = 0
    while i < len(lines):
        n, raw = i + 1, lines[i]
        i += 1
        line = raw.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        word = re.match(r"[A-Za-z]*", line).group(0)
        rest = line[len(word):]
        if not word or word.upper() not in COMMANDS or (rest and rest[0] not in " \t"):
            raise ImportFormatError(f"Line {n}: not a Modelfile instruction: {shown(line.strip())}.")
        command, arg = word.upper(), None
        if command in ("PARAMETER", "MESSAGE"):
            m = re.match(r"[ \t]+([A-Za-z0-9_]+)[ \t](.*)$" if command == "PARAMETER"
                         else r"[ \t]+([A-Za-z]+)[ \t](.*)$", rest, re.DOTALL)
            if not m:
                example = "PARAMETER temperature 0.7" if command == "PARAMETER" else "MESSAGE user Hi"
                raise ImportFormatError(f"Line {n}: {command} needs a "
                                        f"{'name' if command == 'PARAMETER' else 'role'} and a "
                                        f"value, as in {example!r}; not {shown(line.strip())}.")
            arg, rest = m.group(1), m.group(2)
        elif not rest:
            raise ImportFormatError(f"Line {n}: {command} needs a value.")
        value, closed = unquote(rest.strip(_GO_SPACE))
        if not closed:
            # Only a line whose end is the quote can close it (the text so far, trimmed, ends
            # where that line ends), so the whole value is put together once, at the end.
            mark = TRIPLE if rest.strip(_GO_SPACE).startswith(TRIPLE) else '"'
            parts = [rest]
            while not closed:
                if i == len(lines):
                    raise ImportFormatError(f"Line {n}: the quote opened here is never closed.")
                parts += [breaks[i - 1], lines[i]]
                i += 1
                if parts[-1].rstrip(_GO_SPACE).endswith(mark):
                    value, closed = unquote("".join(parts).strip(_GO_SPACE))
        yield n, command, arg, value
