"""The window's import and export say what was converted or left out (real window, offscreen)."""

import json

import pytest

from workbench.app import build, shutdown
from workbench.workspace import Workspace

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):
    w, thread = build(load_model=False)
    qtbot.addWidget(w)
    w.show()
    notices = []
    shown = w.notify
    w.notify = lambda message, kind="info", action=None: (notices.append((message, kind)),
                                                          shown(message, kind, action))
    w.recorded = notices
    yield w
    shutdown(w, thread)


def test_an_import_shows_its_warnings_and_keeps_lessons_single(window, tmp_path):
    ws = Workspace.open()
    ws.notebook.add("Give distances in km.", pinned=True)
    f = tmp_path / "support.json"
    f.write_text(json.dumps({"model": "gpt-x", "tools": [{"type": "function"}], "messages": [
        {"role": "system", "content": "You are Acme support.\n\n## Lessons\n- Give distances in km."},
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Still there?"}]}))
    window.sharing.import_file(str(f))
    assert window.prompt.editor.toPlainText() == "You are Acme support."
    ((message, kind),) = window.recorded
    assert kind == "warning" and "tools" in message and "Still there?" in message
    assert "already in your notebook" in message and "--" not in message  # no CLI advice
    assert len(ws.notebook.lessons()) == 1
    assert "Imported support.json" in window.statusBar().currentMessage()


def test_the_export_dialog_lists_what_the_target_cannot_hold(window):
    window.prompt.editor.setPlainText("You are {{model}}. Prices in $USD.")
    dialog = window.sharing.show_export()
    dialog.select("anthropic")
    assert "temperature" in dialog.notes.text() and "{{model}}" in dialog.notes.text()
    assert "--" not in dialog.notes.text()
    dialog.select("llm")
    assert "$$USD" in dialog.preview.toPlainText() and "llm-gguf" in dialog.notes.text()
    dialog.close()


def test_saving_an_export_offers_the_prompts_name_in_the_folder_last_used(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from workbench.ui.export_dialog import ExportDialog
    window.session.document.name = "Support bot (v2)"
    window.prompt.editor.setPlainText("You are Acme support.")
    offered = []

    def save_as(parent, title, suggested, *rest):  # the native dialog cannot be driven offscreen
        offered.append(suggested)
        return str(tmp_path / "out" / ("Modelfile" if suggested.endswith("Modelfile") else "mine.json")), ""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    monkeypatch.setattr(ExportDialog, "folder", None)
    (tmp_path / "out").mkdir()
    dialog = window.sharing.show_export()
    dialog.select("openai")
    dialog.save()
    assert offered[0].endswith("support-bot-v2.json") and "prompt.json" not in offered[0]
    assert "You are Acme support." in json.loads((tmp_path / "out" / "mine.json").read_text())["messages"][0]["content"]
    dialog.select("ollama")
    dialog.save()
    assert offered[1] == str(tmp_path / "out" / "Modelfile")  # where the last one went; Ollama's name
    assert "SYSTEM" in (tmp_path / "out" / "Modelfile").read_text()
    dialog.close()


def test_a_promptfoo_export_from_the_window_tests_the_prompts_test_sets(window):
    import yaml

    from workbench.evals.checks import make_check
    from workbench.evals.sets import TestSetStore
    from workbench.evals.tasks import Task
    window.prompt.editor.setPlainText("You are a geography tutor.")
    TestSetStore(window.session.ws.db).create(window.session.document_id, "capitals", [
        Task("Capital of France?", [make_check("contains", "Paris")]),
        Task("Capital of Norway?", [make_check("regex", "(?i)oslo")])])
    dialog = window.sharing.show_export()
    dialog.select("promptfoo")
    config = yaml.safe_load(dialog.preview.toPlainText())
    assert [t["vars"]["query"] for t in config["tests"]] == ["Capital of France?", "Capital of Norway?"]
    assert config["tests"][0]["assert"][0] == {"type": "icontains", "value": "Paris"}  # ours ignores case
    assert "no tests" not in dialog.notes.text()
    dialog.close()
