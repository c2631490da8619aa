"""What the importers share: the Imported result, bounded JSON and YAML parsing, and the pieces
that turn a tool's messages and settings into a prompt document with a warning for each thing
converted or left out (see importers.py for the rules)."""

import math
from dataclasses import dataclass, field

import yaml

from workbench.errors import ImportFormatError
from workbench.files import MAX_DEPTH, parse_json, parser_complaint
from workbench.prompt.document import Example, PromptDocument, Section
from workbench.runtime.params import check_param, fit_seed, shown
from workbench.share.exporters import EXAMPLES_HEADING
from workbench.share.lessons_block import split_lessons, split_retrieved


@dataclass
class Imported:
    """What a file gave: the document (its .notes are the warnings too), the warnings, and the
    texts of the pinned lessons its export marked (kept out of the document's text)."""

    document: PromptDocument
    warnings: list[str] = field(default_factory=list)
    lessons: list[str] = field(default_factory=list)
    format: str = ""
    demos: dict[str, tuple[str, str]] = field(default_factory=dict)  # lesson text -> its demonstration



# -- bounded parsing ---------------------------------------------------------------


def load_json(text: str) -> dict:
    data = parse_json(text)
    if not isinstance(data, dict):
        raise ImportFormatError("Expected a JSON object at the top level.")
    return data


# libyaml when it is installed: a 5 MB file loads in a fraction of the pure-Python time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSES = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def check_yaml_events(text: str) -> None:
    """Refuse aliases (a safe loader still expands them, so a few lines can stand for billions
    of nodes: "billion laughs") and nesting deeper than MAX_DEPTH, from the parser's events,
    one at a time, before anything is built."""
    depth = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise ImportFormatError(f"Line {event.start_mark.line + 1}: YAML aliases "
                                    f"(*{event.anchor}) are not imported; write the value out "
                                    "where it is used.")
        if isinstance(event, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                raise ImportFormatError(f"Line {event.start_mark.line + 1}: the YAML is nested "
                                        f"more than {MAX_DEPTH} levels deep; no prompt file is.")
        elif isinstance(event, _CLOSES):
            depth -= 1


def load_yaml(text: str):
    try:
        check_yaml_events(text)
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as e:
        mark, context = getattr(e, "problem_mark", None), getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        started = (f" ({e.context} that starts on line {context.line + 1})"
                   if context and getattr(e, "context", None) and context.line != getattr(mark, "line", None)
                   else "")
        raise ImportFormatError(f"Not valid YAML ({where}): {getattr(e, 'problem', e)}"
                                f"{started}.") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as e:  # e.g. 2001-13-45
        raise ImportFormatError(f"Not valid YAML: {parser_complaint(e)}.") from None


# -- shared pieces -----------------------------------------------------------------


def split_examples(system: str) -> tuple[str, list[Example]]:
    """Undo exporters.system_with_examples: examples written at the end of a system prompt."""
    head, sep, block = system.partition(f"\n\n{EXAMPLES_HEADING}\n\n")
    if not sep:
        head, sep, block = system.partition(f"{EXAMPLES_HEADING}\n\n")
        if not sep or head:
            return system, []
    examples = []
    for chunk in block.split("\n\nUser: "):
        chunk = chunk.removeprefix("User: ")
        user, sep, assistant = chunk.partition("\nAssistant: ")
        if not sep:
            return system, []  # not our block after all: keep the text as it was
        examples.append(Example(user, assistant))
    return head, examples


def label(value, fallback: str) -> str:
    """A name from a tool's field: its text on one line (and short), or the fallback."""
    if not isinstance(value, str) or not value.strip():
        return fallback
    one = " ".join(value.split())
    return one if len(one) <= 100 else one[:100] + "…"


def imported(name: str, system: str, examples: list[Example], params: dict,
              notes: list[str], variables: dict | None = None) -> Imported:
    """The document, with the pinned lessons an export marked at the end of the system text
    taken out (they come back as lessons, not as prompt text)."""
    system, written = split_examples(system)
    examples = written + examples
    system, lessons = split_lessons(system)
    sections = [Section("system", system)] if system else []
    doc = PromptDocument(name=name, sections=sections, examples=examples, params=params,
                         variables=dict(variables or {}))
    return Imported(doc, notes, lessons)


def take(params: dict, name: str, value, label: str, notes: list[str]) -> None:
    """One sampling value from a tool's file into params, converted where it is merely
    unusual (see the module's docstring) and otherwise as the schema has it; ImportFormatError
    naming LABEL when it does not fit."""
    if value is None:
        return  # the tool's own default; ours applies
    if name == "seed" and whole(value):
        fitted = fit_seed(int(value))
        if fitted != value and value != -1:  # -1 is every tool's "random"
            notes.append(f"{label} {shown(value)} is outside llama.cpp's 32-bit seeds; "
                         + ("a new random seed is used each run." if fitted is None
                            else f"it was imported as {fitted}."))
        value = fitted
        if value is None:
            return
    if name == "stop":
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and "" in value:
            value = [s for s in value if s != ""]
            notes.append(f"{label}: empty stop strings were dropped (they would stop at once).")
    params[name] = check_param(name, value, error=ImportFormatError, label=label)


def whole(value) -> bool:
    """An int, or a float with a whole finite value (JSON writers differ on 5 vs 5.0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or (math.isfinite(value) and value.is_integer())


def unused(keys, where: str, notes: list[str], why: str = "a prompt document has no place "
            "for them") -> None:
    keys = [str(k) for k in keys]
    if keys:
        notes.append(f"Not imported from {where} ({why}): {', '.join(keys)}.")


_TEXT_PARTS = ("text", "input_text", "output_text")


def content(m: dict, where: str, notes: list[str]) -> str:
    """A message's text: a string, or the text parts of a list of content parts / blocks
    (OpenAI and Anthropic both write them); other parts are named in a note."""
    content = m.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ImportFormatError(f"{where}.content must be text or a list of content parts, "
                                f"not {shown(content)}.")
    texts, others = [], []
    for j, part in enumerate(content):
        if isinstance(part, str):  # some writers leave bare strings in the list
            texts.append(part)
            continue
        if not isinstance(part, dict) or not isinstance(part.get("type", "text"), str):
            raise ImportFormatError(f"{where}.content[{j}] must be a content part "
                                    '{"type": ..., ...}; not ' f"{shown(part)}.")
        kind = part.get("type", "text")
        if kind in _TEXT_PARTS:
            if not isinstance(part.get("text"), str):
                raise ImportFormatError(f"{where}.content[{j}] is a text part with no text.")
            texts.append(part["text"])
            if "cache_control" in part:
                others.append("cache_control")
        else:
            others.append(kind)
    if others:
        notes.append(f"{where}: only the text was imported; left out: {', '.join(sorted(set(others)))}.")
    return "\n\n".join(texts)


def pairs(messages: list, where: str, notes: list[str]) -> tuple[str, list[Example]]:
    """System text and user/assistant example pairs from a chat message list; what does not
    fit a prompt document (tool traffic, a question with no answer) is named in notes."""
    if not isinstance(messages, list):
        raise ImportFormatError(f"{where} must be a list of messages.")
    system, examples, pending, tools, stripped = [], [], None, 0, False
    for i, m in enumerate(messages):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            raise ImportFormatError(f"{at} must be an object with a 'role' and a 'content'.")
        role = m.get("role")
        if role in ("tool", "function", "ipython"):
            tools += 1
            continue
        if role not in ("system", "developer", "user", "assistant"):
            raise ImportFormatError(f"{at}.role must be system, user or assistant, "
                                    f"not {shown(role)}.")
        if m.get("content") is None and not m.get("tool_calls") and not m.get("function_call"):
            raise ImportFormatError(f"{at} must have text 'content'.")
        text = content(m, at, notes)
        if not text and isinstance(m.get("content"), list):  # only tool results or images
            tools += 1
            continue
        if m.get("tool_calls") or m.get("function_call"):
            tools += 1
            if not text:
                continue
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            text, cut = split_retrieved(text)
            stripped = stripped or cut
            if pending is not None:
                notes.append(f"{where}: a user message with no answer after it "
                             f"({quoted(pending)}) became an example with an empty answer.")
                examples.append(Example(pending, ""))
            pending = text
        else:
            examples.append(Example(pending or "", text))
            pending = None
    if tools:
        notes.append(f"{where}: {tools} tool call(s) and tool result(s) were left out; a prompt "
                     "document holds text turns only.")
    if stripped:
        notes.append(f"{where}: the notebook notes the workbench adds to a question were taken out "
                     "of it (the notebook adds them again).")
    if pending is not None:
        notes.append(f"{where}: the last user message ({quoted(pending)}) has no answer, so it is "
                     "not an example; it was left out. Ask it in the conversation.")
    return "\n\n".join(system), examples


def quoted(text: str, n: int = 50) -> str:
    one = " ".join(text.split())
    return "“" + (one if len(one) <= n else one[:n] + "…") + "”"
