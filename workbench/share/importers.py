"""Import prompts from other tools' files into a new prompt document, with a warning for
everything that was converted or left out; malformed files are refused.

Every importer is a pure function text -> Imported (the document, the warnings, and the
lessons an export marked) that raises ImportFormatError naming the line or field at fault;
nothing is written until a whole file has been read. Reading is bounded: a size limit, a
nesting-depth limit for JSON and YAML, and no YAML aliases (the stuff of "billion laughs").
Every value ends up checked against the document and sampling schema.

A tool's value that is merely unusual is converted, with a warning: null means the tool's
default; a seed beyond llama.cpp's 32 bits is folded into range and a negative one means
random; Ollama's negative num_predict ("no limit") leaves max_tokens at its default; an LM
Studio setting that is switched off keeps the default; one stop string is a list of one;
empty stop strings are dropped. What a prompt document has no place for (tools, response
formats, templates, load settings, a question with no answer) is named in a warning. Anything
else out of type or range is refused.
"""

import os
import re
import string
from collections.abc import Callable
from pathlib import Path

from workbench.errors import ImportFormatError
from workbench.files import parse_json, read_user_file
from workbench.prompt.document import DEFAULT_NAME, Example, PromptDocument, Section
from workbench.runtime.params import DEFAULTS, PARAM_NAMES, shown
from workbench.share import import_parts as parts
from workbench.share import modelfile
from workbench.share.exporters import FENCE
from workbench.share.import_parts import Imported

MAX_IMPORT_BYTES = 5 * 1024 * 1024  # prompts are kilobytes; this is room for a long one


IMPORTERS: dict[str, Callable[[str], Imported]] = {}


def importer(name: str):
    """Register the decorated function as the importer for format NAME."""
    def register(fn):
        IMPORTERS[name] = fn
        return fn
    return register


def read_import(text: str, fmt: str | None = None, filename: str = "") -> Imported:
    """The document in TEXT (format FMT, or guessed from the file name and the content),
    checked against the document schema, with its warnings and marked lessons;
    ImportFormatError naming the place otherwise."""
    if len(text) > MAX_IMPORT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES:
        raise ImportFormatError(f"{filename or 'This file'} is larger than "
                                f"{MAX_IMPORT_BYTES // 2**20} MB; prompt files are far smaller. "
                                "Is it the right file?")
    fmt = fmt or detect(text, filename)
    if fmt not in IMPORTERS:
        raise ImportFormatError(f"Cannot import format {fmt!r}. Formats: {', '.join(IMPORTERS)}.")
    result = IMPORTERS[fmt](text)
    result.format = fmt
    result.document = result.document.validated(ImportFormatError)
    result.document.notes = list(result.warnings)
    return result


def import_text(text: str, fmt: str | None = None, filename: str = "") -> PromptDocument:
    """The document alone (its .notes say what was converted); marked lessons are left out of
    it, with a note: share/intake.py brings them back into the notebook."""
    result = read_import(text, fmt, filename)
    if result.lessons:
        result.document.notes.append(
            f"The {len(result.lessons)} pinned lesson(s) in the file were left out of the prompt "
            "text (they belong in the notebook).")
    return result.document


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
                                f"not JSON ({e}) Choose the format it is in.") from None
    if isinstance(data, dict) and ("operation" in data or "inference_params" in data
                                   or "load_params" in data):
        return "lmstudio"
    if isinstance(data, dict) and "system" in data and "messages" in data:
        return "anthropic"
    if isinstance(data, dict) and "messages" in data:
        return "openai"
    raise ImportFormatError("JSON, but neither an OpenAI, Anthropic nor LM Studio file.")


# -- the formats -------------------------------------------------------------------

_OPENAI_KEYS = {"model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens",
                "seed", "stop", "top_k", "min_p", "repeat_penalty"}
_TRANSPORT = {"stream", "stream_options", "n", "user", "store", "cache_prompt"}  # no effect on the prompt


@importer("openai")
def from_openai(text: str) -> Imported:
    """An OpenAI chat request: system messages, user/assistant pairs as examples, sampling."""
    data = parts.load_json(text)
    if "messages" not in data:
        raise ImportFormatError("messages: missing (an OpenAI chat request has a 'messages' list).")
    notes: list[str] = []
    system, examples = parts.pairs(data["messages"], "messages", notes)
    params = {}
    # max_completion_tokens is the newer name; max_tokens wins when a file has both.
    for key, name in (("max_completion_tokens", "max_tokens"), ("temperature", "temperature"),
                      ("top_p", "top_p"), ("max_tokens", "max_tokens"), ("seed", "seed"),
                      ("top_k", "top_k"), ("min_p", "min_p"), ("repeat_penalty", "repeat_penalty"),
                      ("stop", "stop")):
        parts.take(params, name, data.get(key), key, notes)
    parts.unused([k for k in data if k not in _OPENAI_KEYS | _TRANSPORT], "the request", notes)
    return parts.imported(f"Imported from OpenAI ({parts.label(data.get('model'), 'no model')})", system,
                     examples, params, notes)


_ANTHROPIC_KEYS = {"model", "system", "messages", "max_tokens", "temperature", "top_p", "top_k",
                   "stop_sequences"}


@importer("anthropic")
def from_anthropic(text: str) -> Imported:
    """An Anthropic Messages request: system (text or text blocks), examples, sampling (which
    older requests carry and the current API no longer takes)."""
    data = parts.load_json(text)
    notes: list[str] = []
    system = data.get("system")
    if isinstance(system, list):  # content blocks
        for i, b in enumerate(system):
            if not isinstance(b, dict) or not isinstance(b.get("text"), str):
                raise ImportFormatError(f"system[{i}] must be a text block "
                                        '{"type": "text", "text": "..."}; '
                                        f"not {shown(b)}.")
        if any("cache_control" in b for b in system):
            notes.append("system: cache_control was left out (the workbench caches the prompt's "
                         "prefix by itself).")
        system = "\n\n".join(b["text"] for b in system)
    if not isinstance(system, (str, type(None))):
        raise ImportFormatError("system must be text or a list of text blocks.")
    extra, examples = parts.pairs(data.get("messages", []), "messages", notes)
    params = {}
    for key, name in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"),
                      ("max_tokens", "max_tokens"), ("stop_sequences", "stop")):
        parts.take(params, name, data.get(key), key, notes)
    parts.unused([k for k in data if k not in _ANTHROPIC_KEYS | _TRANSPORT], "the request", notes)
    system = "\n\n".join(s for s in (system or "", extra) if s)
    return parts.imported(f"Imported from Anthropic ({parts.label(data.get('model'), 'no model')})",
                     system, examples, params, notes)


LMSTUDIO_KEYS = {"llm.prediction.temperature": "temperature", "llm.prediction.topPSampling": "top_p",
                 "llm.prediction.topKSampling": "top_k", "llm.prediction.minPSampling": "min_p",
                 "llm.prediction.repeatPenalty": "repeat_penalty",
                 "llm.prediction.maxPredictedTokens": "max_tokens",
                 "llm.prediction.stopStrings": "stop", "llm.prediction.seed": "seed"}
# LM Studio 0.2's presets ("inference_params"): key -> our parameter.
LMSTUDIO_LEGACY = {"temp": "temperature", "temperature": "temperature", "top_p": "top_p",
                   "top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repeat_penalty",
                   "n_predict": "max_tokens", "antiprompt": "stop", "seed": "seed"}


@importer("lmstudio")
def from_lmstudio(text: str) -> Imported:
    """An LM Studio preset: its system prompt (examples at its end) and prediction fields;
    or an LM Studio 0.2 preset (pre_prompt and inference_params)."""
    data = parts.load_json(text)
    if "operation" not in data and ("inference_params" in data or "load_params" in data):
        return _lmstudio_legacy(data)
    operation = data.get("operation")
    items = operation.get("fields") if isinstance(operation, dict) else None
    if not isinstance(items, list):
        raise ImportFormatError("operation.fields: missing or not a list.")
    system, params, notes, off, other = "", {}, [], [], []
    for i, f in enumerate(items):
        if not isinstance(f, dict) or not isinstance(f.get("key"), str):
            raise ImportFormatError(f"operation.fields[{i}] must have a 'key' (text).")
        key, value, where = f["key"], f.get("value"), f"operation.fields[{i}].value"
        short = key.rsplit(".", 1)[-1]
        if key == "llm.prediction.systemPrompt":
            if not isinstance(value, str):
                raise ImportFormatError(f"{where} must be text.")
            system = value
        elif key in LMSTUDIO_KEYS:
            if isinstance(value, dict) and "checked" in value:  # {"checked": on or off, "value"}
                if value.get("checked") is False:
                    off.append(short)
                    continue  # switched off in LM Studio: the default applies
                value = value.get("value")
            if key == "llm.prediction.maxPredictedTokens" and parts.whole(value) and value < 0:
                notes.append(f"{where} ({short}) {value} means no limit; max_tokens keeps its "
                             f"default ({DEFAULTS['max_tokens']}).")
                continue
            parts.take(params, LMSTUDIO_KEYS[key], value, f"{where} ({short})", notes)
        else:
            other.append(short)
    if off:
        notes.append(f"Switched off in the preset, so the workbench's defaults apply: {', '.join(off)}.")
    parts.unused(other, "the preset's prediction settings", notes)
    load = data.get("load")
    loads = load.get("fields") if isinstance(load, dict) else None
    if isinstance(loads, list):
        parts.unused([f.get("key", "?").rsplit(".", 1)[-1] for f in loads if isinstance(f, dict)],
                "the preset's load settings", notes, "the model is loaded in the Model panel")
    return parts.imported(parts.label(data.get("name"), "Imported LM Studio preset"), system, [], params, notes)


def _lmstudio_legacy(data: dict) -> Imported:
    notes: list[str] = ["An LM Studio 0.2 preset: read from its pre_prompt and inference_params."]
    inference = data.get("inference_params", {})
    if not isinstance(inference, dict):
        raise ImportFormatError("inference_params must be an object.")
    system = inference.get("pre_prompt", "")
    if not isinstance(system, str):
        raise ImportFormatError("inference_params.pre_prompt must be text.")
    params, other = {}, []
    for key, value in inference.items():
        name, label = LMSTUDIO_LEGACY.get(key), f"inference_params.{key}"
        if key == "pre_prompt":
            continue
        if name is None:
            if value not in (None, "", [], {}):
                other.append(key)
            continue
        if name == "max_tokens" and parts.whole(value) and value < 0:
            notes.append(f"{label} {value} means no limit; max_tokens keeps its default "
                         f"({DEFAULTS['max_tokens']}).")
            continue
        parts.take(params, name, value, label, notes)
    parts.unused(other, "inference_params", notes, "the model's chat template takes their place")
    load = data.get("load_params")
    if isinstance(load, dict):
        if "seed" in load and "seed" not in params:
            parts.take(params, "seed", load["seed"], "load_params.seed", notes)
        parts.unused([k for k in load if k != "seed"], "load_params", notes,
                "the model is loaded in the Model panel")
    return parts.imported(parts.label(data.get("name"), "Imported LM Studio preset"), system, [], params, notes)


_LLM_KEYS = {"system", "prompt", "options", "defaults", "model", "name"}


def _from_llm_template(text: str, used: set) -> str:
    """llm's string.Template text in our terms: $$ is $, $name and ${name} are {{name}}."""
    def sub(m: re.Match) -> str:
        if m.group("escaped") is not None:
            return "$"
        name = m.group("named") or m.group("braced")
        if name:
            used.add(name)
            return "{{%s}}" % name
        return m.group(0)  # a lone $ that llm itself would refuse: kept as written
    return string.Template.pattern.sub(sub, text)


@importer("llm")
def from_llm(text: str) -> Imported:
    """An llm CLI template (YAML): system (examples at its end), defaults as variables, options."""
    data = parts.load_yaml(text)
    if not isinstance(data, dict) or not ({"system", "prompt"} & set(data)):
        raise ImportFormatError("An llm template needs a 'system' or 'prompt' key.")
    system, prompt = data.get("system"), data.get("prompt")
    if not isinstance(system, (str, type(None))):
        raise ImportFormatError("system must be text.")
    if not isinstance(prompt, (str, type(None))):
        raise ImportFormatError("prompt must be text.")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ImportFormatError("defaults must be a mapping of names to values.")
    params, notes, used = {}, [], set()
    system = _from_llm_template(system or "", used)
    if prompt and prompt.strip() != "$input":
        notes.append(f"prompt ({parts.quoted(prompt)}) was not imported: a prompt document has no "
                     "template for the user's message; the question is asked as typed.")
    variables = {}
    for name, value in defaults.items():
        if str(name) in used:
            variables[str(name)] = value if isinstance(value, str) else str(value)
    if variables:
        notes.append(f"defaults became variables: {', '.join(variables)}.")
    unused = [str(k) for k in defaults if str(k) not in used]
    parts.unused(unused, "defaults", notes, "the system prompt does not use them")
    if "input" in used:
        notes.append("$input in the system prompt became {{input}}, which has no value here.")
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ImportFormatError("options must be a mapping of option names to values.")
    for key in ("temperature", "top_p", "max_tokens", "seed", "top_k", "min_p", "repeat_penalty",
                "stop"):
        parts.take(params, key, options.get(key), f"options.{key}", notes)
    parts.unused([k for k in options if k not in PARAM_NAMES], "options", notes)
    parts.unused([k for k in data if k not in _LLM_KEYS], "the template", notes)
    if data.get("model"):
        notes.append(f"The template's model ({parts.label(data['model'], '')}) was not imported; the "
                     "model is chosen in the Model panel.")
    return parts.imported(f"Imported from an llm template ({parts.label(data.get('model'), 'no model')})",
                     system, [], params, notes, variables)


_OLLAMA_PARAMS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
                  "min_p": "min_p", "repeat_penalty": "repeat_penalty",
                  "num_predict": "max_tokens", "seed": "seed"}
_OLLAMA_WHOLE = {"top_k", "num_predict", "seed"}  # Ints in Ollama's options; the rest floats
_OLLAMA_ELSEWHERE = {"num_ctx": "the context size is chosen when the model is loaded"}


def _ollama_number(n: int, name: str, value: str):
    try:
        return int(value) if name in _OLLAMA_WHOLE else float(value)
    except ValueError:
        kind = "a whole number" if name in _OLLAMA_WHOLE else "a number"
        raise ImportFormatError(f"Line {n}: PARAMETER {name} needs {kind}, not "
                                f"{shown(value)}.") from None


@importer("ollama")
def from_ollama(text: str) -> Imported:
    """An Ollama Modelfile: SYSTEM, PARAMETER and MESSAGE lines, read as Ollama reads them."""
    model, system, params, turns, stops, notes = "", "", {}, [], [], []
    unknown, passed = [], []
    for n, command, word, value in modelfile.commands(text):
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
            parts.take(params, _OLLAMA_PARAMS[word], number, label, notes)
        elif command == "PARAMETER":
            why = _OLLAMA_ELSEWHERE.get(word)
            if why:
                notes.append(f"Line {n}: PARAMETER {word} {value} was not imported: {why}.")
            else:
                unknown.append(word)
        elif command == "MESSAGE":
            if word not in ("user", "assistant", "system"):
                raise ImportFormatError(f"Line {n}: MESSAGE role must be user, assistant or "
                                        f"system, not {shown(word)}.")
            turns.append({"role": word, "content": value})
        else:  # ADAPTER, LICENSE, DRAFT, RENDERER, PARSER, REQUIRES
            passed.append(command)
    if not model:
        raise ImportFormatError("A Modelfile needs a FROM line.")
    if stops:
        parts.take(params, "stop", stops, "PARAMETER stop", notes)
    parts.unused(unknown, "the PARAMETER lines", notes, "no equivalent in the workbench's sampling")
    parts.unused(sorted(set(passed)), "the Modelfile", notes, "they configure Ollama itself")
    extra, examples = parts.pairs(turns, "MESSAGE lines", notes)
    if extra:
        notes.append("MESSAGE system lines were added to the system prompt.")
    name = parts.label(model.replace("\\", "/").rsplit("/", 1)[-1], "a model")
    return parts.imported(f"Imported from Ollama ({name})",
                     "\n\n".join(s for s in (system, extra) if s), examples, params, notes)


@importer("markdown")
def from_markdown(text: str) -> Imported:
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
    doc, lessons, notes = PromptDocument(name=name), [], []
    user, demos, demo_of = None, {}, None
    for n, head, body in blocks:
        if head not in ("User", "Assistant"):
            demo_of = None
        if head == "Lesson demonstration":
            demo_of = body.strip()
            continue
        if head.startswith("Section:"):
            title = head.removeprefix("Section:").strip()
            enabled = not title.endswith("(disabled)")
            doc.sections.append(Section(title.removesuffix("(disabled)").strip(), body, enabled))
        elif head == "Lessons":
            lessons += [line[2:].strip() for line in body.splitlines()
                        if line.startswith("- ") and line[2:].strip()]
        elif head == "User":
            user = body
        elif head == "Assistant":
            if user is None:
                raise ImportFormatError(f"Line {n}: an Assistant block with no User block before it.")
            if demo_of is not None:
                demos[demo_of] = (user, body)
                demo_of = None
            else:
                doc.examples.append(Example(user, body))
            user = None
        elif head in ("Variables", "Parameters", "Settings"):
            _markdown_values(doc, n, head, body, notes)
        else:
            raise ImportFormatError(f"Line {n}: unknown heading {shown(head)}.")
    if not doc.sections and not doc.examples:
        raise ImportFormatError("No sections or examples found: is this a Prompt Workbench "
                                "Markdown export?")
    return Imported(doc, notes, lessons, demos=demos)


def _markdown_values(doc: PromptDocument, n: int, head: str, body: str, notes: list[str]) -> None:
    """A Variables, Parameters or Settings block (JSON, its heading on line n) into the document."""
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
    if head == "Settings":
        for k in ("lesson_budget", "retrieval_k"):
            if k in value:
                setattr(doc, k, value[k])  # checked with the rest of the document
        return
    for k, v in value.items():
        if k in PARAM_NAMES:  # others are other versions' settings: nothing to apply them to
            parts.take(doc.params, k, v, f"Line {n}: Parameters.{k}", notes)
