"""Export a composed prompt to the formats other tools read: one pure function per format.

Each export is what its consumer accepts as it is today (checked against the consumer's own
client, parser or schema in tests/share); whatever the target cannot hold is said in the
export's notes, never dropped silently. Adding a format is one function registered with
@exporter, and one test.
"""

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from workbench.prompt.document import Example, PromptDocument
from workbench.prompt.urial import STOP as URIAL_STOP
from workbench.prompt.urial import UrialTemplate
from workbench.runtime.params import SamplingParams
from workbench.share import modelfile, promptfoo

DEFAULT_SERVER = "http://127.0.0.1:8080"
EXAMPLES_HEADING = "## Examples"  # how formats without few-shot turns carry examples
SAMPLING = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed", "stop")


@dataclass
class TrainingConversation:
    """One stored conversation as fine-tuning needs it (see share/finetune.py)."""

    system: str  # the system prompt it was generated under, without the lessons block
    shots: list[dict]  # the few-shot turns the model saw before the conversation
    turns: list[dict]  # {"role", "content", "accepted": True | False | None}
    from_run: bool = True  # False: no run was found, the current prompt stands in


@dataclass
class ExportInput:
    """Everything an exporter may need; built by the workspace, read-only here."""

    document: PromptDocument
    system: str  # the composed system prompt: sections (variables filled) + pinned lessons
    messages: list[dict]  # system, examples as turns, conversation
    params: SamplingParams
    model: str = "local-model"  # the model name a server knows
    model_file: str = ""  # the GGUF path (Ollama's FROM)
    mode: str = "chat"  # "chat", "urial" or "raw"
    raw_prompt: str = ""  # the exact rendered text (chat template or URIAL), if known
    lessons: list[str] = field(default_factory=list)  # the pinned lessons in the system prompt
    lesson_demos: list[tuple[str, str] | None] = field(default_factory=list)  # each one's, if any
    tasks: list[dict] = field(default_factory=list)  # for promptfoo tests
    conversations: list[TrainingConversation] = field(default_factory=list)  # for fine-tuning
    base_system: str = ""  # the system prompt without the lessons block (fine-tuning)
    n_ctx: int = 0
    server: str = DEFAULT_SERVER
    unfilled: list[str] = field(default_factory=list)  # variables left as written, e.g. model
    few_shot: list[dict] | None = None  # example turns (examples, then lesson demonstrations)
    model_chosen: bool = True  # False: model_file is the default model, not one the user chose
    # Reads the stored conversations when the fine-tuning export asks (not on every preview).
    load_conversations: Callable[[], list[TrainingConversation]] | None = None

    def training(self) -> list[TrainingConversation]:
        if self.conversations or self.load_conversations is None:
            return self.conversations
        self.conversations = self.load_conversations()
        return self.conversations

    def shots(self) -> list[dict]:
        if self.few_shot is not None:
            return self.few_shot
        return [{"role": r, "content": c} for e in self.document.examples
                for r, c in (("user", e.user), ("assistant", e.assistant))]


@dataclass
class Export:
    text: str
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    extension: str
    fn: Callable[[ExportInput], Export]


FORMATS: dict[str, Format] = {}


def exporter(name: str, description: str, extension: str):
    def register(fn):
        FORMATS[name] = Format(name, description, extension, fn)
        return fn
    return register


def slug(name: str) -> str:
    """A name as a file or identifier part: "Support bot (v2)" -> "support-bot-v2"."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split()) or "prompt"


def file_name(document_name: str, fmt: str) -> str:
    """The file an export of this document is saved as: "support-bot.json", "Modelfile" for
    Ollama (its own convention), "support-bot.preset.json" for LM Studio."""
    extension = FORMATS[fmt].extension
    return extension if extension == "Modelfile" else f"{slug(document_name)}.{extension}"


def export(name: str, x: ExportInput) -> Export:
    from workbench.errors import WorkbenchError
    if name not in FORMATS:
        raise WorkbenchError(f"Unknown export format {name!r}. Formats: {', '.join(FORMATS)}.")
    result = FORMATS[name].fn(x)
    if name != "finetune-jsonl":
        result.warnings = _unfilled_notes(x) + result.warnings
    if name not in ("markdown", "finetune-jsonl"):
        result.warnings += _document_notes(x.document)
    return result


def _document_notes(doc: PromptDocument) -> list[str]:
    """What only the Markdown export keeps of the document itself."""
    notes = []
    off = [s.name for s in doc.sections if not s.enabled and s.text.strip()]
    if off:
        notes.append(f"Disabled sections are not part of the prompt, so they are not exported: "
                     f"{', '.join(off)}. The Markdown export keeps them.")
    if doc.variables:
        notes.append("Variables are written filled in (" + ", ".join(doc.variables)
                     + "); the Markdown export keeps them as variables.")
    return notes


def _unfilled_notes(x: ExportInput) -> list[str]:
    notes = []
    if "model" in x.unfilled:
        notes.append("{{model}} is written as it is: no model is loaded, so there is no name to "
                     "fill in. Load a model to have it filled.")
    others = [v for v in x.unfilled if v != "model"]
    if others:
        notes.append("No value for " + ", ".join("{{%s}}" % v for v in others)
                     + ": written as it is. Give it a value under Variables.")
    return notes


def _json(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _turns(x: ExportInput) -> list[dict]:
    return [m for m in x.messages if m["role"] != "system"]


def _pairs(turns: list[dict]) -> list[Example]:
    pairs, user = [], None
    for m in turns:
        if m["role"] == "user":
            if user is not None:
                pairs.append(Example(user, ""))
            user = m["content"]
        elif m["role"] == "assistant":
            pairs.append(Example(user or "", m["content"]))
            user = None
    return pairs


def system_with_examples(system: str, examples: list[Example]) -> str:
    """For targets with no few-shot turns: examples as a readable block that
    importers.split_examples() can take apart again."""
    if not examples:
        return system
    block = "\n\n".join(f"User: {e.user}\nAssistant: {e.assistant}" for e in examples)
    return f"{system}\n\n{EXAMPLES_HEADING}\n\n{block}".strip()


def _left_out(names, target: str, p: SamplingParams) -> list[str]:
    """One note for the sampling settings a target has no place for (those that are set)."""
    values = p.to_dict()
    kept = [f"{n} {json.dumps(values[n])}" for n in names
            if values[n] is not None and values[n] != []]
    return [f"{target} has no place for {', '.join(kept)}; left out."] if kept else []


# -- request bodies --------------------------------------------------------------


def _openai_body(x: ExportInput) -> dict:
    p = x.params
    body = {"model": x.model, "messages": [dict(m) for m in x.messages],
            "temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens}
    if p.seed is not None:
        body["seed"] = p.seed
    if p.stop:
        body["stop"] = p.stop[:4]  # OpenAI accepts at most four
    return body


@exporter("openai", "OpenAI Chat Completions request (JSON)", "json")
def to_openai(x: ExportInput) -> Export:
    warnings = []
    if len(x.params.stop) > 4:
        warnings.append("OpenAI accepts at most 4 stop strings; the rest were left out: "
                        + ", ".join(json.dumps(s) for s in x.params.stop[4:]) + ".")
    warnings += _left_out(("top_k", "min_p", "repeat_penalty"), "An OpenAI request", x.params)
    return Export(_json(_openai_body(x)), warnings)


@exporter("anthropic", "Anthropic Messages request (JSON)", "json")
def to_anthropic(x: ExportInput) -> Export:
    warnings = []
    merged: list[dict] = []
    for m in _turns(x):
        if merged and merged[-1]["role"] == m["role"]:
            merged[-1]["content"] += "\n\n" + m["content"]
            warnings.append("Two messages in a row from the same role were merged "
                            "(Anthropic requires user and assistant to alternate).")
        else:
            merged.append({"role": m["role"], "content": m["content"]})
    if merged and merged[0]["role"] == "assistant":
        merged.insert(0, {"role": "user", "content": "(conversation start)"})
        warnings.append("The conversation began with the assistant; a placeholder user "
                        "message was added first.")
    if not merged:
        warnings.append("No messages yet: Anthropic needs at least one user message; "
                        "add the question to 'messages' before sending.")
    elif merged[-1]["role"] == "assistant":
        warnings.append("The last message is the assistant's: Anthropic treats it as a "
                        "prefill to continue. Add a user message to ask a new question.")
    p = x.params
    body = {"model": x.model, "max_tokens": p.max_tokens, "system": x.system, "messages": merged}
    if p.stop:
        body["stop_sequences"] = p.stop
    # The current Messages API (SDK 2.x) takes no sampling settings at all.
    warnings += _left_out(("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed"),
                          "Anthropic's Messages API", p)
    return Export(_json(body), warnings)


def _llamacpp_extras(p: SamplingParams) -> dict:
    extras = {"top_k": p.top_k, "min_p": p.min_p, "repeat_penalty": p.repeat_penalty}
    if p.stop:
        extras["stop"] = p.stop
    return extras


@exporter("llamacpp-chat", "llama.cpp server /v1/chat/completions request (JSON)", "json")
def to_llamacpp_chat(x: ExportInput) -> Export:
    return Export(_json({**_openai_body(x), **_llamacpp_extras(x.params)}))


def _completion_body(x: ExportInput) -> dict:
    p = x.params
    body = {"prompt": x.raw_prompt, "n_predict": p.max_tokens, "temperature": p.temperature,
            "top_p": p.top_p, "cache_prompt": True, **_llamacpp_extras(p)}
    if x.mode == "urial":
        body["stop"] = sorted(set(body.get("stop", [])) | set(URIAL_STOP))
    if p.seed is not None:
        body["seed"] = p.seed
    return body


@exporter("llamacpp-completion", "llama.cpp server /completion request with the exact "
          "rendered prompt (right for base models and URIAL) (JSON)", "json")
def to_llamacpp_completion(x: ExportInput) -> Export:
    warnings = [] if x.raw_prompt else ["No model was loaded, so the rendered prompt is empty."]
    return Export(_json(_completion_body(x)), warnings)


def _curl(url: str, body: dict) -> str:
    # A quoted here-document passes the JSON through the shell untouched.
    return (f"curl {shlex.quote(url)} \\\n  -H 'Content-Type: application/json' \\\n"
            f"  --data-binary @- <<'JSON'\n{json.dumps(body, indent=2, ensure_ascii=False)}\nJSON\n")


@exporter("curl-openai", "curl command for an OpenAI-compatible server (shell)", "sh")
def to_curl_openai(x: ExportInput) -> Export:
    return Export(_curl(f"{x.server}/v1/chat/completions",
                        {**_openai_body(x), **_llamacpp_extras(x.params)}))


@exporter("curl-llamacpp", "curl command for llama.cpp's /completion (shell)", "sh")
def to_curl_llamacpp(x: ExportInput) -> Export:
    return Export(_curl(f"{x.server}/completion", _completion_body(x)))


# -- tool configurations -------------------------------------------------------------

OLLAMA_PLACEHOLDER = "./model.gguf"


@exporter("ollama", "Ollama Modelfile", "Modelfile")
def to_ollama(x: ExportInput) -> Export:
    p, warnings = x.params, []
    source = x.model_file or OLLAMA_PLACEHOLDER
    if not x.model_file:
        warnings.append(f"No model file is known, so FROM says {OLLAMA_PLACEHOLDER}: put the "
                        "path of your GGUF file there (a bare name would be fetched from "
                        "Ollama's registry).")
    elif not x.model_chosen:
        warnings.append(f"No model was chosen: FROM names the default model ({source}).")
    lines = [f"# Exported from Prompt Workbench: {' '.join(x.document.name.split())}",
             f"FROM {source}", ""]
    if x.lessons:
        lines.insert(1, f"# The \"## Lessons\" block at the end of SYSTEM holds {len(x.lessons)} "
                        "pinned notebook lesson(s).")

    def value(text: str, what: str) -> str:
        quoted, problem = modelfile.quote(text)
        if problem:
            warnings.append(f"{what}: {problem}.")
        return quoted

    system = x.system
    if x.mode == "urial":
        t = UrialTemplate.default()
        system = "\n\n".join(s for s in (t.preamble.strip(), x.system.strip()) if s)
        lines.append('TEMPLATE """{{ if .System }}{{ .System }}\n\n{{ end }}{{ range .Messages }}'
                     '{{ if eq .Role "user" }}# Query:\n```\n{{ .Content }}\n```\n\n# Answer:\n```\n'
                     '{{ else if eq .Role "assistant" }}{{ .Content }}\n```\n\n{{ end }}{{ end }}"""')
        warnings.append("URIAL mode: a TEMPLATE writes the Query/Answer format; the preamble is "
                        "in SYSTEM and the examples are MESSAGE lines.")
    lines.append(f"SYSTEM {value(system, 'The system prompt')}")
    params = {"temperature": p.temperature, "top_p": p.top_p, "top_k": p.top_k, "min_p": p.min_p,
              "repeat_penalty": p.repeat_penalty, "num_predict": p.max_tokens}
    if p.seed is not None:
        params["seed"] = p.seed
    if x.n_ctx:
        params["num_ctx"] = x.n_ctx
    lines += [f"PARAMETER {k} {v}" for k, v in params.items()]
    stops = list(p.stop) + (URIAL_STOP if x.mode == "urial" else [])
    lines += [f"PARAMETER stop {value(s, f'Stop string {json.dumps(s)}')}" for s in stops]
    pairs = ([{"role": r, "content": c} for e in UrialTemplate.default().examples
              for r, c in (("user", e.user), ("assistant", e.assistant))]
             if x.mode == "urial" else [])
    turns = _turns(x)
    if turns and turns[-1]["role"] == "user":
        # A MESSAGE is history Ollama sends before every question: a question left here
        # would be merged into each one the user asks.
        question = turns.pop()["content"]
        warnings.append(f"The last question ({_short(question)}) is not written as a MESSAGE: "
                        "Ollama would put it before every question. Ask it in `ollama run`.")
    for m in pairs + turns:
        what = f"A {m['role']} message"
        lines.append(f"MESSAGE {m['role']} {value(m['content'], what)}")
    return Export("\n".join(lines) + "\n", warnings)


def _short(text: str, n: int = 60) -> str:
    one = " ".join(text.split())
    return json.dumps(one if len(one) <= n else one[:n] + "…", ensure_ascii=False)


def _lmstudio_fields(x: ExportInput) -> list[dict]:
    p = x.params
    fields = [
        {"key": "llm.prediction.systemPrompt",
         "value": system_with_examples(x.system, _pairs(x.shots()))},
        {"key": "llm.prediction.temperature", "value": p.temperature},
        {"key": "llm.prediction.topPSampling", "value": {"checked": True, "value": p.top_p}},
        {"key": "llm.prediction.topKSampling", "value": p.top_k},
        {"key": "llm.prediction.minPSampling", "value": {"checked": True, "value": p.min_p}},
        {"key": "llm.prediction.repeatPenalty", "value": {"checked": True, "value": p.repeat_penalty}},
        {"key": "llm.prediction.maxPredictedTokens", "value": {"checked": True, "value": p.max_tokens}},
    ]
    if p.stop:
        fields.append({"key": "llm.prediction.stopStrings", "value": list(p.stop)})
    if p.seed is not None:  # a checkbox in LM Studio: off means a random seed
        fields.append({"key": "llm.prediction.seed", "value": {"checked": True, "value": p.seed}})
    return fields


@exporter("lmstudio", "LM Studio preset (JSON)", "preset.json")
def to_lmstudio(x: ExportInput) -> Export:
    warnings = (["LM Studio presets have no few-shot turns: the examples are written at the end "
                 "of the system prompt."] if x.shots() else [])
    if _turns(x)[len(x.shots()):]:
        warnings.append("A preset holds no conversation: the conversation's messages are left out.")
    preset = {"identifier": f"@local:{slug(x.document.name)}", "name": x.document.name, "changed": False,
              "operation": {"fields": _lmstudio_fields(x)}, "load": {"fields": []}}
    return Export(_json(preset), warnings)


_NUNJUCKS_OPENERS = re.compile(r"\{(?=[{%#])|#(?=\})")


def _nunjucks_literal(text: str) -> str:
    """TEXT as it must be written for promptfoo's Nunjucks to print it unchanged: every `{`
    that would open a tag ({{ {% {#), and the `#` of a `#}` (which Nunjucks refuses outside a
    comment), is printed by an expression instead."""
    return _NUNJUCKS_OPENERS.sub(lambda m: "{{ '%s' }}" % m.group(0), text)


_QUERY_SLOT = "\u0000query\u0000"


@exporter("promptfoo", "promptfoo config (YAML) with a local OpenAI-compatible provider", "yaml")
def to_promptfoo(x: ExportInput) -> Export:
    p, warnings = x.params, []
    history = list(x.messages)
    if history and history[-1]["role"] == "user":
        history.pop()  # the tests ask the questions
    chat = [{"role": m["role"], "content": _nunjucks_literal(m["content"])} for m in history]
    chat.append({"role": "user", "content": _QUERY_SLOT})
    # The question goes in through Nunjucks' dump (JSON.stringify), so quotes and line
    # breaks in it keep the JSON valid.
    raw = json.dumps(chat, ensure_ascii=False).replace(json.dumps(_QUERY_SLOT), "{{ query | dump }}")
    provider_config = {"apiBaseUrl": f"{x.server}/v1", "apiKey": "no-key-needed",
                       "temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens}
    if p.seed is not None:
        provider_config["seed"] = p.seed
    if p.stop:
        provider_config["stop"] = p.stop[:4]
    provider = {"id": f"openai:chat:{x.model}", "config": provider_config}
    config = {
        "description": f"{x.document.name} (exported from Prompt Workbench)",
        "prompts": [{"label": x.document.name, "raw": raw}],
        "providers": [provider],
        "tests": [],
    }
    unknown, judged = set(), False
    for task in x.tasks:
        asserts = []
        for kind, value in promptfoo.task_checks(task):
            a = promptfoo.assertion(kind, value)
            if a is None:
                unknown.add(str(kind))
                continue
            judged = judged or a["type"] == "llm-rubric"
            asserts.append(a)
        config["tests"].append({"vars": {"query": task["query"]}, "assert": asserts})
    if judged:  # grade with the same local model, not promptfoo's default (a paid API)
        config["defaultTest"] = {"options": {"provider": provider}}
        warnings.append("Judge checks become llm-rubric, graded by the same local model with "
                        "promptfoo's own grading prompt, so verdicts can differ from the workbench's.")
    if unknown:
        warnings.append("Checks with no promptfoo equivalent (or a value they cannot take) were "
                        f"left out: {', '.join(sorted(unknown))}.")
    warnings += _left_out(("top_k", "min_p", "repeat_penalty"), "promptfoo's OpenAI provider", p)
    if not x.tasks:
        warnings.append("No task set was chosen: the config has no tests yet.")
    return Export(_yaml(config), warnings)


@exporter("llm", "llm CLI template (YAML)", "yaml")
def to_llm(x: ExportInput) -> Export:
    # llm runs the system text through string.Template: a literal $ is written $$.
    system = system_with_examples(x.system, _pairs(x.shots())).replace("$", "$$")
    warnings = (["llm templates have no few-shot turns: the examples are written at the end of "
                 "the system prompt."] if x.shots() else [])
    # llm-gguf's models take no options at all (they refuse temperature, top_p, max_tokens).
    warnings += [note.replace("left out.", "left out (llm-gguf models take no options; add "
                              "`-o name value` for a model that does).")
                 for note in _left_out(SAMPLING, "An llm template", x.params)]
    return Export(_yaml({"system": system}), warnings)


# -- documents ---------------------------------------------------------------------------

FENCE = "~~~~"


def _fenced(text: str) -> str:
    return f"{FENCE}\n{text}\n{FENCE}"


@exporter("markdown", "Markdown document of the prompt (readable; imports back exactly)", "md")
def to_markdown(x: ExportInput) -> Export:
    d = x.document
    out = [f"# Prompt: {d.name}", ""]
    for s in d.sections:
        out += [f"## Section: {s.name}{'' if s.enabled else ' (disabled)'}", _fenced(s.text), ""]
    if x.lessons:
        out += ["## Lessons", _fenced("\n".join(f"- {lesson}" for lesson in x.lessons)), ""]
    for lesson, demo in zip(x.lessons, x.lesson_demos):
        if demo:
            out += ["## Lesson demonstration", _fenced(lesson), "### User", _fenced(demo[0]),
                    "### Assistant", _fenced(demo[1]), ""]
    for i, e in enumerate(d.examples, 1):
        out += [f"## Example {i}", "### User", _fenced(e.user), "### Assistant",
                _fenced(e.assistant), ""]
    if d.variables:
        out += ["## Variables", _fenced(json.dumps(d.variables, indent=2, ensure_ascii=False)), ""]
    out += ["## Parameters", _fenced(json.dumps(x.params.to_dict(), indent=2)), ""]
    out += ["## Settings", _fenced(json.dumps({"lesson_budget": d.lesson_budget,
                                               "retrieval_k": d.retrieval_k}, indent=2)), ""]
    return Export("\n".join(out))


@exporter("text", "Plain text: the system prompt and the examples", "txt")
def to_text(x: ExportInput) -> Export:
    return Export(system_with_examples(x.system, _pairs(x.shots())) + "\n")


@exporter("finetune-jsonl", "Fine-tuning JSONL (OpenAI messages format) from accepted "
          "answers, with the system prompt each was generated under, minus its lessons", "jsonl")
def to_finetune_jsonl(x: ExportInput) -> Export:
    lines, skipped, unknown, stand_in = [], 0, 0, 0
    for convo in x.training():
        turns = list(convo.turns)
        while turns and not (turns[-1]["role"] == "assistant" and turns[-1]["accepted"]):
            turns.pop()  # what follows the last accepted answer teaches nothing
        unknown += sum(1 for m in convo.turns if m["role"] == "assistant" and m["accepted"] is None)
        if not turns:
            skipped += 1
            continue
        stand_in += not convo.from_run
        system = [{"role": "system", "content": convo.system}] if convo.system else []
        # Few-shot turns and answers nobody accepted are context the model saw, not targets:
        # weight 0 keeps them out of training (OpenAI's multi-turn format).
        shots = [{**m, "weight": 0} if m["role"] == "assistant" else dict(m) for m in convo.shots]
        body = [{"role": m["role"], "content": m["content"]}
                | ({"weight": 0} if m["role"] == "assistant" and not m["accepted"] else {})
                for m in turns]
        lines.append(json.dumps({"messages": system + shots + body}, ensure_ascii=False))
    warnings = []
    if skipped:
        warnings.append(f"{skipped} conversation(s) with no accepted answer were left out.")
    if unknown:
        warnings.append(f"{unknown} answer(s) stored before accepted answers were recorded are "
                        "not known to be accepted, so they are not trained on.")
    if stand_in:
        warnings.append(f"{stand_in} conversation(s) have no record of the prompt they were "
                        "generated under; the current system prompt and examples stand in.")
    if not lines:
        warnings.append("No accepted answers yet: nothing to train on. Answers you accept in the "
                        "window count; command-line chat answers do not.")
    return Export("\n".join(lines) + ("\n" if lines else ""), warnings)
