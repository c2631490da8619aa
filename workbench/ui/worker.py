"""The engine's thread: loads models and streams candidates without freezing the window."""

import threading
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, QThread, Signal, Slot

from workbench.chat.runs import file_sha256
from workbench.errors import WorkbenchError
from workbench.logs import report_unexpected
from workbench.runtime.engine import Engine
from workbench.runtime.generation import collect, stream
from workbench.runtime.params import LoadOptions, RunStats, SamplingParams, sample_seed


@dataclass
class GenerationRequest:
    """N candidates for the next turn; each may have its own messages (prompt variants)."""

    variants: list[list[dict]]  # one message list per candidate
    params: SamplingParams
    mode: str = "chat"  # "chat", "urial" or "raw" (see generation.py)
    # Per candidate, another model to answer with: (GGUF path, its mode), or None for
    # the loaded model. Other models are loaded on first use and kept.
    models: list[tuple[str, str] | None] = field(default_factory=list)


@dataclass
class JsonRequest:
    """One answer constrained to a JSON schema (reflection). `context` comes back as is."""

    messages: list[dict]
    mode: str
    schema: dict
    params: SamplingParams
    context: object = None


class EngineWorker(QObject):
    """Owns the Engine; lives in its own QThread. Call slots through queued signals,
    except stop(), which is called directly: a queued signal would wait behind the
    busy generation it is meant to stop.

    Signals:
        loaded(object): a LoadResult.
        loadFailed(str): a message for the user.
        started(int): candidate index i began (its prompt is being processed).
        token(int, str): a piece of candidate i's text.
        finished(int, object): candidate i is done; a RunStats.
        failed(int, str): candidate i failed; a message for the user.
        idle(): nothing more is running.
        hashed(str, str): a model file's path and its SHA-256.
        jsonReady(object, str): a JsonRequest's context and the model's JSON text.
        jsonFailed(object, str): a JsonRequest's context and a message for the user.
    """

    loaded = Signal(object)
    loadFailed = Signal(str)
    started = Signal(int)
    token = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, str)
    idle = Signal()
    hashed = Signal(str, str)
    jsonReady = Signal(object, str)
    jsonFailed = Signal(object, str)

    def __init__(self, engine: Engine):
        super().__init__()
        self.engine = engine
        self.others: dict[str, Engine] = {}  # models loaded for comparisons
        self._stop_all = threading.Event()
        self._running: Engine = engine

    # Every request ends in exactly one done or failed signal, whatever goes wrong: a slot
    # that raised would leave the window waiting ("Loading…", "Reflecting…") for ever.

    @Slot(str, object)
    def load(self, path: str, options: LoadOptions) -> None:
        try:
            result = self.engine.load(path, options)
        except Exception as e:  # noqa: BLE001 - the worker's error boundary
            self.loadFailed.emit(user_message(e, f"loading {path}"))
        else:
            self.loaded.emit(result)

    @Slot(object)
    def generate(self, request: GenerationRequest) -> None:
        self._stop_all.clear()
        try:
            for i, messages in enumerate(request.variants):
                if self._stop_all.is_set():
                    break
                self._candidate(request, i, messages)
        finally:
            self.idle.emit()

    def _candidate(self, request: GenerationRequest, i: int, messages: list[dict]) -> None:
        # Distinct seeds so N samples of one prompt differ; reproducible when seeded.
        params = replace(request.params, seed=sample_seed(request.params.seed, i))
        self.started.emit(i)
        other = request.models[i] if i < len(request.models) else None
        try:
            engine, mode = (self._other(other[0]), other[1]) if other else (self.engine, request.mode)
            self._running = engine
            for item in stream(engine, mode, messages, params):
                if isinstance(item, RunStats):
                    self.finished.emit(i, item)
                    return
                self.token.emit(i, item)
            self.failed.emit(i, "The model stopped without finishing its answer.")
        except Exception as e:  # noqa: BLE001 - the worker's error boundary
            self.failed.emit(i, user_message(e, f"candidate {i + 1}"))

    @Slot(str)
    def hash_file(self, path: str) -> None:
        """hashed(path, "") when the file cannot be read (it is then left unhashed)."""
        try:
            digest = file_sha256(path)
        except OSError:
            digest = ""
        self.hashed.emit(path, digest)

    @Slot(object)
    def generate_json(self, request: JsonRequest) -> None:
        # Only the text is made here; parsing and checking against the notebook
        # happen in the window's thread, which owns the database connection.
        try:
            text, _ = collect(stream(self.engine, request.mode, request.messages, request.params,
                                     json_schema=request.schema))
            self.jsonReady.emit(request.context, text)
        except Exception as e:  # noqa: BLE001 - the worker's error boundary
            self.jsonFailed.emit(request.context, user_message(e, "reflection"))

    def _other(self, path: str) -> Engine:
        if path not in self.others:
            engine = Engine()
            opts = self.engine.load_result
            engine.load(path, LoadOptions(n_ctx=opts.n_ctx if opts else None))
            self.others[path] = engine
        return self.others[path]

    def stop(self) -> None:
        """Stop the running candidate at once and skip the rest. Any thread."""
        self._stop_all.set()
        self._running.cancel()
        self.engine.cancel()


def user_message(e: Exception, where: str) -> str:
    """What the user sees for e: its own message, or, for a bug, where to find the details."""
    return str(e) if isinstance(e, WorkbenchError) else report_unexpected(e, where)


def start_worker(engine: Engine) -> tuple[EngineWorker, QThread]:
    thread = QThread()
    thread.setObjectName("engine")
    worker = EngineWorker(engine)
    worker.moveToThread(thread)
    thread.start()
    return worker, thread
