"""Opening the window stays quick in ways that hold on any machine: what it leaves for later (the
model's binding, Markdown's libraries, the evaluation and run log views) is not loaded before the
window is on screen, and the window then shows the user's draft and conversation, ready for typing."""

import json
import subprocess
import sys
import textwrap

from PySide6.QtCore import QSettings

from tests.ui.conftest import settle
from workbench.workspace import Workspace

# Loaded after the window is on screen, if at all: the local model's binding (and Jinja, gguf),
# Markdown and highlighting, HTTP for servers, the evaluations.
LATER = ["llama_cpp", "jinja2", "gguf", "markdown", "pygments", "http.client", "workbench.chat.markdown",
         "workbench.evals.runner", "workbench.ui.eval_view"]

LAUNCH = textwrap.dedent("""
    import json, sys, time
    from workbench.cli.main import parse_args  # as `workbench run` starts: the command line,
    parse_args(["run"])  # then the window
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from workbench.app import build, shutdown
    LATER, OUT, LOAD = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3] == "load"
    app = QApplication(sys.argv[:1])
    window, thread = build(load_model=LOAD)
    window.resize(1366, 768)

    class Painted(QObject):
        seen = False
        def eventFilter(self, obj, event):
            self.seen = self.seen or event.type() == QEvent.Paint
            return False

    painted = Painted()
    window.installEventFilter(painted)
    window.show()
    while not painted.seen:
        app.processEvents()

    def state():
        return {"loaded": [m for m in LATER if m in sys.modules],
                "model_ready": window.model_ready,
                "docks_made": [d.objectName() for d in (window.eval_dock, window.run_log_dock) if d.built],
                "draft": window.prompt.editor.toPlainText(),
                "conversation": window.conversation.toPlainText(),
                "conversation_html": window.conversation.toHtml()}

    first = state()
    first["focus_in_message_box"] = window.focusWidget() is window.input
    QTest.keyClicks(window.input, "typed at once")
    first["message_box"] = window.input.toPlainText()
    deadline = time.time() + 60
    while time.time() < deadline and not ("workbench.chat.markdown" in sys.modules
                                          and not any(f.busy() for f in window.conversation.flows)
                                          and (window.model_ready or not LOAD or window.banner.isVisible())):
        app.processEvents()
        time.sleep(0.002)
    later = state()
    shutdown(window, thread)
    with open(OUT, "w") as f:  # not stdout: the binding silences it while a model loads
        json.dump({"first": first, "later": later}, f)
""")


def launch(tmp_path, load: bool) -> dict:
    """Open the window in a new process as `workbench run` does; what it showed and had loaded at
    its first paint ("first") and once it had done what it leaves until then ("later")."""
    out = tmp_path / "launch.json"
    proc = subprocess.run([sys.executable, "-c", LAUNCH, json.dumps(LATER), str(out),
                           "load" if load else "bare"], capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def users_draft_and_conversation(home) -> None:
    """A saved draft and a conversation with Markdown in it, the conversation the one last open."""
    ws = Workspace.open()
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    doc.sections[0].text = "You answer as a lighthouse keeper would."
    ws.prompts.save_draft(doc_id, doc)
    cid = ws.conversations.create(document_id=doc_id)
    ws.conversations.append(cid, "user", "What do you keep?")
    ws.conversations.append(cid, "assistant", "I keep **the light** burning:\n\n```python\nlamp = 'on'\n```")
    settings = QSettings(str(home / "window.ini"), QSettings.IniFormat)
    settings.setValue("conversation", cid)
    settings.sync()


def test_the_window_shows_the_users_work_before_the_heavy_libraries_load(tmp_path, workbench_home):
    users_draft_and_conversation(workbench_home)
    seen = launch(tmp_path, load=False)
    first, later = seen["first"], seen["later"]
    assert first["loaded"] == [] and first["docks_made"] == []
    assert "lighthouse keeper" in first["draft"]
    assert "What do you keep?" in first["conversation"] and "the light" in first["conversation"]
    assert first["focus_in_message_box"] and first["message_box"] == "typed at once"
    # Then Markdown's libraries load and the conversation is converted in place.
    assert "workbench.chat.markdown" in later["loaded"] and "**" in first["conversation"]
    assert "**" not in later["conversation"] and "the light" in later["conversation"]
    assert "font-weight:" in later["conversation_html"] and "lamp" in later["conversation"]
    # Nothing asked for a model, a server or an evaluation: those stay unloaded.
    assert not {"llama_cpp", "http.client", "workbench.evals.runner"} & set(later["loaded"])
    assert later["docks_made"] == []


def test_the_model_loads_after_the_window_is_on_screen(tmp_path, chat_model_path):
    seen = launch(tmp_path, load=True)
    first, later = seen["first"], seen["later"]
    assert "llama_cpp" not in first["loaded"] and not first["model_ready"]
    assert later["model_ready"] and "llama_cpp" in later["loaded"]


def test_rarely_opened_docks_are_made_when_first_shown(qtbot, open_bare_window):
    w = open_bare_window()
    assert not w.eval_dock.built and not w.run_log_dock.built  # behind a tab, or hidden
    w.run_log_dock.raise_()  # its tab chosen
    qtbot.waitUntil(lambda: w.run_log_dock.built, timeout=2000)
    assert w.run_log_dock.widget().objectName() == "runLog"
    assert not w.eval_dock.built
    w.view_actions["evaluate"].trigger()
    qtbot.waitUntil(lambda: w.eval_dock.built, timeout=5000)
    settle(qtbot)
    assert w.eval_dock.isVisible() and w.eval_dock.widget().objectName() == "evalView"
