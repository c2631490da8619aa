"""Learning in the window: Teach (a correction becomes a lesson) and Reflect (after a bad rating)."""

import re

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

PLAIN = (  # the checks' short verdicts, in words for someone who did not write the checks
    (r"near-empty: it repeats the template's placeholders", "it only repeated the instructions' blanks"),
    (r"near-empty: it copies the reflection prompt", "it only repeated the instructions it was given"),
    (r"near-empty: it only repeats the conversation", "it only repeated the conversation"),
    (r"near-empty: fewer than \d+ words", "it was too short to be a rule"),
    (r"not a rule: it must read “When <situation>, <what to do>\.”",
     "it is not a rule like “When <situation>, <what to do>.”"),
    (r"near-empty: ", ""),
    (r"^empty$", "it was empty"),
)


def plain_verdict(verdict: str) -> str:
    """Why a proposal was not kept, in plain words (wherever a verdict appears in the text)."""
    for pattern, words in PLAIN:
        verdict = re.sub(pattern, words, verdict)
    return verdict


def plain_problem(problem: str) -> str:
    """What was wrong with the model's whole reply, in plain words."""
    if problem == "no lessons proposed":
        return "The model proposed no lessons."
    return f"The model's reply was {problem}." if problem else ""


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
            self.w.notify("The model is busy or not loaded yet; try again in a moment.", "warning")
            if context.get("kind") == "teach":
                context["dialog"].busy(False)
            elif context.get("card") is not None:
                context["card"].reflect_button.setText("Reflect")
                context["card"].reflect_button.setEnabled(True)
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
            # The model's rule kept as it proposed it is the model's; any other is the user's.
            author = "model" if rule and rule == dialog.proposed_rule else "user"
            pid = teach(self.w.proposals, dialog.question, rule, ideal, run_id, author=author)
        except WorkbenchError as e:
            dialog.status.setText(str(e))
            return
        lesson = self.w.proposals.accept(pid)
        dialog.close()
        self.w.notebook.refresh()
        self.w.recompose()
        self.w.notify(f"Lesson #{lesson.id} saved with its demonstration: it is in the prompt from "
                      "the next answer on.", "success", ("Show", self.show_lessons))

    def reflect_on(self, i: int) -> None:
        """A bad rating: ask the model which lessons would have fixed the answer."""
        card = self.w.outputs.cards[i]
        card.reflect_button.setEnabled(False)
        card.reflect_button.setText("Reflecting…")
        situation = situation_from_rating(self._question(), card.text.strip(),
                                          card.comment.text().strip())
        self._ask_json(situation, {"kind": "reflect", "run_id": card.run_id, "card": card})

    def show_lessons(self) -> None:
        self._show_tab(0)

    def show_proposals(self) -> None:
        self._show_tab(1)

    def _show_tab(self, i: int) -> None:
        self.w.notebook_dock.show()
        self.w.notebook_dock.raise_()
        self.w.notebook.tabs.setCurrentIndex(i)

    def _json_failed(self, context: dict, message: str) -> None:
        if context.get("kind") == "teach":
            context["dialog"].busy(False)
            context["dialog"].status.setText(message)
        elif context.get("card") is not None:
            context["card"].reflect_button.setText("Reflect")
            context["card"].reflect_button.setEnabled(True)
        self.w.notify(message, "error")

    def _json_ready(self, context: dict, raw: str) -> None:
        if context["kind"] == "teach":
            dialog = context["dialog"]
            dialog.busy(False)
            rule, why = proposed_rule(parse(raw, self.w.ws.notebook, context["situation"]))
            if rule:
                dialog.rule.setText(rule)
                dialog.proposed_rule = rule
                dialog.status.setText(f"Proposed ({why}). Rewrite it as you like.")
            else:
                dialog.status.setText(f"The model proposed no usable rule ({plain_verdict(why)}). "
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
        refused = [f"“{p.rule}” ({plain_verdict(p.verdict)})" for p in r.proposals if not p.acceptable]
        self.w.notebook.refresh()
        auto = kept and self.w.notebook.auto_accept.isChecked()
        n = len(kept)
        lessons = f"{n} lesson{'s' if n != 1 else ''}"
        if auto:
            head = f"Reflection: {lessons} added to the notebook."
        elif kept:
            head = f"Reflection: {n} proposal{'s' if n != 1 else ''} wait for your review in Proposals."
        else:
            head = "Reflection: no usable lesson."
        message = (head + (f" Not used: {'; '.join(refused)}." if refused else "")
                   + (f" {plain_problem(r.problem)}" if r.problem else ""))
        self.w.notebook._say(message, kind="success" if kept else "warning")
        if kept:
            (self.show_lessons if auto else self.show_proposals)()
            self.w.notify(message, "success", None if auto else ("Review", self.show_proposals))
        else:
            self.w.notify(message, "warning")
