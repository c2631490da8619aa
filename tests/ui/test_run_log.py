"""The run log in the real window: every generation listed with its version, model, settings,
stats and rating; the filters; the exact prompt of a run; re-running one with the real model."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from tests.ui.test_library import opened_window
from workbench.chat.runs import RunRecord
from workbench.ui.run_log import RunLogPanel, add_run_log

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def bare_window(qtbot):
    with opened_window(qtbot) as window:
        yield window


@pytest.fixture
def model_window(qtbot, chat_model_path):
    with opened_window(qtbot, load_model=True) as window:
        yield window


def run_log(window) -> RunLogPanel:
    dock = window.findChild(QDockWidget, "runLogDock") or add_run_log(window)
    dock.show()
    dock.raise_()
    return dock.widget()


def log(w, output, model="SmolLM2", version_id=None, temperature=0.7, prompt="<|im_start|>system"):
    s = w.session
    return w.ws.runs.log(RunRecord(
        model_file="/models/smol.gguf", model_name=model, mode="chat",
        params={"temperature": temperature, "seed": 3, "max_tokens": 64}, rendered_prompt=prompt,
        messages=[{"role": "user", "content": "Hi"}], output=output,
        stats={"completion_tokens": 5, "decode_tokens_per_s": 84.2, "prompt_tokens": 20},
        document_id=s.document_id, version_id=version_id, model_sha256=""))


def rows(panel) -> list[list[str]]:
    t = panel.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_runs_are_listed_and_filtered_by_version_model_and_rating(qtbot, bare_window):
    w = bare_window
    panel = run_log(w)
    v1 = w.ws.prompts.latest(w.session.document_id)
    first = log(w, "Hello from version one.", version_id=v1.id)
    second = log(w, "Hello from the draft.", model="Gemma", temperature=0.2, prompt="<bos>exact text")
    w.ws.runs.rate(first, 1, "friendly")
    panel.refresh()
    assert [r[0] for r in rows(panel)] == [str(second), str(first)]
    newest = rows(panel)[0]
    assert newest[2] == "draft" and newest[3] == "Gemma" and newest[4] == "T 0.2 · seed 3 · max 64"
    assert newest[5] == "84 tok/s" and newest[7] == "Hello from the draft."
    assert rows(panel)[1][2] == "v1" and rows(panel)[1][6] == "good"

    panel.rating.setCurrentIndex(panel.rating.findData(1))
    assert [r[0] for r in rows(panel)] == [str(first)]
    panel.rating.setCurrentIndex(panel.rating.findData("none"))
    assert [r[0] for r in rows(panel)] == [str(second)]
    panel.rating.setCurrentIndex(0)
    panel.version.setCurrentIndex(panel.version.findData(1))
    assert [r[0] for r in rows(panel)] == [str(first)]
    panel.version.setCurrentIndex(panel.version.findData("draft"))
    assert [r[0] for r in rows(panel)] == [str(second)]
    panel.version.setCurrentIndex(0)
    panel.model.setCurrentIndex(panel.model.findData("SmolLM2"))
    assert [r[0] for r in rows(panel)] == [str(first)]
    panel.model.setCurrentIndex(0)

    panel.table.selectRow(0)
    assert "Hello from the draft." in panel.detail.toPlainText()
    assert "Gemma" in panel.detail.toPlainText() and "not rated" in panel.detail.toPlainText()
    qtbot.mouseClick(panel.prompt_button, Qt.LeftButton)
    assert panel.dialog.isVisible() and panel.dialog.text.toPlainText() == "<bos>exact text"


def test_runs_of_other_prompts_show_when_asked(qtbot, bare_window):
    w = bare_window
    panel = run_log(w)
    log(w, "Mine.")
    other = w.ws.prompts.create()
    w.ws.runs.log(RunRecord(model_file="x.gguf", model_name="M", mode="chat", params={},
                            rendered_prompt="", messages=[], output="Theirs.", stats={},
                            document_id=other, model_sha256=""))
    panel.refresh()
    assert [r[7] for r in rows(panel)] == ["Mine."]
    panel.all_prompts.setChecked(True)
    assert [r[7] for r in rows(panel)] == ["Theirs.", "Mine."]


def test_rerun_asks_the_same_messages_with_the_same_settings(qtbot, model_window):
    w = model_window
    panel = run_log(w)
    w.sampling.samples.setValue(1)
    w.sampling.seed.setValue(5)
    w.sampling.max_tokens.setValue(20)
    w.input.setPlainText("What is the capital of France?")
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=2000)  # the log follows
    original = w.ws.runs.find()[0]
    w.sampling.max_tokens.setValue(30)  # the user changed a setting since
    w.sampling.seed.setValue(9)
    panel.table.selectRow(0)
    qtbot.mouseClick(panel.rerun_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=60_000)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=2000)
    again = w.ws.runs.find()[0]
    assert again["id"] != original["id"]
    assert again["messages"] == original["messages"] and again["params"] == original["params"]
    assert again["rendered_prompt"] == original["rendered_prompt"]
    assert "paris" in w.outputs.cards[0].text.lower()
    qtbot.mouseClick(w.outputs.cards[0].accept_button, Qt.LeftButton)  # it answers no conversation
    assert "belong to no conversation" in w.notices_seen[-1][0]
    assert w.session.history() == []  # nothing was put into the open conversation
    assert any("Re-running run" in n[0] for n in w.notices_seen)
    # The run used its own settings (the params above); the user's stay in the panel and draft.
    assert w.sampling.max_tokens.value() == 30 and w.sampling.seed.value() == 9
    assert w.session.document.params.get("max_tokens", 30) == 30


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_screenshot_of_the_run_log(qtbot, bare_window, size):
    w = bare_window
    w.resize(*size)
    panel = run_log(w)
    v1 = w.ws.prompts.latest(w.session.document_id)
    for i, text in enumerate(("Paris is the capital of France.", "The capital is Paris.",
                              "France's capital city is Paris, on the Seine.")):
        run = log(w, text, version_id=v1.id if i else None, temperature=0.2 * i)
        if i == 1:
            w.ws.runs.rate(run, -1, "too short")
    panel.refresh()
    panel.table.selectRow(0)
    qtbot.wait(50)
    ARTIFACTS.mkdir(exist_ok=True)
    assert w.grab().save(str(ARTIFACTS / f"run-log-{size[0]}x{size[1]}.png"))
    assert panel.isVisible() and panel.table.rowCount() == 3
