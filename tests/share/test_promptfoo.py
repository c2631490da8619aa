"""The promptfoo export run by promptfoo itself (`promptfoo eval`, installed by `make setup` into
~/.cache/prompt-workbench/promptfoo): every check kind gives the workbench's verdict on the same
answer, the prompt arrives exactly as written, and it runs against llama-cpp-python's server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import call_cli
from tests.share.conftest import Recorder
from tests.share.test_exporters import make_input
from workbench.evals.checks import make_check, run_check
from workbench.prompt.document import Section
from workbench.share.builder import build_export_input
from workbench.share.exporters import export
from workbench.share.promptfoo import KINDS, task_checks
from workbench.workspace import Workspace

PROMPTFOO = Path.home() / ".cache" / "prompt-workbench" / "promptfoo" / "node_modules" / ".bin" / "promptfoo"
SCHEMA = {"type": "object", "required": ["city"]}
# (check kind, value, the canned answer, the verdict the workbench gives it)
CASES = [
    ("contains", "PARIS", "The capital is paris.", True),
    ("contains", "Rome", "The capital is Paris.", False),
    ("not_contains", "km", "It is 480 KM away.", False),
    ("not_contains", "miles", "It is 480 km away.", True),
    ("equals", "Paris", "  PARIS \n", True),
    ("equals", "Paris", "Paris.", False),
    ("starts_with", "ANSWER:", "Answer: Paris", True),  # the case
    ("starts_with", "ANSWER:", "The answer: Paris", False),
    ("starts_with", "ANSWER:", "\n  answer: Paris", True),
    ("regex", r"^Paris$", "Capital:\nParis\n", True),
    ("regex", "paris", "Paris", False),
    ("regex", "(?i)paris", "PARIS", True),
    ("regex", r"\d+ km\b", "about 480 km", True),
    ("json", None, ' {"a": 1} ', True),
    ("json", None, "not json", False),
    ("json_schema", SCHEMA, '{"city": "Paris"}', True),
    ("json_schema", SCHEMA, '{"town": "Paris"}', False),
    ("max_words", 3, "one two  three", True),
    ("max_words", 3, "one two three four", False),
]


def tasks() -> list[dict]:
    """The cases as task dicts, in each shape tasks come in: today's task (check, value), a
    task with a list of checks, and a task file's own line ({kind: value})."""
    out = []
    for i, (kind, value, _, _) in enumerate(CASES):
        query = f"Case {i}: what is it?"
        if i % 3 == 0:
            out.append({"query": query, "check": kind, "value": value})
        elif i % 3 == 1:
            out.append({"query": query, "checks": [{"type": kind, "value": value}]})
        else:
            out.append({"query": query, kind: value})
    return out


def promptfoo_eval(config: str, tmp_path: Path) -> list[dict]:
    """`promptfoo eval` on CONFIG; its results, in the order of the config's tests."""
    assert PROMPTFOO.exists(), ("promptfoo is not installed: `make setup` installs it with "
                                "npm install --prefix ~/.cache/prompt-workbench/promptfoo promptfoo")
    (tmp_path / "promptfooconfig.yaml").write_text(config)
    env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
           "PROMPTFOO_DISABLE_SHARING": "1", "PROMPTFOO_CONFIG_DIR": str(tmp_path / "pf"),
           "PROMPTFOO_PYTHON": sys.executable}
    proc = subprocess.run([str(PROMPTFOO), "eval", "-c", "promptfooconfig.yaml", "-o", "out.json",
                           "--no-cache", "--no-progress-bar", "--no-table", "-j", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = tmp_path / "out.json"
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())["results"]["results"]
    return sorted(results, key=lambda r: r["testIdx"])


def canned(answers: dict[str, str]):
    def reply(path, body):
        question = body["messages"][-1]["content"]
        return {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": answers[question]}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return reply


def test_every_check_kind_has_an_assertion_and_bad_ones_are_named():
    values = {"json": None, "json_schema": SCHEMA, "max_words": 5}
    for kind in KINDS:
        out = export("promptfoo", make_input(tasks=[{"query": "q", "check": kind,
                                                     "value": values.get(kind, "x")}]))
        assert yaml.safe_load(out.text)["tests"][0]["assert"], kind
    out = export("promptfoo", make_input(tasks=[{"query": "q", "check": "max_words", "value": "many"},
                                                {"query": "q", "check": "sounds_nice", "value": 1}]))
    assert "max_words, sounds_nice" in " ".join(out.warnings)


def test_promptfoo_gives_the_workbenchs_verdict_for_every_check(tmp_path):
    x = make_input(tasks=tasks())
    x.system = x.messages[0]["content"] = "You are {{model}}. Keep {% raw %} and {# this #}."
    answers = {t["query"]: answer for t, (_, _, answer, _) in zip(x.tasks, CASES)}
    with Recorder(canned(answers)) as server:
        x.server = server.url
        results = promptfoo_eval(export("promptfoo", x).text, tmp_path)
    ours = [run_check(make_check(kind, value), answer).passed for kind, value, answer, _ in CASES]
    assert ours == [expected for *_, expected in CASES]  # the workbench's meaning, written out
    assert [r["success"] for r in results] == ours
    # What the server got: the prompt exactly as written, the question exactly as asked.
    sent = server.requests[0]["body"]
    assert sent["messages"][:-1] == x.messages
    assert sent["messages"][-1] == {"role": "user", "content": x.tasks[0]["query"]}


def test_a_question_with_quotes_and_braces_reaches_the_model_unchanged(tmp_path):
    question = 'Quote "this"\nand {{ that }} {% if %}'
    x = make_input(tasks=[{"query": question, "check": "contains", "value": "ok"}])
    with Recorder(canned({question: "ok"})) as server:
        x.server = server.url
        (result,) = promptfoo_eval(export("promptfoo", x).text, tmp_path)
    assert result["success"] and server.requests[0]["body"]["messages"][-1]["content"] == question


ROBUST = [  # cases whose verdict holds for any answer a greedy small model gives
    {"query": "What is the capital of France?", "contains": "PARIS"},
    {"query": "What is the capital of France?", "starts_with": "zzz"},
    {"query": "Say hello.", "max_words": 400},
    {"query": "Say hello.", "regex": "(?i)[a-z]"}]


def test_against_llama_cpp_pythons_server_promptfoo_agrees_with_workbench_eval(openai_server, tmp_path):
    ws = Workspace.open()
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    doc.sections = [Section("role", "You are a helpful assistant. Answer in one sentence.")]
    doc.params = {"temperature": 0, "max_tokens": 24, "seed": 0}
    ws.prompts.save_draft(ws.prompts.active_id(), doc)
    task_file = tmp_path / "cases.jsonl"
    task_file.write_text("".join(json.dumps(t) + "\n" for t in ROBUST))
    config = export("promptfoo", build_export_input(ws, doc, tasks=ROBUST, server=openai_server)).text
    results = promptfoo_eval(config, tmp_path)
    answers = [r["response"]["output"] for r in results]
    assert all(a.strip() for a in answers)
    # The workbench's checks on promptfoo's own answers give promptfoo's verdicts...
    ours = [all(run_check(make_check(kind, value), a).passed for kind, value in task_checks(t))
            for t, a in zip(ROBUST, answers)]
    assert [r["success"] for r in results] == ours == [True, False, True, True]
    # ...and `workbench eval`, answering with the workbench's own engine, gives the same.
    data = json.loads(call_cli("eval", "--tasks", str(task_file), "--json").stdout)
    assert [c["results"][0]["passed"] for c in data["cases"]] == ours
