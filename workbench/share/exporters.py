"""Export a composed prompt to the formats other tools read: one pure function per format.

Adding a format is one function registered with @exporter, and one test.
"""

import json
import shlex
from dataclasses import dataclass, field
from typing import Callable

import yaml

from workbench.prompt.document import Example, PromptDocument
from workbench.prompt.urial import STOP as URIAL_STOP
from workbench.prompt.urial import UrialTemplate
from workbench.runtime.params import SamplingParams

DEFAULT_SERVER = "http://127.0.0.1:8080"
EXAMPLES_HEADING = "## Examples"  # how formats without few-shot turns carry examples


@dataclass
class ExportInput:
    """Everything an exporter may need; built by the workspace, read-only here."""

    document: PromptDocument
    system: str  # the composed system prompt: sections (variables filled) + pinned lessons
    messages: list[dict]  # system, examples as turns, conversation
    params: SamplingParams
    model: str = "local-model"  # the model name a server knows
    model_file: str = ""  # the GGUF path (Ollama's FROM), when a model is loaded
    mode: str = "chat"  # "chat", "urial" or "raw"
    raw_prompt: str = ""  # the exact rendered text (chat template or URIAL), if known
    lessons: list[str] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)  # for promptfoo tests
    conversations: list[list[dict]] = field(default_factory=list)  # for fine-tuning
    base_system: str = ""  # the system prompt without the lessons block (fine-tuning)
    n_ctx: int = 0
    server: str = DEFAULT_SERVER


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


def export(name: str, x: ExportInput) -> Export:
    from workbench.errors import WorkbenchError
    if name not in FORMATS:
        raise WorkbenchError(f"Unknown export format {name!r}. Formats: {', '.join(FORMATS)}.")
    return FORMATS[name].fn(x)


def _json(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _turns(x: ExportInput) -> list[dict]:
    return [m for m in x.messages if m["role"] != "system"]


def system_with_examples(system: str, examples: list[Example]) -> str:
    """For targets with no few-shot turns: examples as a readable block that
    import_system_with_examples() can take apart again."""
    if not examples:
        return system
    block = "\n\n".join(f"User: {e.user}\nAssistant: {e.assistant}" for e in examples)
    return f"{system}\n\n{EXAMPLES_HEADING}\n\n{block}".strip()


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
        warnings.append("OpenAI accepts at most 4 stop strings; the rest were left out.")
    warnings += [f"{name} has no OpenAI equivalent and was left out."
                 for name in ("top_k", "min_p", "repeat_penalty")]
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
    body = {"model": x.model, "max_tokens": p.max_tokens, "system": x.system,
            "messages": merged, "temperature": min(p.temperature, 1.0), "top_p": p.top_p,
            "top_k": p.top_k}
    if p.temperature > 1.0:
        warnings.append(f"Anthropic's temperature is at most 1.0; {p.temperature} became 1.0.")
    if p.stop:
        body["stop_sequences"] = p.stop
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


def _triple_quoted(text: str) -> str:
    return '"""' + text.replace('"""', '" " "') + '"""'


@exporter("ollama", "Ollama Modelfile", "Modelfile")
def to_ollama(x: ExportInput) -> Export:
    p, warnings = x.params, []
    lines = [f"# Exported from Prompt Workbench: {x.document.name}",
             f"FROM {x.model_file or x.model}", ""]
    system = x.system
    if x.mode == "urial":
        t = UrialTemplate.default()
        system = "\n\n".join(s for s in (t.preamble.strip(), x.system.strip()) if s)
        lines.append('TEMPLATE """{{ if .System }}{{ .System }}\n\n{{ end }}{{ range .Messages }}'
                     '{{ if eq .Role "user" }}# Query:\n```\n{{ .Content }}\n```\n\n# Answer:\n```\n'
                     '{{ else if eq .Role "assistant" }}{{ .Content }}\n```\n\n{{ end }}{{ end }}"""')
        warnings.append("URIAL mode: a TEMPLATE writes the Query/Answer format; the preamble is "
                        "in SYSTEM and the examples are MESSAGE lines.")
    if '"""' in system:
        warnings.append('The system prompt contained """, which Modelfiles cannot quote; '
                        'it was written as " " ".')
    lines.append(f"SYSTEM {_triple_quoted(system)}")
    params = {"temperature": p.temperature, "top_p": p.top_p, "top_k": p.top_k, "min_p": p.min_p,
              "repeat_penalty": p.repeat_penalty, "num_predict": p.max_tokens}
    if p.seed is not None:
        params["seed"] = p.seed
    if x.n_ctx:
        params["num_ctx"] = x.n_ctx
    lines += [f"PARAMETER {k} {v}" for k, v in params.items()]
    stops = list(p.stop) + (URIAL_STOP if x.mode == "urial" else [])
    lines += [f"PARAMETER stop {json.dumps(s)}" for s in stops]
    pairs = ([{"role": r, "content": c} for e in UrialTemplate.default().examples
              for r, c in (("user", e.user), ("assistant", e.assistant))]
             if x.mode == "urial" else [])
    for m in pairs + _turns(x):
        lines.append(f"MESSAGE {m['role']} {_triple_quoted(m['content'])}")
    return Export("\n".join(lines) + "\n", warnings)


def _lmstudio_fields(x: ExportInput) -> list[dict]:
    p = x.params
    fields = [
        {"key": "llm.prediction.systemPrompt",
         "value": system_with_examples(x.system, x.document.examples)},
        {"key": "llm.prediction.temperature", "value": p.temperature},
        {"key": "llm.prediction.topPSampling", "value": {"checked": True, "value": p.top_p}},
        {"key": "llm.prediction.topKSampling", "value": p.top_k},
        {"key": "llm.prediction.minPSampling", "value": {"checked": True, "value": p.min_p}},
        {"key": "llm.prediction.repeatPenalty", "value": {"checked": True, "value": p.repeat_penalty}},
        {"key": "llm.prediction.maxPredictedTokens", "value": {"checked": True, "value": p.max_tokens}},
    ]
    if p.stop:
        fields.append({"key": "llm.prediction.stopStrings", "value": list(p.stop)})
    return fields


@exporter("lmstudio", "LM Studio preset (JSON)", "preset.json")
def to_lmstudio(x: ExportInput) -> Export:
    slug = "".join(c if c.isalnum() else "-" for c in x.document.name.lower()).strip("-") or "prompt"
    warnings = (["LM Studio presets have no few-shot turns: the examples are written at the end "
                 "of the system prompt."] if x.document.examples else [])
    preset = {"identifier": f"@local:{slug}", "name": x.document.name, "changed": False,
              "operation": {"fields": _lmstudio_fields(x)}, "load": {"fields": []}}
    return Export(_json(preset), warnings)


CHECK_TO_PROMPTFOO = {"contains": "contains", "not_contains": "not-contains", "regex": "regex",
                      "equals": "equals", "starts_with": "starts-with", "json": "is-json"}


@exporter("promptfoo", "promptfoo config (YAML) with a local OpenAI-compatible provider", "yaml")
def to_promptfoo(x: ExportInput) -> Export:
    p = x.params
    history = [m for m in x.messages if not (m is x.messages[-1] and m["role"] == "user")]
    chat = history + [{"role": "user", "content": "{{query}}"}]
    config = {
        "description": f"{x.document.name} (exported from Prompt Workbench)",
        "prompts": [{"label": x.document.name, "raw": json.dumps(chat, ensure_ascii=False)}],
        "providers": [{"id": f"openai:chat:{x.model}", "config": {
            "apiBaseUrl": f"{x.server}/v1", "apiKey": "no-key-needed",
            "temperature": p.temperature, "top_p": p.top_p, "max_tokens": p.max_tokens}}],
        "tests": [],
    }
    for task in x.tasks:
        check, value = task["check"], task.get("value")
        assertion = {"type": CHECK_TO_PROMPTFOO[check]}
        if check != "json":
            assertion["value"] = value
        config["tests"].append({"vars": {"query": task["query"]}, "assert": [assertion]})
    warnings = [] if x.tasks else ["No task set was chosen: the config has no tests yet."]
    return Export(_yaml(config), warnings)


@exporter("llm", "llm CLI template (YAML)", "yaml")
def to_llm(x: ExportInput) -> Export:
    p = x.params
    template = {"system": system_with_examples(x.system, x.document.examples), "prompt": "$input",
                "options": {"temperature": p.temperature, "top_p": p.top_p,
                            "max_tokens": p.max_tokens}}
    warnings = (["llm templates have no few-shot turns: the examples are written at the end of "
                 "the system prompt."] if x.document.examples else [])
    return Export(_yaml(template), warnings)


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
        out += ["## Lessons", _fenced("\n".join(f"- {l}" for l in x.lessons)), ""]
    for i, e in enumerate(d.examples, 1):
        out += [f"## Example {i}", "### User", _fenced(e.user), "### Assistant",
                _fenced(e.assistant), ""]
    if d.variables:
        out += ["## Variables", _fenced(json.dumps(d.variables, indent=2, ensure_ascii=False)), ""]
    out += ["## Parameters", _fenced(json.dumps(x.params.to_dict(), indent=2)), ""]
    return Export("\n".join(out))


@exporter("text", "Plain text: the system prompt and the examples", "txt")
def to_text(x: ExportInput) -> Export:
    return Export(system_with_examples(x.system, x.document.examples) + "\n")


@exporter("finetune-jsonl", "Fine-tuning JSONL (OpenAI messages format) from accepted "
          "conversations, with the system prompt minus its lessons", "jsonl")
def to_finetune_jsonl(x: ExportInput) -> Export:
    lines, skipped = [], 0
    for convo in x.conversations:
        turns = [{"role": m["role"], "content": m["content"]} for m in convo
                 if m["role"] in ("user", "assistant")]
        if not any(m["role"] == "assistant" for m in turns):
            skipped += 1
            continue
        while turns and turns[-1]["role"] != "assistant":
            turns.pop()  # a trailing question has no answer to learn from
        system = [{"role": "system", "content": x.base_system}] if x.base_system else []
        lines.append(json.dumps({"messages": system + turns}, ensure_ascii=False))
    warnings = [f"{skipped} conversation(s) without an accepted answer were skipped."] if skipped else []
    if not lines:
        warnings.append("No accepted conversations yet: nothing to train on.")
    return Export("\n".join(lines) + ("\n" if lines else ""), warnings)
