"""What of the prompt is cached and what an edit costs, under the system prompt editor; it also
warms the prompt's stable prefix on the engine thread a second after the user stops editing,
unless nothing is written yet or the prompt cannot be sent (then it says why)."""

import os

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QLabel

from workbench.chat.session import MIN_FREE_TOKENS
from workbench.errors import WorkbenchError
from workbench.runtime.models import human_size
from workbench.runtime.prefill import PREFILL_BATCH
from workbench.runtime.prompt_cache import DiskCache, cache_folder, max_mb, set_max_mb
from workbench.runtime.warmup import stable_prefix, why_not_warm
from workbench.ui.worker import WarmRequest

WARM_DELAY_MS = 1000  # "stops editing": a pause this long
REFRESH_MS = 250  # the label follows typing on a short timer, not every keystroke


class CacheStatus(QLabel):
    """"2,143 tokens cached" or "this change re-processes 1,800 tokens"; warms after edits.

    The stable prefix is the system prompt, examples and the conversation so far: what the next
    question begins with. A Send stops a running warm-up at once and goes on from what it
    evaluated (the engine's prefix matching).

    Args:
        window: the MainWindow (its session, prompt panel, engine and worker).

    Signals:
        requestWarm(object): a queued WarmRequest to the worker.
    """

    requestWarm = Signal(object)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("cacheStatus")
        self.setWordWrap(True)
        self.w = window
        self.warming = False
        self._serial = 0
        self._sha256: dict[str, str] = {}  # model path -> hash, for the disk cache's keys
        engine = window.engine
        # Snapshots on disk across restarts, keyed by the model's hash as the run log knows it.
        if getattr(engine, "disk", False) is None:
            engine.disk = DiskCache(cache_folder(), self.model_sha256)
        self.warm_timer = QTimer(self, singleShot=True, interval=WARM_DELAY_MS)
        self.warm_timer.timeout.connect(self.warm_now)
        self.refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh)
        worker = window.worker
        self.requestWarm.connect(worker.warm)
        for signal, slot in ((window.prompt.changed, self.schedule), (worker.loaded, self._loaded),
                             (worker.hashed, self._hashed), (worker.idle, self.schedule),
                             (worker.warmProgress, self._progress), (worker.warmed, self._warmed),
                             (worker.warmFailed, self._failed)):
            signal.connect(slot)
        QTimer.singleShot(0, self._wire_late)  # the window builds these after this label
        # The cache's preferences, where its state is shown (as `workbench cache` does).
        self.setToolTip("Prompt snapshots kept so prompts start at once. Right-click to clear "
                        "them or set the size cap.")
        self.setContextMenuPolicy(Qt.ActionsContextMenu)
        for text, slot in (("Clear the prompt cache", self.clear_cache),
                           ("Prompt cache size cap…", self.ask_cap)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            self.addAction(action)

    def _wire_late(self) -> None:
        w = self.w
        library = getattr(getattr(w, "library_dock", None), "widget", lambda: None)()
        # Direct connections: they run as the work is queued, so the warm-up ends before the
        # worker reaches it (a Send, a regeneration, a reflection, an evaluation).
        starts = ((getattr(w, "generation", None), "requestGenerate"),
                  (getattr(w, "learning", None), "requestJson"))
        if hasattr(getattr(w, "eval_dock", None), "when_built"):  # the view is made when opened
            w.eval_dock.when_built(lambda view: view.requestJob.connect(self.stop_warming))
        # What else changes the prefix: an accepted answer, the pinned lessons, the mode,
        # another document.
        changes = ((getattr(w, "outputs", None), "accepted"), (getattr(w, "notebook", None), "changed"),
                   (getattr(getattr(w, "model_panel", None), "mode", None), "currentTextChanged"),
                   (library, "documentOpened"))
        for pairs, slot in ((starts, self.stop_warming), (changes, self.schedule)):
            for owner, name in pairs:
                if owner is not None and hasattr(owner, name):
                    getattr(owner, name).connect(slot)

    # -- the model's hash ------------------------------------------------------------------

    def model_sha256(self, path: str) -> str | None:
        """Called on the engine thread: only reads what the window's thread stored."""
        return self._sha256.get(os.path.realpath(path))

    def _loaded(self, result) -> None:
        path = result.info.path
        try:
            sha = self.w.ws.runs.cached_sha256(path)  # else the window hashes it (worker.hashed)
        except (OSError, WorkbenchError):
            sha = None
        if sha:
            self._sha256[os.path.realpath(path)] = sha
        self.schedule()

    def _hashed(self, path: str, sha256: str) -> None:
        if sha256:
            self._sha256[os.path.realpath(path)] = sha256

    # -- warming -----------------------------------------------------------------------------

    def schedule(self, *_args) -> None:
        """The prompt may have changed: update the label soon, and warm after a pause."""
        self.stop_warming()
        self.refresh_timer.start()
        self.warm_timer.start()

    def _prefix(self) -> tuple[str, list[dict]] | None:
        """The mode and the stable prefix's messages, when they are worth warming; else None,
        with the label saying why (nothing, when nothing is written yet)."""
        session = self.w.session
        if not session.model_ready:
            return None
        try:
            mode, c = session.mode.name, session.compose_turns(session.history())
        except WorkbenchError:
            return None
        reason = why_not_warm(c.messages, c.total_tokens, c.n_ctx, MIN_FREE_TOKENS)
        if reason is not None:
            self.setText(reason)
            return None
        return mode, c.messages

    def warm_now(self) -> None:
        """Ask the engine thread to evaluate the current stable prefix (unless it is busy)."""
        if getattr(self.w, "generating", False):
            return
        planned = self._prefix()
        if planned is None:
            return
        self._serial += 1
        self.w.worker.latest_warm = self._serial
        self.warming = True
        self.requestWarm.emit(WarmRequest(planned[0], planned[1], self._serial))

    def stop_warming(self, *_args) -> None:
        """End a warm-up now; what it evaluated is kept."""
        self.warm_timer.stop()
        self.warming = False
        self._serial += 1
        self.w.worker.latest_warm = self._serial  # a queued request is skipped
        self.w.worker.stop_warm()

    def _progress(self, done: int, total: int) -> None:
        # Under one batch to go it is done in a blink: a progress line would only flash.
        if self.warming and total - done > PREFILL_BATCH:
            self.setText(f"Processing the prompt ahead of time: {done:,} of {total:,} tokens…")

    def _warmed(self, result) -> None:
        self.warming = False
        self.refresh()

    def _failed(self, message: str) -> None:
        self.warming = False
        self.setText(f"Could not process the prompt ahead of time: {message}")

    # -- preferences -------------------------------------------------------------------------

    def clear_cache(self) -> None:
        """Drop every snapshot, in memory and on disk (the live context stays)."""
        engine = self.w.engine
        memory = getattr(engine, "memory", None)
        if memory is not None:
            memory.clear()
        disk = getattr(engine, "disk", None)
        n = disk.clear() if disk is not None else 0
        self.w.statusBar().showMessage(f"Prompt cache cleared ({n} snapshot(s) on disk removed).", 4000)
        self.refresh()

    def ask_cap(self) -> None:
        folder = cache_folder()
        disk = DiskCache(folder)
        used = human_size(sum(e.size for e in disk.entries()))
        mb, ok = QInputDialog.getInt(self, "Prompt cache", f"Size cap on disk in MB ({used} used now; "
                                     "0 keeps nothing):", max_mb(folder), 0, 1 << 20)
        if ok:
            self.set_cap(mb)

    def set_cap(self, mb: int) -> None:
        """Keep the disk cap (as `workbench cache set-max` does) and evict to fit it."""
        folder = cache_folder()
        set_max_mb(folder, mb)
        removed = DiskCache(folder).evict()
        self.w.statusBar().showMessage(f"Prompt cache cap set to {mb:,} MB; {len(removed)} "
                                       "snapshot(s) removed to fit.", 4000)

    # -- the label ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Say how much of the stable prefix needs no processing, and what the rest costs."""
        self.refresh_timer.stop()
        self.setText("")
        planned = self._prefix()  # else it said why there is nothing to warm
        if planned is None:
            return
        try:
            tokens = stable_prefix(self.w.engine, *planned)
        except WorkbenchError:
            self.setText("")
            return
        cached, _where = self.w.engine.cached_tokens(tokens)
        self.setText(describe(cached, len(tokens)))


def describe(cached: int, total: int) -> str:
    """The label's text for a stable prefix of `total` tokens of which `cached` are ready."""
    if total == 0:
        return ""
    if cached >= total:
        return f"{total:,} tokens cached"
    if cached == 0:
        return f"Nothing cached: this prompt processes {total:,} tokens"
    return f"{cached:,} tokens cached · this change re-processes {total - cached:,} tokens"
