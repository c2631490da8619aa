"""Running the planned candidates and loading models on the engine thread, and showing progress."""

import time

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

from workbench.chat.candidate_outcome import stats_line
from workbench.chat.session import Pending
from workbench.errors import WorkbenchError
from workbench.notebook.rating import rate_run
from workbench.runtime.models import DEFAULT_CHAT_MODEL, models_dir
from workbench.runtime.params import RunStats, SamplingParams
from workbench.ui.model_panel import error_html
from workbench.ui.worker import GenerationRequest

SLOW_PROMPT_MS = 1000  # show the prompt-processing bar when the first token takes longer


def progress_text(done: int, total: int, elapsed_s: float) -> str:
    """"Prompt 45% · 420 tok/s · 6 s left" for prompt processing so far."""
    pct = 100 * done / max(1, total)
    text = f"Prompt {pct:.0f}%"
    if elapsed_s > 0.05 and done > 0:
        rate = done / elapsed_s
        left = (total - done) / rate if rate > 0 else 0
        text += f" · {rate:,.0f} tok/s · {left:.0f} s left"
    return text


class GenerationController(QObject):
    """A QObject so the worker's signals reach its methods on the window's thread
    (PySide runs lambdas and other objects' methods on the emitting thread).

    Args:
        window: the MainWindow (its session, panes, sampling panel and worker).

    Signals:
        requestGenerate(object), requestHash(str), requestLoad(str, object): queued calls
        into the worker.
    """

    requestGenerate = Signal(object)
    requestHash = Signal(str)
    requestLoad = Signal(str, object)

    def __init__(self, window):
        super().__init__(window)
        self.w, self.session, self.worker = window, window.session, window.worker
        self.busy = False
        self._previous_turn: tuple | None = None  # (pending, candidates) of the cards on screen
        self.status_speed = QLabel()
        self.progress = QProgressBar()
        self.progress.setObjectName("promptProgress")
        self.progress.setRange(0, 0)
        self.progress.setMinimumWidth(260)
        self.progress.setMaximumWidth(340)
        self.progress.setFormat("Processing the prompt…")
        self.progress.hide()
        self._prompt_started: dict[int, tuple[float, int]] = {}  # candidate: (time, tokens) at first report
        self._saved: tuple | None = None  # the session's pending turn for the candidates put aside
        window.prompt_progress = self.progress
        window.status_speed = self.status_speed
        window.statusBar().addPermanentWidget(self.progress)
        window.statusBar().addPermanentWidget(self.status_speed)
        self.slow_prompt = QTimer(self, singleShot=True, interval=SLOW_PROMPT_MS)
        self.slow_prompt.timeout.connect(self.progress.show)
        self.requestGenerate.connect(self.worker.generate)
        self.requestHash.connect(self.worker.hash_file)
        self.requestLoad.connect(self.worker.load)
        window.model_panel.loadRequested.connect(self.load_model)
        window.model_panel.mode.currentTextChanged.connect(self._mode_changed)
        for signal, slot in ((self.worker.started, self._started), (self.worker.token, self._token),
                             (self.worker.finished, self._finished), (self.worker.failed, self._failed),
                             (self.worker.idle, self._idle), (self.worker.hashed, self._hashed),
                             (self.worker.loaded, self._loaded), (self.worker.loadFailed, self._load_failed),
                             (self.worker.loadProgress, self._load_progress),
                             (self.worker.promptProgress, self._prompt_progress)):
            signal.connect(slot)
        window.outputs.rated.connect(self.rate)

    def run(self, pending: Pending) -> None:
        """Plan the candidates for pending and start them, or say why they cannot run."""
        w = self.w
        try:
            candidates = self.session.plan(pending, w.compare.currentData(), w.sampling.samples.value())
            mode = self.session.mode.name
        except WorkbenchError as e:
            w.show_error(str(e))
            return
        w.hide_error()
        self.status_speed.clear()  # the last run's figures are not this one's
        self._prompt_started.clear()
        self._saved = self._previous_turn
        self._previous_turn = (pending, list(candidates))
        w.outputs.start([c.label for c in candidates])
        w.right.show_question(pending.user_text)
        w.right.show_tally("")
        self.busy = True
        w.chat.set_busy(True)
        params = self.params_for(pending)
        self.requestGenerate.emit(GenerationRequest(
            [c.composition.messages for c in candidates], params, mode,
            [c.model for c in candidates]))

    def params_for(self, pending) -> SamplingParams:
        """A re-run keeps its run's own settings; anything else uses the Sampling panel's."""
        if pending is not None and pending.params:
            return SamplingParams.from_dict(pending.params)
        return self.w.sampling.params()

    def restore_previous(self) -> bool:
        """The candidates the last run replaced come back, with the turn they answer."""
        if self.busy or self._saved is None or not self.w.outputs.restore_previous():
            return False
        self._saved, self._previous_turn = self._previous_turn, self._saved
        self.session.pending, self.session.candidates = self._previous_turn[0], list(self._previous_turn[1])
        self.w.right.show_question(self.session.pending.user_text if self.session.pending else "")
        self.w.right.show_tally("")
        return True

    def stop(self) -> None:
        if self.busy:
            self.worker.stop()  # direct call: a queued signal would wait behind the generation

    def _started(self, i: int) -> None:
        self.w.outputs.cards[i].begin()
        self.progress.setRange(0, 0)
        self.progress.setFormat("Processing the prompt…")
        self.slow_prompt.start()

    def _prompt_progress(self, i: int, done: int, total: int) -> None:
        """Prompt processing of candidate i: a percentage, the speed and the time left."""
        if not self.busy or total <= 0:
            return
        now = time.perf_counter()
        t0, done0 = self._prompt_started.setdefault(i, (now, done))
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        text = progress_text(done - done0, total - done0, now - t0)
        self.progress.setFormat(text)  # "45% ·": no %p, %v or %m in it for Qt to replace
        self.progress.setToolTip(f"Candidate {i + 1}: {done:,} of {total:,} prompt tokens")

    def _token(self, i: int, piece: str) -> None:
        self.slow_prompt.stop()
        self.progress.hide()
        self.w.outputs.cards[i].append(piece)

    def _finished(self, i: int, stats: RunStats) -> None:
        self.slow_prompt.stop()
        self.progress.hide()
        card = self.w.outputs.cards[i]
        card.finish(stats)
        self.status_speed.setText(stats_line(stats))
        if card.text:
            model = self.session.candidates[i].model
            other = self.worker.others.get(model[0]) if model else None
            try:
                card.run_id = self.session.log_candidate(i, self.params_for(self.session.pending), card.text,
                                                         stats, other)
            except WorkbenchError as e:  # busy or read-only: the answer stays on its card
                self.w.show_error(f"Candidate {i + 1} was not logged: {e}")
                return
            self._hash_later(model[0] if model else None)

    def _failed(self, i: int, message: str) -> None:
        self.w.outputs.cards[i].fail(message)
        self.w.show_error(message)

    def _idle(self) -> None:
        self.busy = False
        self.slow_prompt.stop()
        self.progress.hide()
        w = self.w
        w.outputs.stop_rendering()
        w.outputs.mark_not_run()
        w.chat.set_busy(False)
        self.mark_votes()

    def mark_votes(self) -> None:
        """The majority final answer, only when the user asked for a vote."""
        w = self.w
        cards = w.outputs.cards
        result = None
        if w.vote_switch.isChecked():
            result = self.session.majority([c.text for c in cards], w.compare.currentData(),
                                           w.sampling.answer_regex.text().strip())
        if result is not None and not any(result.answers):  # prose, or nothing marked: no marks
            w.right.show_tally("", "No final answers found: nothing to vote on.")
            return
        w.right.show_tally(result.tally() if result else "")
        for i, card in enumerate(cards if result else []):
            card.mark_answer(result.answers[i], result.is_majority(i), f"({result.count}/{len(cards)})")

    def rate(self, i: int, rating: int, comment: str) -> None:
        card = self.w.outputs.cards[i]
        if card.run_id is not None:
            rate_run(self.w.ws, card.run_id, rating, comment)  # lessons in its prompt get tallies
            self.w.notebook.refresh()

    def _hash_later(self, path: str | None) -> None:
        # Hashing a big model takes seconds: the engine thread does it.
        if path and not self.w.ws.runs.cached_sha256(path):
            self.requestHash.emit(path)

    def _hashed(self, path: str, sha256: str) -> None:
        if sha256:
            self.w.ws.runs.remember_sha256(path, sha256)

    # -- the model ---------------------------------------------------------------------

    def load_model(self, path: str, options) -> None:
        self.session.model_ready = False
        self.w.status_model.setText("Loading model…")
        self.w.model_panel.set_loading(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat("Loading the model…")
        self.progress.show()
        self.requestLoad.emit(path, options)

    def _load_progress(self, fraction: float) -> None:
        pct = int(max(0.0, min(1.0, fraction)) * 100)
        self.w.model_panel.set_progress(fraction)
        self.w.status_model.setText(f"Loading model… {pct}%")
        if not self.busy:
            self.progress.setRange(0, 100)
            self.progress.setValue(pct)
            self.progress.setFormat("Loading the model %p%")
            self.progress.show()

    def load_default(self) -> None:
        """The model used last, else the default chat model."""
        path = self.w.settings.value("model") or str(models_dir() / DEFAULT_CHAT_MODEL)
        self.w.model_panel.select(path)
        self.load_model(path, self.w.model_panel.options())

    def _mode_changed(self, choice: str) -> None:
        self.session.mode_choice = choice
        self.show_mode()
        self.w.recompose()

    def show_mode(self) -> None:
        """The mode in use, and why, in the model panel and the status bar."""
        if not self.session.model_ready:
            return
        panel = self.w.model_panel
        try:
            mode = self.session.mode
        except WorkbenchError as e:
            panel.mode_reason.setText(error_html(e))
            return
        panel.mode_reason.setText(f"Mode: <b>{mode.name}</b>, {mode.reason}.")
        info = self.session.engine.load_result
        self.w.status_model.setText(f"{info.info.name} · {mode.name} mode · ctx {info.n_ctx:,}")

    def _loaded(self, result) -> None:
        w = self.w
        if not self.busy:
            self.progress.hide()
        self.session.model_ready = True
        w.model_panel.set_loaded(result)
        w.settings.setValue("model", result.info.path)
        self._hash_later(result.info.path)
        self.show_mode()
        w.refresh_compare()
        w.hide_error()
        if result.notice:
            w.notify(result.notice, "warning")
        w.recompose()

    def _load_failed(self, message: str) -> None:
        if not self.busy:
            self.progress.hide()
        self.w.model_panel.set_failed(message)
        self.w.status_model.setText("No model loaded")
        self.w.show_error(f"{message} Choose another model in the Model panel.")
