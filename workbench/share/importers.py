"""Import prompts from other tools' files into a new prompt document; malformed files are refused.

Every importer is a pure function text -> PromptDocument that raises
ImportFormatError naming the line or field at fault; nothing is written until
a whole file has been read. Reading is bounded: a size limit, a nesting-depth
limit for JSON and YAML, and no YAML aliases (the stuff of "billion laughs").
Every value ends up checked against the document and sampling schema.

A tool's value that is merely unusual is converted, with a note in the
document's .notes: null means the tool's default; a seed beyond llama.cpp's
32 bits is folded into range and a negative one means random; Ollama's negative
num_predict ("no limit") leaves max_tokens at its default; an LM Studio setting
that is switched off is left out; one stop string is a list of one; empty stop
strings are dropped. Anything else out of type or range is refused.
"""

import math
import os
import re
from pathlib import Path
from typing import Callable

import yaml

from workbench.errors import ImportFormatError
from workbench.files import MAX_DEPTH, parse_json, parser_complaint, read_user_file
from workbench.prompt.document import DEFAULT_NAME, Example, PromptDocument, Section
from workbench.runtime.params import DEFAULTS, PARAM_NAMES, check_param, fit_seed, shown
from workbench.share.exporters import EXAMPLES_HEADING, FENCE

IMPORTERS: dict[str, Callable[[str], PromptDocument]] = {}
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # prompts are kilobytes; this is room for a long one


def importer(name: str):
    """Register the decorated function as the importer for format NAME."""
    def register(fn):
        IMPORTERS[name] = fn
        return fn
    return register


def import_text(text: str, fmt: str | None = None, filename: str = "") -> PromptDocument:
    """The document in TEXT (format FMT, or guessed from the file name and the content),
    checked against the document schema; ImportFormatError naming the place otherwise."""
    if len(text) > MAX_IMPORT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
        raise ImportFormatError(f"{filename or 'This file'} is larger than "
                                f"{MAX_IMPORT_BYTES // 2**20} MB; prompt files are far smaller. "
                                "Is it the right file?")
    fmt = fmt or detect(text, filename)
    if fmt not in IMPORTERS:
        raise ImportFormatError(f"Cannot import format {fmt!r}. Formats: {', '.join(IMPORTERS)}.")
    return IMPORTERS[fmt](text).validated(ImportFormatError)


def read_import_file(path: str | Path) -> str:
    """A file to import, refused by its size before it is read (ImportFormatError)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0  # read_user_file says what is wrong with it
    if size > MAX_IMPORT_BYTES:
        raise ImportFormatError(f"{path} is {size / 2**20:.0f} MB, larger than "
                                f"{MAX_IMPORT_BYTES // 2**20} MB; prompt files are far smaller. "
                                "Is it the right file?")
    return read_user_file(path, error=ImportFormatError)


def detect(text: str, filename: str = "") -> str:
    """Guess the format from the file name, then from the content."""
    name = filename.lower()
    # [ \t], not \s: \s* would run across every blank line from every line start (quadratic).
    if name.endswith("modelfile") or re.search(r"^[ \t]*FROM[ \t]", text, re.MULTILINE | re.IGNORECASE):
        return "ollama"
    if name.endswith((".md", ".markdown")) or text.lstrip().startswith("# Prompt:"):
        return "markdown"
    if name.endswith((".yaml", ".yml")):
        return "llm"
    try:
        data = parse_json(text)
    except ImportFormatError as e:
        if text.lstrip().startswith(("{", "[")):
            raise  # JSON, but broken: say where
        raise ImportFormatError(f"Not a format I know: not a Modelfile, not our Markdown, and "
                                f"not JSON ({e}) Pass --format.") from None
    if isinstance(data, dict) and "operation" in data:
        return "lmstudio"
    if isinstance(data, dict) and "system" in data and "messages" in data:
        return "anthropic"
    if isinstance(data, dict) and "messages" in data:
        return "openai"
    raise ImportFormatError("JSON, but neither an OpenAI, Anthropic nor LM Studio file.")


# -- bounded parsing ---------------------------------------------------------------


def _load_json(text: str) -> dict:
    data = parse_json(text)
    if not isinstance(data, dict):
        raise ImportFormatError("Expected a JSON object at the top level.")
    return data


# libyaml when it is installed: a 5 MB file loads in a fraction of the pure-Python time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSES = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_yaml_events(text: str) -> None:
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


def _load_yaml(text: str):
    try:
        _check_yaml_events(text)
        return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
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
        return system, []
    examples = []
    for chunk in block.split("\n\nUser: "):
        chunk = chunk.removeprefix("User: ")
        user, sep, assistant = chunk.partition("\nAssistant: ")
        if not sep:
            return system, []  # not our block after all: keep the text as it was
        examples.append(Example(user, assistant))
    return head, examples


def _label(value, fallback: str) -> str:
    """A name from a tool's field: its text on one line (and short), or the fallback."""
    if not isinstance(value, str) or not value.strip():
        return fallback
    one = " ".join(value.split())
    return one if len(one) <= 100 else one[:100] + "…"


def _document(name: str, system: str, examples: list[Example], params: dict,
              notes: list[str]) -> PromptDocument:
    sections = [Section("system", system)] if system else []
    return PromptDocument(name=name, sections=sections, examples=examples, params=params,
                          notes=notes)


def _take(params: dict, name: str, value, label: str, notes: list[str]) -> None:
    """One sampling value from a tool's file into params, converted where it is merely
    unusual (see the module's docstring) and otherwise as the schema has it; ImportFormatError
    naming LABEL when it does not fit."""
    if value is None:
        return  # the tool's own default; ours applies
    if name == "seed" and _whole(value):
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


def _whole(value) -> bool:
    """An int, or a float with a whole finite value (JSON writers differ on 5 vs 5.0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or (math.isfinite(value) and value.is_integer())


def _pairs(messages: list, where: str) -> tuple[str, list[Example]]:
    """System text and user/assistant example pairs from a chat message list."""
    if not isinstance(messages, list):
        raise ImportFormatError(f"{where} must be a list of messages.")
    system, examples, pending = [], [], None
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise ImportFormatError(f"{where}[{i}] must be an object with text 'content' "
                                    "(images and tool calls are not imported).")
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(m["content"])
        elif role == "user":
            if pending is not None:
                examples.append(Example(pending, ""))
            pending = m["content"]
        elif role == "assistant":
            examples.append(Example(pending or "", m["content"]))
            pending = None
        else:
            raise ImportFormatError(f"{where}[{i}].role must be system, user or assistant, "
                                    f"not {shown(role)}.")
    return "\n\n".join(system), examples


# -- the formats -------------------------------------------------------------------


@importer("openai")
def from_openai(text: str) -> PromptDocument:
    """An OpenAI chat request: system messages, user/assistant pairs as examples, sampling."""
    data = _load_json(text)
    if "messages" not in data:
        raise ImportFormatError("messages: missing (an OpenAI chat request has a 'messages' list).")
    system, examples = _pairs(data["messages"], "messages")
    params, notes = {}, []
    # max_completion_tokens is the newer name; max_tokens wins when a file has both.
    for key, name in (("max_completion_tokens", "max_tokens"), ("temperature", "temperature"),
                      ("top_p", "top_p"), ("max_tokens", "max_tokens"), ("seed", "seed"),
                      ("top_k", "top_k"), ("min_p", "min_p"), ("repeat_penalty", "repeat_penalty"),
                      ("stop", "stop")):
        _take(params, name, data.get(key), key, notes)
    return _document(f"Imported from OpenAI ({_label(data.get('model'), 'no model')})", system,
                     examples, params, notes)


@importer("anthropic")
def from_anthropic(text: str) -> PromptDocument:
    """An Anthropic Messages request: system (text or text blocks), examples, sampling."""
    data = _load_json(text)
    system = data.get("system")
    if isinstance(system, list):  # content blocks
        for i, b in enumerate(system):
            if not isinstance(b, dict) or not isinstance(b.get("text"), str):
                raise ImportFormatError(f"system[{i}] must be a text block "
                                        '{"type": "text", "text": "..."}; '
                                        f"not {shown(b)}.")
        system = "\n\n".join(b["text"] for b in system)
    if not isinstance(system, (str, type(None))):
        raise ImportFormatError("system must be text or a list of text blocks.")
    _, examples = _pairs(data.get("messages", []), "messages")
    params, notes = {}, []
    for key, name in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"),
                      ("max_tokens", "max_tokens"), ("stop_sequences", "stop")):
        _take(params, name, data.get(key), key, notes)
    return _document(f"Imported from Anthropic ({_label(data.get('model'), 'no model')})",
                     system or "", examples, params, notes)


LMSTUDIO_KEYS = {"llm.prediction.temperature": "temperature", "llm.prediction.topPSampling": "top_p",
                 "llm.prediction.topKSampling": "top_k", "llm.prediction.minPSampling": "min_p",
                 "llm.prediction.repeatPenalty": "repeat_penalty",
                 "llm.prediction.maxPredictedTokens": "max_tokens",
                 "llm.prediction.stopStrings": "stop", "llm.prediction.seed": "seed"}


@importer("lmstudio")
def from_lmstudio(text: str) -> PromptDocument:
    """An LM Studio preset: its system prompt (examples at its end) and prediction fields."""
    data = _load_json(text)
    operation = data.get("operation")
    items = operation.get("fields") if isinstance(operation, dict) else None
    if not isinstance(items, list):
        raise ImportFormatError("operation.fields: missing or not a list.")
    system, params, notes = "", {}, []
    for i, f in enumerate(items):
        if not isinstance(f, dict) or not isinstance(f.get("key"), str):
            raise ImportFormatError(f"operation.fields[{i}] must have a 'key' (text).")
        key, value, where = f["key"], f.get("value"), f"operation.fields[{i}].value"
        if key == "llm.prediction.systemPrompt":
            if not isinstance(value, str):
                raise ImportFormatError(f"{where} must be text.")
            system = value
        elif key in LMSTUDIO_KEYS:
            if isinstance(value, dict):  # {"checked": on or off, "value": ...}
                if value.get("checked") is False:
                    continue  # switched off in LM Studio: the default applies
                value = value.get("value")
            _take(params, LMSTUDIO_KEYS[key], value, f"{where} ({key.rsplit('.', 1)[-1]})", notes)
    system, examples = split_examples(system)
    return _document(_label(data.get("name"), "Imported LM Studio preset"), system, examples,
                     params, notes)


@importer("llm")
def from_llm(text: str) -> PromptDocument:
    """An llm CLI template (YAML): system (examples at its end) and options."""
    data = _load_yaml(text)
    if not isinstance(data, dict) or not ({"system", "prompt"} & set(data)):
        raise ImportFormatError("An llm template needs a 'system' or 'prompt' key.")
    system = data.get("system")
    if not isinstance(system, (str, type(None))):
        raise ImportFormatError("system must be text.")
    system = system or ""
    params, notes = {}, []
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ImportFormatError("options must be a mapping of option names to values.")
    for key in ("temperature", "top_p", "max_tokens", "seed"):
        _take(params, key, options.get(key), f"options.{key}", notes)
    system, examples = split_examples(system)
    return _document(f"Imported from an llm template ({_label(data.get('model'), 'no model')})",
                     system, examples, params, notes)


# Every instruction Ollama's parser accepts; those with nothing to import are read and passed by.
_OLLAMA_COMMANDS = {"FROM", "SYSTEM", "PARAMETER", "MESSAGE", "TEMPLATE", "ADAPTER", "LICENSE",
                    "DRAFT", "RENDERER", "PARSER", "REQUIRES"}
_OLLAMA_PARAMS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
                  "min_p": "min_p", "repeat_penalty": "repeat_penalty",
                  "num_predict": "max_tokens", "seed": "seed"}
_OLLAMA_WHOLE = {"top_k", "num_predict", "seed"}  # Ints in Ollama's options; the rest floats
_INSTRUCTION = re.compile(r"([A-Za-z]+)(?:[ \t]+(.*))?$", re.DOTALL)
_WORD = re.compile(r"([A-Za-z0-9_]+)[ \t]+(.*)$", re.DOTALL)


def _ollama_unquote(s: str) -> tuple[str, bool]:
    """As Ollama's parser: \"\"\"text\"\"\" or "text" is the text as written, with no escapes
    (a backslash is an ordinary character); anything else is itself. False: not closed yet."""
    if s.startswith('"""'):
        return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
    if s.startswith('"'):
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True


def _modelfile_commands(text: str):
    """(line number, COMMAND, first word or None, value) as Ollama reads them: a value runs to
    the end of its line, or, when it opens a quote, to the end of the line the quote closes on."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        line, n = lines[i].strip(), i + 1
        i += 1
        if not line or line.startswith("#"):
            continue
        m = _INSTRUCTION.match(line)
        if not m or m.group(1).upper() not in _OLLAMA_COMMANDS:
            raise ImportFormatError(f"Line {n}: not a Modelfile instruction: {shown(line)}.")
        command, rest, word = m.group(1).upper(), m.group(2) or "", None
        if command in ("PARAMETER", "MESSAGE"):  # a name or a role, then the value
            w = _WORD.match(rest)
            if not w:
                example = "PARAMETER temperature 0.7" if command == "PARAMETER" else "MESSAGE user Hi"
                raise ImportFormatError(f"Line {n}: {command} needs a "
                                        f"{'name' if command == 'PARAMETER' else 'role'} and a "
                                        f"value, as in {example!r}; not {shown(line)}.")
            word, rest = w.group(1), w.group(2)
        if not rest.strip():
            raise ImportFormatError(f"Line {n}: {command} needs a value.")
        parts = [rest]
        value, closed = _ollama_unquote(rest.strip())
        while not closed:  # only the newest line can close the quote: no rescanning
            if i == len(lines):
                raise ImportFormatError(f"Line {n}: the quote opened here is never closed.")
            parts.append(lines[i])
            i += 1
            if parts[-1].rstrip().endswith('"""' if rest.lstrip().startswith('"""') else '"'):
                value, closed = _ollama_unquote("\n".join(parts).strip())
        yield n, command, word, value


def _ollama_number(n: int, name: str, value: str):
    try:
        return int(value) if name in _OLLAMA_WHOLE else float(value)
    except ValueError:
        kind = "a whole number" if name in _OLLAMA_WHOLE else "a number"
        raise ImportFormatError(f"Line {n}: PARAMETER {name} needs {kind}, not "
                                f"{shown(value)}.") from None


@importer("ollama")
def from_ollama(text: str) -> PromptDocument:
    """An Ollama Modelfile: SYSTEM, PARAMETER and MESSAGE lines, read as Ollama reads them."""
    model, system, params, turns, stops, notes = "", "", {}, [], [], []
    for n, command, word, value in _modelfile_commands(text):
        if command == "FROM":
            model = value.strip()
        elif command == "SYSTEM":
            system = value
        elif command == "TEMPLATE":
            notes.append(f"Line {n}: the TEMPLATE was not imported; the model's own chat "
                         "template (or URIAL, for a base model) applies here.")
        elif command == "PARAMETER" and word == "stop":
            stops.append(value)
        elif command == "PARAMETER" and word in _OLLAMA_PARAMS:
            number, label = _ollama_number(n, word, value), f"Line {n}: PARAMETER {word}"
            if word == "num_predict" and number < 0:  # Ollama's "no limit" (-1) or "fill" (-2)
                notes.append(f"{label} {number} means no limit in Ollama; max_tokens keeps its "
                             f"default ({DEFAULTS['max_tokens']}).")
                continue
            _take(params, _OLLAMA_PARAMS[word], number, label, notes)
        elif command == "MESSAGE":
            if word not in ("user", "assistant", "system"):
                raise ImportFormatError(f"Line {n}: MESSAGE role must be user, assistant or "
                                        f"system, not {shown(word)}.")
            turns.append({"role": word, "content": value})
    if not model:
        raise ImportFormatError("A Modelfile needs a FROM line.")
    if stops:
        _take(params, "stop", stops, "PARAMETER stop", notes)
    _, examples = _pairs(turns, "MESSAGE lines")
    name = _label(model.rsplit("/", 1)[-1], "a model")
    return _document(f"Imported from Ollama ({name})", system, examples, params, notes)


@importer("markdown")
def from_markdown(text: str) -> PromptDocument:
    """Our own Markdown export: headings followed by ~~~~ fenced blocks."""
    blocks: list[tuple[int, str, str]] = []  # (line, heading, fenced text)
    heading, name = None, DEFAULT_NAME
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# Prompt:"):
            name = line.removeprefix("# Prompt:").strip() or DEFAULT_NAME
        elif line.startswith("#"):
            heading = (i + 1, line.lstrip("#").strip())
        elif line == FENCE:
            start = i + 1
            j = i + 1
            while j < len(lines) and lines[j] != FENCE:
                j += 1
            if j == len(lines):
                raise ImportFormatError(f"Line {start}: a {FENCE} block is never closed.")
            if heading is None:
                raise ImportFormatError(f"Line {start}: a {FENCE} block with no heading before it.")
            blocks.append((heading[0], heading[1], "\n".join(lines[i + 1:j])))
            i = j
        elif line.strip():
            raise ImportFormatError(f"Line {i + 1}: expected a heading or a {FENCE} block, "
                                    f"got {shown(line)}.")
        i += 1
    doc = PromptDocument(name=name)
    user = None
    for n, head, body in blocks:
        if head.startswith("Section:"):
            title = head.removeprefix("Section:").strip()
            enabled = not title.endswith("(disabled)")
            doc.sections.append(Section(title.removesuffix("(disabled)").strip(), body, enabled))
        elif head == "Lessons":
            doc.sections.append(Section("lessons", body, True))
        elif head == "User":
            user = body
        elif head == "Assistant":
            if user is None:
                raise ImportFormatError(f"Line {n}: an Assistant block with no User block before it.")
            doc.examples.append(Example(user, body))
            user = None
        elif head in ("Variables", "Parameters"):
            _markdown_values(doc, n, head, body)
        else:
            raise ImportFormatError(f"Line {n}: unknown heading {shown(head)}.")
    if not doc.sections and not doc.examples:
        raise ImportFormatError("No sections or examples found: is this a Prompt Workbench "
                                "Markdown export?")
    return doc


def _markdown_values(doc: PromptDocument, n: int, head: str, body: str) -> None:
    """A Variables or Parameters block (JSON, its heading on line n) into the document."""
    value = parse_json(body, f"Line {n}: {head}", n + 2)
    if not isinstance(value, dict):
        raise ImportFormatError(f"Line {n}: {head} must be a JSON object.")
    if head == "Variables":
        for k, v in value.items():
            if not isinstance(v, str):
                raise ImportFormatError(f"Line {n}: Variables[{shown(k)}] must be text, "
                                        f"not {shown(v)}.")
        doc.variables = dict(value)
        return
    for k, v in value.items():
        if k in PARAM_NAMES:  # others are other versions' settings: nothing to apply them to
            _take(doc.params, k, v, f"Line {n}: Parameters.{k}", doc.notes)
