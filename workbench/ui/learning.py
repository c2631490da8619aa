"""Learning in the window: Teach (a correction becomes a lesson) and Reflect (after a bad rating)."""

from PySide6.QtCore import QObject, Signal

from workbench.errors import WorkbenchError
from workbench.notebook.reflection import (
    SCHEMA,
    parse,
    reflection_messages,
    situation_from_correction,
    situation_from_rating,
)
from workbench.notebook.teach import proposed_rule, teach
from workbench.runtime.params import SamplingParams
from workbench.ui.teach_dialog import TeachDialog
from workbench.ui.worker import JsonRequest


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
        pending = self.w.session.pending
        return pending.user_text if pending else ""

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
        try:
            pid = teach(self.w.proposals, dialog.question, rule, ideal, run_id)
        except WorkbenchError as e:
            dialog.status.setText(str(e))
            return
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
            rule, why = proposed_rule(parse(raw, self.w.ws.notebook, context["situation"]))
            if rule:
                dialog.rule.setText(rule)
                dialog.status.setText(f"Proposed ({why}). Rewrite it as you like.")
            else:
                dialog.status.setText(f"The model proposed no usable rule ({why}). Write it yourself.")
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
