"""`workbench lessons` and `workbench prompt` end to end, in a subprocess, on a real file."""

import json

import pytest

from tests.conftest import call_cli as workbench
from tests.conftest import run_cli


def test_lessons_lifecycle(tmp_path):
    assert "#1" in workbench("lessons", "add", "When the user asks for a list, number it.",
                             "--tag", "format", "--pin").stdout
    dup = workbench("lessons", "add", "When the user asks for a list, number it!", check=False)
    assert dup.returncode == 3 and "nearly duplicates lesson #1" in dup.stderr
    merged = workbench("lessons", "add", "When the user asks for lists, number them.", "--merge")
    assert merged.stdout.startswith("#1 ") and "number them" in merged.stdout
    workbench("lessons", "add", "When you give a distance, use kilometres.", "--tag", "units")
    hits = json.loads(workbench("lessons", "search", "kilometre", "--json").stdout)
    assert [h["text"] for h in hits] == ["When you give a distance, use kilometres."]
    assert "[kilometres]" in hits[0]["snippet"]
    assert workbench("lessons", "search", 'AND ( "* NEAR(').returncode == 0
    workbench("lessons", "edit", "3", "When you give a distance, use km.")
    workbench("lessons", "retire", "3", "--reason", "too terse")
    listed = workbench("lessons", "list").stdout
    assert "km" not in listed and "number them" in listed
    history = workbench("lessons", "history", "3").stdout
    assert [line.split()[1] for line in history.splitlines()] == ["add", "edit", "retire"]


def test_lessons_export_import(tmp_path, monkeypatch):
    workbench("lessons", "add", "Greet the user by name.", "--tag", "tone", "--pin")
    out = tmp_path / "notebook.md"
    workbench("lessons", "export", str(out))
    assert "- [pinned] Greet the user by name. #tone" in out.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text('{"lessons": [{"text": "fine"}, {"text": ""}]}')
    proc = workbench("lessons", "import", str(bad), check=False)
    assert proc.returncode == 1 and "lessons[1].text" in proc.stderr
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "elsewhere"))
    workbench("lessons", "import", str(out))
    assert "Greet the user by name." in workbench("lessons", "list").stdout


def test_prompt_versions_diff_restore_render():
    workbench("prompt", "set-section", "role", "You are a pirate.")
    workbench("prompt", "set-section", "output format", "Answer in one sentence.")
    versions = workbench("prompt", "versions").stdout.splitlines()
    assert [v.split()[0] for v in versions] == ["v1", "v2", "v3"]
    diff = workbench("prompt", "diff", "1", "2").stdout
    assert "+You are a pirate." in diff  # version 1's role was empty (a new prompt starts empty)
    workbench("prompt", "restore", "1")
    shown = workbench("prompt", "show").stdout
    assert "pirate" not in shown and "Answer in one sentence." not in shown
    workbench("lessons", "add", "When asked about the sea, mention tides.")
    rendered = json.loads(workbench("prompt", "render", "--query", "Tell me about the sea").stdout)
    # Version 1 is empty, so there is no system message: the retrieved lesson rides with the
    # question, never in a system prompt.
    assert rendered[-1]["role"] == "user" and "mention tides" in rendered[-1]["content"]
    assert not any("tides" in m["content"] for m in rendered if m["role"] == "system")
    workbench("prompt", "set-section", "role", "You are {{persona}}.")
    proc = workbench("prompt", "render", check=False)
    assert proc.returncode == 1 and "{{persona}}" in proc.stderr
    workbench("prompt", "set-var", "persona", "a pirate")
    assert "You are a pirate." in workbench("prompt", "render").stdout


@pytest.mark.model  # `chat` runs the default model
def test_chat_logs_the_run_with_the_active_prompt(workbench_home):
    run_cli("lessons", "add", "Reply in English.", "--pin")
    run_cli("chat", "--temperature", "0", "--max-tokens", "16", "Hello!")
    from workbench.workspace import Workspace
    runs = Workspace.open().runs.recent()
    assert len(runs) == 1 and runs[0]["lesson_ids"] == [1]
    assert "Reply in English." in runs[0]["rendered_prompt"]
