"""Export and import: round trips, target schemas, malformed files, and real clients."""

import json
import subprocess
import urllib.request
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import GREEDY, run_cli, words
from workbench.cli.main import main as cli_main
from workbench.errors import ImportFormatError
from workbench.prompt.compose import compose
from workbench.prompt.document import Example, PromptDocument, Section
from workbench.runtime.generation import collect, prompt_tokens, stream
from workbench.runtime.params import SamplingParams
from workbench.share.builder import build_export_input
from workbench.share.exporters import FORMATS, SAMPLING, ExportInput, TrainingConversation, export
from workbench.share.importers import IMPORTERS, import_text
from workbench.workspace import Workspace

SCHEMAS = Path(__file__).parent / "schemas"


def schema(name):
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def make_input(**kw) -> ExportInput:
    doc = PromptDocument(name="Support bot", sections=[
        Section("role", "You are a support agent for Acme."),
        Section("tools", "none", enabled=False),
        Section("output format", 'Answer in two sentences. Use "quotes" and ```code``` freely.')],
        examples=[Example("Where is my order?", "Let me check: what is the order number?"),
                  Example("Thanks!", "You're welcome.")],
        params={"temperature": 0.3, "top_p": 0.9, "max_tokens": 200, "seed": 4, "top_k": 20,
                "min_p": 0.1, "repeat_penalty": 1.05, "stop": ["###"]})
    c = compose(doc, [], pinned=[], count_tokens=words, n_ctx=4096)
    p = SamplingParams(**doc.params)
    return ExportInput(document=doc, system=c.system_prompt, messages=c.messages, params=p, **kw)


# format -> the sampling fields that survive export -> import (the README's round-trip table);
# every other one is named in the export's notes.
ROUND_TRIP = {
    "openai": {"temperature", "top_p", "max_tokens", "seed", "stop"},
    "anthropic": {"max_tokens", "stop"},
    "ollama": set(SAMPLING),
    "llm": set(),
    "lmstudio": set(SAMPLING),
    "markdown": set(SAMPLING),
}


@pytest.mark.parametrize("fmt", sorted(ROUND_TRIP))
def test_round_trip(fmt):
    x = make_input()
    out = export(fmt, x)
    back = import_text(out.text, fmt)
    again = compose(back, [], count_tokens=words, n_ctx=4096)
    assert again.system_prompt == x.system
    assert back.examples == x.document.examples
    for key in ROUND_TRIP[fmt]:
        assert back.params[key] == x.document.params[key], key
    for key in set(SAMPLING) - ROUND_TRIP[fmt]:  # not kept: said, not dropped silently
        assert key not in back.params
        assert any(key in w for w in out.warnings), (key, out.warnings)


def test_markdown_keeps_sections_exactly():
    x = make_input()
    back = import_text(export("markdown", x).text)  # format detected
    assert back.sections == x.document.sections and back.name == "Support bot"


def test_format_detection():
    x = make_input()
    for fmt in ("openai", "anthropic", "lmstudio", "ollama", "markdown"):
        assert import_text(export(fmt, x).text).examples == x.document.examples


@pytest.mark.parametrize("fmt, name", [
    ("openai", "openai_chat_request"), ("anthropic", "anthropic_messages_request"),
    ("llamacpp-chat", "llamacpp_chat_request"), ("lmstudio", "lmstudio_preset")])
def test_json_exports_match_the_targets_schema(fmt, name):
    jsonschema.validate(json.loads(export(fmt, make_input()).text), schema(name))


def test_completion_export_matches_schema():
    x = make_input(raw_prompt="<|im_start|>system\nHi<|im_end|>\n", mode="chat")
    jsonschema.validate(json.loads(export("llamacpp-completion", x).text),
                        schema("llamacpp_completion_request"))


def test_anthropic_alternates_and_flags_what_does_not_fit():
    x = make_input()
    x.messages = [x.messages[0], {"role": "assistant", "content": "Hi"},
                  {"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    out = export("anthropic", x)
    body = json.loads(out.text)
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "user"] and body["messages"][-1]["content"] == "a\n\nb"
    assert body["system"] == x.system and body["stop_sequences"] == ["###"]
    # The current Messages API takes no sampling settings: none are sent, each is named.
    assert not {"temperature", "top_p", "top_k", "seed"} & set(body)
    notes = " ".join(out.warnings)
    assert "merged" in notes
    assert all(k in notes for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed"))
    jsonschema.validate(body, schema("anthropic_messages_request"))


def test_finetune_jsonl_trains_on_accepted_answers_only():
    x = make_input()
    shots = [{"role": "user", "content": "Where is my order?"},
             {"role": "assistant", "content": "Let me check: what is the order number?"}]
    x.conversations = [
        TrainingConversation("You are a support agent.", shots, [
            {"role": "user", "content": "Hi", "accepted": None},
            {"role": "assistant", "content": "Hello", "accepted": True},
            {"role": "user", "content": "Capital of Peru?", "accepted": None},
            {"role": "assistant", "content": "Pepé is the capital of Peru.", "accepted": False},
            {"role": "user", "content": "unanswered", "accepted": None}]),
        TrainingConversation("s", [], [{"role": "user", "content": "q", "accepted": None},
                                       {"role": "assistant", "content": "cli", "accepted": False}]),
        TrainingConversation("s", [], [{"role": "user", "content": "q", "accepted": None},
                                       {"role": "assistant", "content": "old", "accepted": None}])]
    out = export("finetune-jsonl", x)
    lines = [json.loads(line) for line in out.text.splitlines()]
    assert len(lines) == 1
    messages = lines[0]["messages"]
    jsonschema.validate(lines[0], schema("finetune_line"))
    assert messages[0] == {"role": "system", "content": "You are a support agent."}
    assert messages[1:3] == [shots[0], {**shots[1], "weight": 0}]  # few-shot: context only
    assert messages[-1] == {"role": "assistant", "content": "Hello"}  # nothing after it
    assert "Pepé" not in out.text and "cli" not in out.text and "old" not in out.text
    notes = " ".join(out.warnings)
    assert "2 conversation(s) with no accepted answer" in notes and "1 answer(s) stored before" in notes


def test_promptfoo_config_with_tests_from_tasks():
    x = make_input(tasks=[{"query": "How far is Paris?", "check": "contains", "value": "km"},
                          {"query": "Give JSON", "check": "json", "value": None},
                          {"query": 'Say "hi"\nthere', "checks": [{"type": "starts_with", "value": "ANSWER:"},
                                                               {"type": "max_words", "value": 5}]}])
    x.system = x.messages[0]["content"] = "You are {{model}}; say {% raw %} and {# no #}."
    out = export("promptfoo", x)
    config = yaml.safe_load(out.text)
    raw = config["prompts"][0]["raw"]
    assert raw.endswith('{"role": "user", "content": {{ query | dump }}}]')
    assert config["providers"][0]["config"]["apiBaseUrl"] == "http://127.0.0.1:8080/v1"
    assert config["tests"][0] == {"vars": {"query": "How far is Paris?"},
                                  "assert": [{"type": "icontains", "value": "km"}]}
    assert config["tests"][1]["assert"] == [{"type": "is-json"}]
    assert [a["type"] for a in config["tests"][2]["assert"]] == ["javascript", "javascript"]
    # What Nunjucks prints is the text as written (tests/share/test_consumers.py renders it
    # with promptfoo's own Nunjucks).
    assert "{{model}}" not in raw and "{{ '{' }}{model}}" in raw


def test_ollama_urial_template_for_base_models():
    from workbench.share import modelfile
    x = make_input(mode="urial", model_file="/models/gemma.gguf")
    text = export("ollama", x).text
    assert "FROM /models/gemma.gguf" in text and 'TEMPLATE """' in text
    stops = [v for _, c, w, v in modelfile.commands(text) if c == "PARAMETER" and w == "stop"]
    assert stops == ["###", "```", "# Query"]


def test_every_format_is_registered_with_an_extension():
    assert len(FORMATS) >= 13 and all(f.extension for f in FORMATS.values())
    assert set(IMPORTERS) == set(ROUND_TRIP)


@pytest.mark.parametrize("fmt, text, where", [
    ("openai", '{"model": "x", "messages": [{"role": "wizard", "content": "hi"}]}', "messages[0].role"),
    ("openai", '{"model": "x", "messages": [{"role": "user", "content": "a"},', "line 1"),
    ("openai", '{"model": "x"}', "messages: missing"),
    ("openai", '{"messages": [], "temperature": "hot"}', "temperature must be a number"),
    ("anthropic", '{"system": 5, "messages": []}', "system must be text"),
    ("anthropic", '{"system": "s", "messages": [{"role": "user", "content": [1]}]}', "messages[0]"),
    ("lmstudio", '{"name": "x", "operation": {}}', "operation.fields"),
    ("lmstudio", '{"operation": {"fields": [{"key": "llm.prediction.systemPrompt", "value": 3}]}}',
     "operation.fields[0].value"),
    ("llm", "system: [unclosed", "line 1"),
    ("llm", "model: x", "needs a 'system' or 'prompt'"),
    ("ollama", 'FROM x\nSYSTEM """never closed\n', "Line 2"),
    ("ollama", "FROM x\nPARAMETER temperature hot\n", "Line 2"),
    ("ollama", "FROM x\nMAGIC words\n", "Line 2"),
    ("ollama", "SYSTEM hi\n", "FROM line"),
    ("markdown", "# Prompt: x\n## Section: a\n~~~~\nnever closed\n", "Line 3"),
    ("markdown", "# Prompt: x\nloose text\n", "Line 2"),
    ("markdown", "# Prompt: x\n## Parameters\n~~~~\n{bad json\n~~~~\n", "Parameters is not valid JSON"),
])
def test_malformed_imports_name_the_place_and_write_nothing(tmp_path, workbench_home, capsys,
                                                           fmt, text, where):
    with pytest.raises(ImportFormatError) as e:
        import_text(text, fmt)
    assert where in str(e.value)
    f = tmp_path / "bad.txt"
    f.write_text(text)
    # `workbench import` in this process (17 interpreters would cost the pure tier ~10 s);
    # test_cli_export_and_import runs the command in a subprocess.
    assert cli_main(["import", str(f), "--format", fmt]) == 1
    assert where in capsys.readouterr().err
    assert Workspace.open(workbench_home / "workbench.db").prompts.documents() == []  # nothing written


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def test_openai_export_gets_an_answer_from_a_real_server(openai_server):
    x = make_input()
    x.messages = x.messages + [{"role": "user", "content": "What is the capital of France?"}]
    x.params.temperature, x.params.max_tokens = 0, 30
    reply = post(f"{openai_server}/v1/chat/completions", json.loads(export("openai", x).text))
    assert reply["choices"][0]["message"]["content"].strip()
    assert 0 < reply["usage"]["completion_tokens"] <= 30  # the exported max_tokens was obeyed


def test_curl_export_runs_as_written(openai_server):
    x = make_input(server=openai_server)
    x.messages = x.messages + [{"role": "user", "content": "Say hello."}]
    x.params.max_tokens = 10
    out = subprocess.run(["bash", "-c", export("curl-openai", x).text], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    reply = json.loads(out)
    assert reply["choices"][0]["message"]["content"]
    assert 0 < reply["usage"]["completion_tokens"] <= 10


def test_completion_prompt_for_a_base_model_reproduces_the_workbench(ws, base_engine):
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    x = build_export_input(ws, doc, base_engine, query="What is the capital of France?")
    body = json.loads(export("llamacpp-completion", x).text)
    assert x.mode == "urial" and body["prompt"].endswith("# Answer:\n```\n")
    # What llama.cpp's /completion does with it: tokenize with BOS, stop at the stop strings.
    assert base_engine.completion_tokens(body["prompt"]) == prompt_tokens(base_engine, "urial", x.messages)
    greedy = replace(GREEDY, max_tokens=40, repeat_penalty=1.1)
    # Both from an empty cache, so the two runs compute the same thing on any CPU and only
    # the stop strings can make them differ.
    base_engine._llm.reset()
    served, _ = collect(base_engine.stream_completion(body["prompt"], greedy, body["stop"]))
    base_engine._llm.reset()
    ours, _ = collect(stream(base_engine, "urial", x.messages, greedy))
    assert served.strip() == ours.strip() and "paris" in ours.lower()


def test_cli_export_and_import(tmp_path):
    run_cli("prompt", "set-section", "role", "You are a pirate.")
    assert "openai" in run_cli("export", "--list").stdout
    out = tmp_path / "p.md"
    run_cli("export", "--format", "markdown", "--out", str(out))
    assert "You are a pirate." in out.read_text()
    proc = run_cli("import", str(out))
    assert "now active" in proc.stderr
    assert "You are a pirate." in run_cli("prompt", "show").stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "x", "messages": [{"role": "wizard", "content": "hi"}]}')
    proc = run_cli("import", str(bad), "--format", "openai", check=False)
    assert proc.returncode == 1 and "messages[0].role" in proc.stderr and "Traceback" not in proc.stderr


def test_export_composes_as_the_workbench_does_retrieved_lessons_included(ws, chat_engine):
    ws.notebook.add("When asked about distances, give them in kilometres.")  # retrieved-only
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    x = build_export_input(ws, doc, chat_engine, query="What distance is Rome from Milan?")
    ours = ws.compose(doc, [{"role": "user", "content": "What distance is Rome from Milan?"}],
                      chat_engine)
    assert x.messages == ours.messages and "kilometres" in x.messages[-1]["content"]
    assert "kilometres" in json.loads(export("llamacpp-completion", x).text)["prompt"]


def test_export_file_names_follow_the_prompt_and_each_tools_convention():
    from workbench.share.exporters import file_name, slug
    assert slug("Support bot (v2)") == "support-bot-v2" and slug("  ") == slug("???") == "prompt"
    assert slug("Café — résumé") == "café-résumé"  # letters of any script stay
    assert file_name("Support bot", "openai") == "support-bot.json"
    assert file_name("Support bot", "lmstudio") == "support-bot.preset.json"
    assert file_name("Support bot", "ollama") == "Modelfile"
