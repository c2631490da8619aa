"""`workbench export` and `workbench import` say what they convert or leave out."""

import json

from tests.conftest import call_cli
from workbench.workspace import Workspace


def test_import_prints_its_warnings_and_brings_lessons_back_once(tmp_path):
    call_cli("prompt", "set-section", "role", "You are terse.")
    call_cli("lessons", "add", "Give distances in km.", "--pin")
    out = tmp_path / "request.json"
    call_cli("export", "--format", "openai", "--out", str(out))
    body = json.loads(out.read_text())
    body["tools"] = [{"type": "function", "function": {"name": "f"}}]
    body["messages"].append({"role": "user", "content": "An unanswered question"})
    out.write_text(json.dumps(body))
    proc = call_cli("import", str(out))
    assert "note: Not imported from the request" in proc.stderr and "tools" in proc.stderr
    assert "An unanswered question" in proc.stderr
    assert "already in your notebook" in proc.stderr and "now active" in proc.stderr
    ws = Workspace.open()
    assert len(ws.notebook.lessons()) == 1
    shown = call_cli("prompt", "show").stdout
    assert "You are terse." in shown and "Give distances in km." not in shown.split("## Lessons")[0]


def test_export_notes_go_to_stderr_and_the_file_stays_clean(tmp_path):
    call_cli("prompt", "set-section", "role", "You are {{model}}.")
    out = tmp_path / "Modelfile"
    proc = call_cli("export", "--format", "ollama", "--out", str(out))
    assert "note: No model file is known" in proc.stderr and "{{model}}" in proc.stderr
    text = out.read_text()
    assert text.splitlines()[1] == "FROM ./model.gguf" and "note:" not in text


def test_a_file_of_no_known_format_says_how_to_name_it(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("just some words")
    proc = call_cli("import", str(f), check=False)
    assert proc.returncode == 1 and "Pass --format" in proc.stderr
