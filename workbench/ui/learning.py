"""Learning in the window: Teach (a correction becomes a lesson) and Reflect (after a bad rating)."""

from PySide6.QtCore import QObject, Signal

from ..engine import SamplingParams
from ..reflection import (SCHEMA, Proposal, judge, parse, reflection_messages, rule_problem,
                          situation_from_correction, situation_from_rating)
from .teach_dialog import TeachDialog
from .worker import JsonRequest


class LearningController(QObject):
    """Runs reflections on the engine thread and turns their results into proposals.

    A QObject so the worker's signals reach its methods on the window's thread.

    Args:
        window: the MainWindow (its outputs, notebook panel, workspace and worker).

    Signals:
        requestJson(object): a queued JsonRequest for the worker.
    """

    requestJson = Signal(object)

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.teach_dialog: TeachDialog | None = None
        self.requestJson.connect(window.worker.generate_json)
        window.worker.jsonReady.connect(self._json_ready)
        window.worker.jsonFailed.connect(self._json_failed)

    def _question(self) -> str:
        return self.w.pending.user_text if self.w.pending else ""

    def _ask_json(self, situation: str, context: dict) -> None:
        if not self.w.model_ready or self.w.generating:
            self.w.show_error("The model is busy or not loaded; try again in a moment.")
            return
        self.requestJson.emit(JsonRequest(reflection_messages(situation), self.w.session.mode.name,
                                          SCHEMA, SamplingParams(temperature=0, max_tokens=220),
                                          {**context, "situation": situation}))

    def teach(self, i: int) -> TeachDialog:
        """Edit an output into the ideal answer; it becomes a lesson's demonstration."""
        card = self.w.outputs.cards[i]
        dialog = TeachDialog(self._question(), card.text.strip(), self.w)
        dialog.proposeRequested.connect(lambda: self._propose_rule(dialog))
        dialog.saveRequested.connect(lambda rule, ideal: self._save_taught(dialog, rule, ideal,
                                                                           card.run_id))
        self.teach_dialog = dialog
        dialog.show()
        return dialog

    def _propose_rule(self, dialog: TeachDialog) -> None:
        dialog.busy(True)
        situation = situation_from_correction(dialog.question, dialog.answer,
                                              dialog.ideal.toPlainText().strip())
        self._ask_json(situation, {"kind": "teach", "dialog": dialog})

    def _save_taught(self, dialog: TeachDialog, rule: str, ideal: str, run_id) -> None:
        problem = rule_problem(rule)
        if problem:
            dialog.status.setText(f"The rule is {problem}.")
            return
        verdict, related = judge(self.w.ws.notebook, rule)
        pid = self.w.proposals.add(Proposal(rule, "taught by a correction", verdict, related,
                                          (dialog.question, ideal)), "correction", run_id)
        lesson = self.w.proposals.accept(pid)
        dialog.close()
        self.w.notebook.refresh()
        self.w.recompose()
        self.w.statusBar().showMessage(f"Lesson #{lesson.id} saved with its demonstration.", 6000)

    def reflect_on(self, i: int) -> None:
        """A bad rating: ask the model which lessons would have fixed the answer."""
        card = self.w.outputs.cards[i]
        card.reflect_button.setEnabled(False)
        card.reflect_button.setText("Reflecting…")
        situation = situation_from_rating(self._question(), card.text.strip(),
                                          card.comment.text().strip())
        self._ask_json(situation, {"kind": "reflect", "run_id": card.run_id, "card": card})

    def _json_failed(self, context: dict, message: str) -> None:
        self.w.show_error(message)

    def _json_ready(self, context: dict, raw: str) -> None:
        if context["kind"] == "teach":
            dialog = context["dialog"]
            dialog.busy(False)
            r = parse(raw, self.w.ws.notebook, context["situation"])
            usable = [p for p in r.proposals if p.acceptable]
            if usable:
                dialog.rule.setText(usable[0].rule)
                dialog.status.setText(f"Proposed ({usable[0].describe()}). Rewrite it as you like.")
            else:
                why = r.problem or "; ".join(f"“{p.rule}”: {p.verdict}" for p in r.proposals)
                dialog.status.setText(f"The model proposed no usable rule ({why or 'none'}). "
                                      "Write it yourself.")
            return
        card = context["card"]
        card.reflect_button.setText("Reflect")
        card.reflect_button.setEnabled(True)
        r = parse(raw, self.w.ws.notebook, context["situation"])
        kept = [self.w.proposals.add(p, "rating", context["run_id"]) for p in r.proposals if p.acceptable]
        if kept and self.w.notebook.auto_accept.isChecked():
            for pid in kept:
                self.w.proposals.accept(pid)
            self.w.notebook.changed.emit()
        refused = [f"“{p.rule}”: {p.verdict}" for p in r.proposals if not p.acceptable]
        self.w.notebook.refresh()
        if kept:
            self.w.notebook.tabs.setCurrentIndex(1)
            self.w.notebook_dock.raise_()
        message = (f"Reflection: {len(kept)} proposal(s) wait in the notebook."
                   + (f" Refused: {'; '.join(refused)}." if refused else "")
                   + (f" The reply was {r.problem}." if r.problem else ""))
        self.w.notebook._say(message)
