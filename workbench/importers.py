"""Import prompts from other tools' files into a new prompt document; malformed files are refused.

Every importer is a pure function text -> PromptDocument that raises
ImportFormatError naming the line or field at fault; nothing is written until
a whole file has been read.
"""

import json
import re
from dataclasses import fields
from typing import Callable

import yaml

from .document import Example, PromptDocument, Section
from .engine import SamplingParams
from .errors import ImportFormatError
from .exporters import EXAMPLES_HEADING, FENCE

IMPORTERS: dict[str, Callable[[str], PromptDocument]] = {}
PARAM_NAMES = {f.name for f in fields(SamplingParams)}


def importer(name: str):
    def register(fn):
        IMPORTERS[name] = fn
        return fn
    return register


def import_text(text: str, fmt: str | None = None, filename: str = "") -> PromptDocument:
    fmt = fmt or detect(text, filename)
    if fmt not in IMPORTERS:
        raise ImportFormatError(f"Cannot import format {fmt!r}. Formats: {', '.join(IMPORTERS)}.")
    return IMPORTERS[fmt](text)


def detect(text: str, filename: str = "") -> str:
    """Guess the format from the file name, then from the content."""
    name = filename.lower()
    if name.endswith("modelfile") or re.search(r"^\s*FROM\s", text, re.MULTILINE | re.IGNORECASE):
        return "ollama"
    if name.endswith((".md", ".markdown")) or text.lstrip().startswith("# Prompt:"):
        return "markdown"
    if name.endswith((".yaml", ".yml")):
        return "llm"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"Not a format I know: not JSON (line {e.lineno}: {e.msg}), "
                                "not a Modelfile, not our Markdown. Pass --format.") from None
    if isinstance(data, dict) and "operation" in data:
        return "lmstudio"
    if isinstance(data, dict) and "system" in data and "messages" in data:
        return "anthropic"
    if isinstance(data, dict) and "messages" in data:
        return "openai"
    raise ImportFormatError("JSON, but neither an OpenAI, Anthropic nor LM Studio file.")


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


def _document(name: str, system: str, examples: list[Example], params: dict) -> PromptDocument:
    sections = [Section("system", system)] if system else []
    return PromptDocument(name=name, sections=sections, examples=examples,
                          params={k: v for k, v in params.items() if k in PARAM_NAMES})


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
                                    f"not {role!r}.")
    return "\n\n".join(system), examples


def _load_json(text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"Not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}.") from None
    if not isinstance(data, dict):
        raise ImportFormatError("Expected a JSON object at the top level.")
    return data


def _number(data: dict, key: str, where: str, out: dict, target: str | None = None) -> None:
    if key in data:
        v = data[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ImportFormatError(f"{where}{key} must be a number, not {v!r}.")
        out[target or key] = v


@importer("openai")
def from_openai(text: str) -> PromptDocument:
    data = _load_json(text)
    if "messages" not in data:
        raise ImportFormatError("messages: missing (an OpenAI chat request has a 'messages' list).")
    system, examples = _pairs(data["messages"], "messages")
    params: dict = {}
    for key in ("temperature", "top_p", "max_tokens", "seed", "top_k", "min_p", "repeat_penalty"):
        _number(data, key, "", params)
    if "stop" in data:
        params["stop"] = [data["stop"]] if isinstance(data["stop"], str) else list(data["stop"])
    return _document(f"Imported from OpenAI ({data.get('model', 'no model')})", system, examples,
                     params)


@importer("anthropic")
def from_anthropic(text: str) -> PromptDocument:
    data = _load_json(text)
    system = data.get("system", "")
    if isinstance(system, list):  # content blocks
        system = "\n\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    if not isinstance(system, str):
        raise ImportFormatError("system must be text or a list of text blocks.")
    _, examples = _pairs(data.get("messages", []), "messages")
    params: dict = {}
    for key in ("temperature", "top_p", "top_k", "max_tokens"):
        _number(data, key, "", params)
    if "stop_sequences" in data:
        params["stop"] = list(data["stop_sequences"])
    return _document(f"Imported from Anthropic ({data.get('model', 'no model')})", system,
                     examples, params)


@importer("lmstudio")
def from_lmstudio(text: str) -> PromptDocument:
    data = _load_json(text)
    items = data.get("operation", {}).get("fields")
    if not isinstance(items, list):
        raise ImportFormatError("operation.fields: missing or not a list.")
    keys = {"llm.prediction.temperature": "temperature", "llm.prediction.topPSampling": "top_p",
            "llm.prediction.topKSampling": "top_k", "llm.prediction.minPSampling": "min_p",
            "llm.prediction.repeatPenalty": "repeat_penalty",
            "llm.prediction.maxPredictedTokens": "max_tokens"}
    system, params = "", {}
    for i, f in enumerate(items):
        if not isinstance(f, dict) or "key" not in f:
            raise ImportFormatError(f"operation.fields[{i}] must have a 'key'.")
        key, value = f["key"], f.get("value")
        if key == "llm.prediction.systemPrompt":
            if not isinstance(value, str):
                raise ImportFormatError(f"operation.fields[{i}].value must be text.")
            system = value
        elif key == "llm.prediction.stopStrings":
            params["stop"] = list(value or [])
        elif key in keys:
            if isinstance(value, dict):
                value = value.get("value")
            _number({"v": value}, "v", f"operation.fields[{i}].", params, keys[key])
    system, examples = split_examples(system)
    return _document(data.get("name", "Imported LM Studio preset"), system, examples, params)


@importer("llm")
def from_llm(text: str) -> PromptDocument:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise ImportFormatError(f"Not valid YAML ({where}): {getattr(e, 'problem', e)}.") from None
    if not isinstance(data, dict) or not ({"system", "prompt"} & set(data)):
        raise ImportFormatError("An llm template needs a 'system' or 'prompt' key.")
    system = data.get("system") or ""
    if not isinstance(system, str):
        raise ImportFormatError("system must be text.")
    params: dict = {}
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ImportFormatError("options must be a mapping of option names to values.")
    for key in ("temperature", "top_p", "max_tokens", "seed"):
        _number(options, key, "options.", params)
    system, examples = split_examples(system)
    return _document(f"Imported from an llm template ({data.get('model') or 'no model'})",
                     system, examples, params)


_MODELFILE = re.compile(r"^(FROM|SYSTEM|PARAMETER|MESSAGE|TEMPLATE|ADAPTER|LICENSE)\s+(.*)$",
                        re.IGNORECASE)
_OLLAMA_PARAMS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
                  "min_p": "min_p", "repeat_penalty": "repeat_penalty",
                  "num_predict": "max_tokens", "seed": "seed"}


def _modelfile_commands(text: str):
    """(line number, command, argument) with triple-quoted arguments joined."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line, n = lines[i], i + 1
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _MODELFILE.match(line.strip())
        if not m:
            raise ImportFormatError(f"Line {n}: not a Modelfile instruction: {line[:60]!r}.")
        command, arg = m.group(1).upper(), m.group(2)
        if '"""' in arg and arg.count('"""') == 1:
            parts = [arg]
            while i < len(lines) and '"""' not in lines[i]:
                parts.append(lines[i])
                i += 1
            if i == len(lines):
                raise ImportFormatError(f'Line {n}: """ is opened but never closed.')
            parts.append(lines[i])
            i += 1
            arg = "\n".join(parts)
        yield n, command, arg


def _unquote(arg: str) -> str:
    arg = arg.strip()
    if arg.startswith('"""') and arg.endswith('"""') and len(arg) >= 6:
        return arg[3:-3]
    if arg.startswith('"') and arg.endswith('"') and len(arg) >= 2:
        return json.loads(arg)
    return arg


@importer("ollama")
def from_ollama(text: str) -> PromptDocument:
    model, system, params, turns = "", "", {}, []
    for n, command, arg in _modelfile_commands(text):
        if command == "FROM":
            model = arg.strip()
        elif command == "SYSTEM":
            system = _unquote(arg)
        elif command == "PARAMETER":
            name, _, value = arg.strip().partition(" ")
            if name == "stop":
                params.setdefault("stop", []).append(_unquote(value))
            elif name in _OLLAMA_PARAMS:
                try:
                    params[_OLLAMA_PARAMS[name]] = json.loads(value)
                except json.JSONDecodeError:
                    raise ImportFormatError(f"Line {n}: PARAMETER {name} needs a number, "
                                            f"not {value!r}.") from None
        elif command == "MESSAGE":
            role, _, content = arg.partition(" ")
            if role not in ("user", "assistant", "system"):
                raise ImportFormatError(f"Line {n}: MESSAGE role must be user, assistant or "
                                        f"system, not {role!r}.")
            turns.append({"role": role, "content": _unquote(content)})
    if not model:
        raise ImportFormatError("A Modelfile needs a FROM line.")
    _, examples = _pairs(turns, "MESSAGE lines")
    name = model.rsplit("/", 1)[-1]
    return _document(f"Imported from Ollama ({name})", system, examples, params)


@importer("markdown")
def from_markdown(text: str) -> PromptDocument:
    """Our own Markdown export: headings followed by ~~~~ fenced blocks."""
    blocks: list[tuple[int, str, str]] = []  # (line, heading, fenced text)
    heading, name = None, "Imported prompt"
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# Prompt:"):
            name = line.removeprefix("# Prompt:").strip()
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
                                    f"got {line[:60]!r}.")
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
            try:
                value = json.loads(body)
            except json.JSONDecodeError as e:
                raise ImportFormatError(f"Line {n + e.lineno + 1}: {head} is not valid JSON: {e.msg}.") from None
            if not isinstance(value, dict):
                raise ImportFormatError(f"Line {n}: {head} must be a JSON object.")
            if head == "Variables":
                doc.variables = {str(k): str(v) for k, v in value.items()}
            else:
                doc.params = {k: v for k, v in value.items() if k in PARAM_NAMES}
        else:
            raise ImportFormatError(f"Line {n}: unknown heading {head!r}.")
    if not doc.sections and not doc.examples:
        raise ImportFormatError("No sections or examples found: is this a Prompt Workbench "
                                "Markdown export?")
    return doc
