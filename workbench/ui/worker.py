"""The engine's thread: loads models and streams candidates without freezing the window."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from PySide6.QtCore import QObject, QThread, Signal, Slot

from workbench.chat.runs import file_sha256
from workbench.errors import WorkbenchError
from workbench.logs import report_unexpected
from workbench.runtime.engine import Engine
from workbench.runtime.generation import collect, stream
from workbench.runtime.params import LoadOptions, RunStats, SamplingParams, sample_seed
from workbench.runtime.warmup import warm


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


@dataclass
class Job:
    """Any work that needs the engine, run on its thread (an evaluation, a warm-up).

    fn(engine, progress, cancelled) -> result: progress(object) reports anything the caller
    shows; cancelled() is true once stop() was called. `context` comes back as is.
    """

    fn: Callable[[Engine, Callable[[object], None], Callable[[], bool]], object]
    context: object = None


@dataclass
class WarmRequest:
    """Evaluate the stable prefix of `messages` (system prompt, examples, earlier turns) now.
    Only the newest request runs: `serial` is compared with the worker's latest_warm."""

    mode: str
    messages: list[dict]
    serial: int = 0


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
        loadProgress(float): model loading, 0.0 to 1.0.
        promptProgress(int, int, int): candidate i's prompt: tokens processed, of total.
        jobProgress(object, object): a Job's context and what its fn reported.
        jobDone(object, object): a Job's context and its result.
        jobFailed(object, str): a Job's context and a message for the user.
        warmProgress(int, int): a warm-up's tokens evaluated, of total.
        warmed(object): a warm-up ended (a prefill.Prefill; .cancelled when it was stopped).
        warmFailed(str): a warm-up failed; a message for the user.
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
    loadProgress = Signal(float)
    promptProgress = Signal(int, int, int)
    jobProgress = Signal(object, object)
    jobDone = Signal(object, object)
    jobFailed = Signal(object, str)
    warmProgress = Signal(int, int)
    warmed = Signal(object)
    warmFailed = Signal(str)

    def __init__(self, engine: Engine):
        super().__init__()
        self.engine = engine
        self.others: dict[str, Engine] = {}  # models loaded for comparisons
        self._stop_all = threading.Event()
        self._running: Engine = engine
        self.latest_warm = 0  # set by the window's thread when it asks for a warm-up
        self._warm_stop = threading.Event()
        self._warm_lock = threading.Lock()
        self._warming = False
        self._load_percent = -1

    # Every request ends in exactly one done or failed signal, whatever goes wrong: a slot
    # that raised would leave the window waiting ("Loading…", "Reflecting…") for ever.

    @Slot(str, object)
    def load(self, path: str, options: LoadOptions) -> None:
        self._load_percent = -1
        try:
            result = self.engine.load(path, options, on_progress=self._load_progress)
        except Exception as e:  # noqa: BLE001 - the worker's error boundary
            self.loadFailed.emit(user_message(e, f"loading {path}"))
        else:
            self.loaded.emit(result)

    def _load_progress(self, fraction: float) -> None:
        # llama.cpp reports every few tensors: one signal per percent is plenty.
        percent = int(fraction * 100)
        if percent != self._load_percent:
            self._load_percent = percent
            self.loadProgress.emit(fraction)

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
            engine.prompt_progress = lambda done, total: self.promptProgress.emit(i, done, total)
            try:
                for item in stream(engine, mode, messages, params):
                    if isinstance(item, RunStats):
                        self.finished.emit(i, item)
                        return
                    self.token.emit(i, item)
            finally:
                engine.prompt_progress = None
            self.failed.emit(i, "The model stopped without finishing its answer.")
        except Exception as e:  # noqa: BLE001 - the worker's error boundary
            self.failed.emit(i, user_message(e, f"candidate {i + 1}"))

    @Slot(object)
    def warm(self, request: WarmRequest) -> None:
        """Warm the stable prefix; a newer request or stop_warm() ends it at once, keeping what
        was evaluated (the next request's prefix matching picks it up)."""
        if request.serial != self.latest_warm:
            return  # superseded while it waited
        with self._warm_lock:
            self._warming = True
            self._warm_stop.clear()
        self.engine.prompt_progress = lambda done, total: self.warmProgress.emit(done, total)
        try:
            result = warm(self.engine, request.mode, request.messages,
                          lambda: self._warm_stop.is_set() or request.serial != self.latest_warm)
        except Exception as e:  # noqa: BLE001 - the worker's error boundary
            self.warmFailed.emit(user_message(e, "warming the prompt"))
        else:
            self.warmed.emit(result)
        finally:
            self.engine.prompt_progress = None
            with self._warm_lock:
                self._warming = False

    def stop_warm(self) -> None:
        """End a running warm-up at once (any thread): a Send must not wait for it."""
        with self._warm_lock:
            self._warm_stop.set()
            if self._warming:
                self.engine.cancel()  # llama.cpp's abort callback stops the batch midway

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

    @Slot(object)
    def run_job(self, job: Job) -> None:
        self._stop_all.clear()
        try:
            result = job.fn(self.engine, lambda report: self.jobProgress.emit(job.context, report),
                            self._stop_all.is_set)
        except Exception as e:  # noqa: BLE001 - the worker's error boundary
            self.jobFailed.emit(job.context, user_message(e, "a background job"))
        else:
            self.jobDone.emit(job.context, result)

    def _other(self, path: str) -> Engine:
        if path not in self.others:
            from workbench.runtime.engines import open_engine  # a GGUF path or a server's URL
            opts = self.engine.load_result  # the same snapshot folder and context size
            self.others[path] = open_engine(path, LoadOptions(n_ctx=opts.n_ctx if opts else None),
                                            disk_cache=getattr(self.engine, "disk", None))
        return self.others[path]

    def stop(self) -> None:
        """Stop the running candidate at once and skip the rest. Any thread."""
        self._stop_all.set()
        self._warm_stop.set()
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
