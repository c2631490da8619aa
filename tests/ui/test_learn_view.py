"""Learning from the Evaluate view in the real window: refusals in words, the before/after matrix,
the lessons tried with their figures, Accept and Reject, and (with the real model) a run on the
engine thread with progress, Send refused meanwhile, Stop and a failure that leaves it usable."""

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from tests.fakes import FakeEngine
from tests.ui.conftest import send, settle
from tests.ui.test_eval_view import view_of
from workbench.evals.learn import Learner
from workbench.evals.learn_text import figures_text
from workbench.resources import resource_path
from workbench.runtime.params import RunStats
from workbench.ui.learn_view import LearnView, learn_job
from workbench.ui.notebook_panel import SOURCE_WORDS, effect_text
from workbench.ui.palette import c
from workbench.workspace import Workspace

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DISTANCE, CAPITAL, RECIPE = '"km"', '"ANSWER:"', '"Enjoy your meal!"'


def conventions_set(tmp_path, conventions, train: int, test: int) -> Path:
    """A few cases of some bundled conventions: `train` train and `test` test questions each."""
    lines = resource_path("tasks", "house_conventions.jsonl").read_text().splitlines()
    chosen = []
    for marker in conventions:
        mine = [line for line in lines if marker in line]
        chosen += [line for line in mine if '"train"' in line][:train]
        chosen += [line for line in mine if '"test"' in line][:test]
    path = tmp_path / "conventions.jsonl"
    path.write_text("\n".join(chosen) + "\n")
    return path


class FollowingEngine(FakeEngine):
    """Follows a convention once its marker appears in what came before the question (a rule or an
    example exchange), like a small model following a demonstration; never learns the recipe one."""

    def stream_chat(self, messages, params=None, json_schema=None):
        self.calls.append(messages)
        before = " ".join(m["content"] for m in messages[:-1])
        q = messages[-1]["content"].lower()
        if "far" in q or "distance" in q:
            text = "It is about 500 km." if "km" in before else "It is quite far."
        elif "capital" in q:
            text = "ANSWER: it is the capital city." if "ANSWER:" in before else "It is the capital city."
        else:
            text = "Cook it well."
        for word in text.split(" "):
            yield word + " "
        yield RunStats(prompt_tokens=len(before.split()), completion_tokens=len(text.split()),
                       finish_reason="stop")


def learn_with_fake(w, view, tmp_path):
    """The real Learner over the window's database (its own connection, as on the engine thread),
    answering with FollowingEngine; returns its report."""
    assert view.import_file(str(conventions_set(tmp_path, (DISTANCE, CAPITAL, RECIPE), 2, 2)), "conventions")
    ws = Workspace.open(w.ws.db.path)
    try:
        learner = Learner(ws, FollowingEngine(), "chat", w.session.document, reflect_with_model=False,
                          document_id=w.session.document_id, set_name="conventions")
        return learner.learn(view.sets.tasks(view.set_id), 1, False, None, "conventions")
    finally:
        ws.db.close()


def rows_of(tree):
    return [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]


def test_learning_refuses_in_words_and_never_stays_busy(qtbot, open_bare_window, tmp_path):
    w = open_bare_window()
    view = view_of(w)
    assert view.findChild(LearnView) is None  # made only when asked for
    qtbot.mouseClick(view.learn_button, Qt.LeftButton)
    lv = view.learn_view
    assert view.pages.currentWidget() is lv and lv.isVisible()
    assert lv.start() is False and "model" in lv.stage.text().lower()  # no model loaded
    w.session.model_ready = True  # past that check: the set's own problems are said next
    try:
        assert lv.start() is False and "test set first" in lv.stage.text()
        view.new_set("empty")
        lv.refresh()
        assert "empty" in lv.heading.text()
        assert lv.start() is False and "no cases" in lv.stage.text()
        assert "no cases" in w.notices.visible()[-1].text()
        view.paste_rows("How far is Oslo?\tcontains: km\t\ttest\n")
        assert lv.start() is False and "train questions" in lv.stage.text()
        w.session.open_document(w.library.create_document("another"))  # the sets shown are stale
        assert lv.start() is False and "Another prompt document" in lv.stage.text()
        assert view.set_combo.count() == 0  # re-read: the new document has no sets
    finally:
        w.session.model_ready = False
    assert not lv.busy and not view.busy and lv.learn_button.isEnabled() and view.run_button.isEnabled()


def test_a_report_shows_before_after_the_lessons_tried_and_accept_reject(qtbot, open_bare_window, tmp_path):
    w = open_bare_window()
    view = view_of(w)
    report = learn_with_fake(w, view, tmp_path)
    lv = view.show_learning()
    lv.show_report(report)
    # Before/after: one row per test question, coloured, the changed ones marked.
    assert lv.matrix.rowCount() == report.n_test == 6 and lv.matrix.columnCount() == 3
    assert [lv.matrix.horizontalHeaderItem(j).text().split("\n")[0] for j in range(3)] == [
        "question", "Before", "After"]
    after = [lv.matrix.item(i, 2).text() for i in range(6)]
    assert sum(t == "▲ pass" for t in after) >= 2, after  # the distance and capital questions
    assert not any(t == "▼ fail" for t in after)
    assert f"{report.baseline_passed}/6 before" in lv.stage.text()
    lv.matrix.setCurrentCell(0, 0)
    assert "Before:" in lv.details.toPlainText() and "After:" in lv.details.toPlainText()
    # The notebook's Proposals list shows each waiting one with its measured effect.
    w.notebook.refresh()
    waiting = {p.id: p for p in w.proposals.pending()}
    listed = {item.data(0, Qt.UserRole): item for item in rows_of(w.notebook.proposal_list)}
    for cand in report.candidates:
        if cand.decision == "proposed":
            assert cand.proposal_id in waiting and listed[cand.proposal_id].text(4) == effect_text(
                {"train_before": cand.train_before, "train_after": cand.train_after,
                 "train_total": cand.train_total, "gained": cand.gained, "lost": cand.lost})
    # The lessons tried, with their figures and decisions; none quotes a train question.
    items = rows_of(lv.candidates)
    assert len(items) == len(report.candidates) >= 3
    train_queries = {t.query for t in view.sets.tasks(view.set_id) if t.split == "train"}
    for item, cand in zip(items, report.candidates):
        assert figures_text(cand) in item.text(0) and f"of {cand.train_total}" in item.text(0)
        assert not any(q in cand.rule for q in train_queries), cand.rule
    proposed = [k for k, cand in enumerate(report.candidates) if cand.decision == "proposed"]
    refused = [k for k, cand in enumerate(report.candidates) if cand.decision == "rejected"]
    assert len(proposed) >= 2 and refused, [(cand.rule, cand.decision) for cand in report.candidates]
    for k in refused:  # greyed, with the figures that refused it
        assert items[k].foreground(1).color().name() == c("faint").lower() and c("faint") in items[k].text(0)
        assert items[k].text(1) == "Not kept" and report.candidates[k].why
    lv.candidates.setCurrentItem(items[refused[0]])
    assert not lv.accept_button.isEnabled() and "Train questions passed" in lv.details.toPlainText()
    # Accept: the lesson is in the notebook panel, with who wrote it in plain words.
    lv.candidates.setCurrentItem(items[proposed[0]])
    assert lv.accept_button.isEnabled() and items[proposed[0]].text(1) == "Waits for you"
    assert "in every prompt" in items[proposed[0]].text(0) or "when relevant" in items[proposed[0]].text(0)
    qtbot.mouseClick(lv.accept_button, Qt.LeftButton)
    accepted = w.proposals.get(report.candidates[proposed[0]].proposal_id)
    assert accepted.status == "accepted"
    lesson = w.ws.notebook.get(accepted.lesson_id)
    shown = {w.notebook.list.topLevelItem(i).data(0, Qt.UserRole): w.notebook.list.topLevelItem(i)
             for i in range(w.notebook.list.topLevelItemCount())}
    assert lesson.id in shown and shown[lesson.id].text(3) == SOURCE_WORDS[lesson.source]
    assert rows_of(lv.candidates)[proposed[0]].text(1) == f"Accepted: lesson #{lesson.id}"
    assert not lv.accept_button.isEnabled()
    assert f"Lesson #{lesson.id}" in w.notices.visible()[-1].text()
    # Reject: marked, greyed, and gone from the notebook's proposals.
    lv.candidates.setCurrentItem(rows_of(lv.candidates)[proposed[1]])
    qtbot.mouseClick(lv.reject_button, Qt.LeftButton)
    item = rows_of(lv.candidates)[proposed[1]]
    assert item.text(1) == "Rejected by you" and item.foreground(1).color().name() == c("faint").lower()
    assert w.proposals.get(report.candidates[proposed[1]].proposal_id).status == "rejected"
    pending = {p.id for p in w.proposals.pending()}
    assert report.candidates[proposed[1]].proposal_id not in pending
    evidence = {"train_before": 1, "train_after": 3, "train_total": 4, "gained": ["a", "b"], "lost": []}
    assert effect_text(evidence) == "train questions passed 1 → 3 of 4 (2 more, 0 lost)"
    assert effect_text(json.dumps(evidence)) == effect_text(evidence)
    assert effect_text(None) == effect_text("{broken") == effect_text({"train_before": "x"}) == ""


def test_the_engine_threads_job_learns_with_its_own_connection_and_stops(open_bare_window, tmp_path):
    """learn_job as the worker runs it (here on this thread, with the fake engine): a teacher that
    writes no usable rule leaves the rules built from the set; cancelled() ends it early."""
    w = open_bare_window()
    view = view_of(w)
    assert view.import_file(str(conventions_set(tmp_path, (DISTANCE, CAPITAL), 2, 2)), "two")
    tasks = view.sets.tasks(view.set_id)
    args = (w.ws.db.path, w.session.document, w.session.document_id, "chat", tasks, "two", 1)
    seen = []
    report = learn_job(*args, "")(FollowingEngine(), seen.append, lambda: False)
    assert report.status == "done" and report.rounds and report.candidates
    assert all(cand.author == "tasks" for cand in report.candidates)  # the fake's replies are no rules
    assert any("teacher" in note for note in report.notes), report.notes  # it was asked
    assert seen and all(isinstance(r["stage"], str) and r["stage"] for r in seen)
    assert {p.id for p in w.proposals.pending()} == {cand.proposal_id for cand in report.candidates
                                                    if cand.decision == "proposed"}
    calls = []
    stopped = learn_job(*args, None)(FollowingEngine(), lambda r: None, lambda: bool(calls.append(1)) or
                                     len(calls) > 3)
    assert stopped.status == "cancelled" and not stopped.rounds


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)], ids=["1366x768", "1920x1080"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_learn_screenshots(qtbot, window_factory, tmp_path, size, theme):
    w = window_factory(size=size, theme=theme)
    view = view_of(w)
    report = learn_with_fake(w, view, tmp_path)
    lv = view.show_learning()
    lv.show_report(report)
    settle(qtbot, 150)
    dock = w.findChild(QDockWidget, "evalViewDock")
    assert dock.height() >= 0.45 * w.height()  # the Learn page takes the room it needs
    for widget in (lv.learn_button, lv.stop_button, lv.accept_button, lv.reject_button, lv.matrix,
                   lv.candidates, lv.details):
        assert widget.isVisible() and widget.width() > 40 and widget.height() > 20, widget.objectName()
        corner = widget.mapTo(w, widget.rect().bottomRight())
        assert corner.x() <= w.width() and corner.y() <= w.height(), widget.objectName()
    ARTIFACTS.mkdir(exist_ok=True)
    suffix = "" if theme == "light" else "-dark"
    assert w.grab().save(str(ARTIFACTS / f"learn-{size[0]}x{size[1]}{suffix}.png"))


@pytest.mark.model
def test_learning_runs_on_the_engine_thread_stops_and_fails_in_words(qtbot, open_window, tmp_path,
                                                                     monkeypatch):
    """The real SmolLM2-135M learns two conventions from two train questions each."""
    w = open_window()
    view = view_of(w)
    assert view.import_file(str(conventions_set(tmp_path, (DISTANCE, CAPITAL), 2, 2)), "two")
    lv = view.show_learning()
    reports = []
    w.worker.jobProgress.connect(lambda context, r: context is lv._token and reports.append(r))
    qtbot.mouseClick(lv.learn_button, Qt.LeftButton)
    assert lv.busy and view.busy and not lv.learn_button.isEnabled() and not view.run_button.isEnabled()
    w.input.setPlainText("Hello?")
    qtbot.mouseClick(w.send_button, Qt.LeftButton)  # refused in words, not queued behind learning
    assert not w.generating and "busy" in w.notices.visible()[-1].text()
    qtbot.waitUntil(lambda: not lv.busy, timeout=240_000)
    assert lv.report is not None, lv.stage.text()
    assert reports and all({"stage", "done", "total"} <= set(r) for r in reports)
    assert lv.matrix.rowCount() == 4 and lv.matrix.columnCount() == 3
    cells = {lv.matrix.item(i, j).text() for i in range(4) for j in (1, 2)}
    assert cells <= {"✓ pass", "✗ fail", "▲ pass", "▼ fail"}
    print("learned:", lv.summary, [(x.rule, x.decision, figures_text(x)) for x in lv.report.candidates])
    assert rows_of(lv.candidates) and all("of 4" in item.text(0) for item in rows_of(lv.candidates))
    proposed = [k for k, cand in enumerate(lv.report.candidates) if cand.decision == "proposed"]
    assert proposed, "no lesson helped the real model on the train questions"
    lv.candidates.setCurrentItem(rows_of(lv.candidates)[proposed[0]])
    qtbot.mouseClick(lv.accept_button, Qt.LeftButton)
    lesson_id = w.proposals.get(lv.report.candidates[proposed[0]].proposal_id).lesson_id
    assert lesson_id in [w.notebook.list.topLevelItem(i).data(0, Qt.UserRole)
                         for i in range(w.notebook.list.topLevelItemCount())]
    # Stop: the window is usable at once, and answers again.
    n = len(reports)
    qtbot.mouseClick(lv.learn_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(reports) > n, timeout=60_000)  # it is under way
    qtbot.mouseClick(lv.stop_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not lv.busy, timeout=30_000)
    assert lv.learn_button.isEnabled() and view.run_button.isEnabled() and not lv.stop_button.isEnabled()
    assert lv.report.status == "cancelled" and lv.stage.text().startswith("Stopped"), lv.stage.text()
    send(qtbot, w, "What is the capital of Italy?")
    assert w.outputs.cards and w.outputs.cards[0].text.strip()
    # A failure on the engine thread: said in words, the buttons back.

    def broken(*args, **kwargs):
        raise RuntimeError("the learner broke")

    monkeypatch.setattr(Learner, "learn", broken)
    qtbot.mouseClick(lv.learn_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not lv.busy, timeout=30_000)
    assert "Learning failed" in lv.stage.text() and lv.learn_button.isEnabled()
    assert "Learning failed" in w.notices.visible()[-1].text()
