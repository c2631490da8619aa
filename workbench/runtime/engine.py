"""The llama.cpp engine: load a GGUF, stream chat or raw completions, count tokens, cancel.

This is the only module that imports llama_cpp (at the first load, not at import). A `Llama` object is not
thread-safe: one thread at a time may call into an Engine, except `cancel()`,
which is meant to be called from any thread, and `cached_tokens()`, which only reads.

A prompt is evaluated in batches before generation starts (progress is reported between them;
the binding's own prefix matching then finds all but the last token already evaluated). On the
way, the longest snapshot of the prompt's beginning (runtime.prompt_cache: in memory, then on
disk) replaces what it covers, and the prompt's stable prefix is snapshotted where it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from workbench.errors import (
    ContextOverflowError,
    GenerationError,
    ModelLoadError,
    NoModelLoadedError,
    WorkbenchError,
)
from workbench.runtime.host import default_threads, free_vram_bytes
from workbench.runtime.models import ModelInfo, read_model_info
from workbench.runtime.offload import resolve_gpu_layers
from workbench.runtime.params import DEFAULT_CTX_CAP, LoadOptions, LoadResult, RunStats, SamplingParams
from workbench.runtime.prefill import (
    MIN_SNAPSHOT_TOKENS,
    PREFILL_BATCH,
    RESTORE_MARGIN,
    STABLE_HINTS,
    Prefill,
    PromptCancelled,
    chat_turn_boundary,
    text_turn_boundary,
)
from workbench.runtime.prompt_cache import (
    DiskCache,
    MemoryCache,
    Snapshot,
    common_prefix,
    context_id,
    ram_budget_bytes,
)

# The binding and the template sandbox, imported by _binding() when a model is first loaded (on
# the engine thread): with numpy and Jinja they cost ~0.3 s that opening the window should not pay.
llama_cpp = llama_internals = llama_chat_format = templates = None
_IMPORT_LOCK = threading.Lock()


def _binding():
    """The llama_cpp module, imported on first use; LimitedChatFormatter is made with it."""
    global llama_cpp, llama_internals, llama_chat_format, templates, LimitedChatFormatter
    with _IMPORT_LOCK:
        if llama_cpp is None:
            import llama_cpp as binding
            from llama_cpp import _internals
            from llama_cpp import llama_chat_format as chat_format

            from workbench.runtime import templates as sandbox
            templates = sandbox
            LimitedChatFormatter = type("LimitedChatFormatter",
                                        (_LimitedFormatting, chat_format.Jinja2ChatFormatter),
                                        {"__doc__": _LimitedFormatting.__doc__,
                                         "__module__": __name__})
            llama_internals, llama_chat_format, llama_cpp = _internals, chat_format, binding
    return llama_cpp


def __getattr__(name: str):
    if name == "LimitedChatFormatter":  # before any model was loaded
        _binding()
        return LimitedChatFormatter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Conversations rendered once at load, so a template that hangs or explodes on ordinary
# messages is found then, not on the first keystroke.
PROBE_CONVERSATIONS = (
    [{"role": "user", "content": "Hello."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."},
     {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Name a colour."}],
)


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can put layers on a GPU (CUDA, Metal, Vulkan...)."""
    return bool(_binding().llama_supports_gpu_offload())


class _LimitedFormatting:
    """The binding's chat formatter with its template compiled in the limited sandbox
    (LimitedChatFormatter: this before the binding's Jinja2ChatFormatter).

    Everything but the compile is the binding's own (its __init__ sets the tokens and stop
    ids, its __call__ renders), so normal templates give exactly the binding's text. A
    template that does not compile, or that broke a limit once, is kept as `problem` and
    raised on every call: a window rendering on each keystroke must not wait a second each
    time.
    """

    def __init__(self, template: str, *args, **kwargs):
        super().__init__("", *args, **kwargs)  # an empty template: compiling it is harmless
        self.template, self.problem = template, None
        self.model: str | None = None  # named in the errors when set
        # The binding's syntax options and extensions; its tojson is templates.tojson.
        env = templates.limited_environment(like=self._environment.environment)
        try:
            self._environment = templates.compile_chat_template(template, env)
        except templates.ChatTemplateError as e:
            self.problem = e

    def __call__(self, **kwargs):
        if self.problem is None:
            try:
                return super().__call__(**kwargs)
            except templates.TemplateLimitError as e:
                self.problem = e
        raise self.problem if self.model is None else self.problem.for_model(self.model)


# Llama() builds chat handlers from the GGUF's templates with the binding's formatter, whose
# plain sandbox folds constants while compiling: "{{ 'x' * 300000000 }}" would allocate
# inside Llama(), and a syntax error would raise out of it. While a Llama is built, the
# binding is given the limited formatter instead (it looks the class up on its module).
_BINDING_LOCK = threading.Lock()


@contextlib.contextmanager
def _limited_binding_templates(on_progress: Callable[[float], None] | None = None):
    """While a Llama is built: the limited formatter, and on_progress(fraction) told how far
    loading the weights got (Llama() builds its model params itself; the model wrapper it
    creates them with is given a progress callback)."""
    with _BINDING_LOCK:
        original = llama_chat_format.Jinja2ChatFormatter
        original_model = llama_internals.LlamaModel
        llama_chat_format.Jinja2ChatFormatter = LimitedChatFormatter
        if on_progress is not None:
            llama_internals.LlamaModel = _reporting_model(original_model, on_progress)
        try:
            yield
        finally:
            llama_chat_format.Jinja2ChatFormatter = original
            llama_internals.LlamaModel = original_model


def _reporting_model(base, on_progress: Callable[[float], None]):
    def report(fraction, _data):
        try:
            on_progress(float(fraction))
        except Exception:  # noqa: BLE001, S110 - an exception must not cross into C
            pass
        return True  # go on loading

    callback = llama_cpp.llama_progress_callback(report)

    class ReportingModel(base):
        def __init__(self, *args, params, **kwargs):
            params.progress_callback = callback
            self._progress_callback = callback  # kept alive while llama.cpp may call it
            super().__init__(*args, params=params, **kwargs)

    return ReportingModel


class Engine:
    """One loaded model and the generation calls on it.

    Args:
        disk_cache: where prompt snapshots are kept across restarts (None: in memory only).
        Call load() before anything else.
    """

    def __init__(self, disk_cache: DiskCache | None = None):
        self._llm: llama_cpp.Llama | None = None
        # Snapshots of prompt prefixes: several in memory (variants alternate), and on disk
        # across restarts when the composition root gives a folder.
        self.memory = MemoryCache(ram_budget_bytes())
        self.disk = disk_cache
        self._stable: list[tuple[int, ...]] = []  # stable prefixes named by warm-ups
        # Told (tokens evaluated, of total) between batches of the prompt; set by the caller.
        self.prompt_progress: Callable[[int, int], None] | None = None
        self.last_prefill: Prefill | None = None
        self._context_settings: dict = {}
        self._formatter: LimitedChatFormatter | None = None
        self.info: ModelInfo | None = None
        self.load_result: LoadResult | None = None
        self._cancel = threading.Event()
        # Composition counts the same lesson and section texts on every keystroke.
        self._token_counts: dict[str, int] = {}
        # llama.cpp polls this between graph nodes, so a long prompt can be
        # interrupted mid-batch; measured cost on decode speed is within noise.
        # Kept on self: ctypes must not free it while llama.cpp holds it.
        self._abort_cb = None  # made at the first load, with the binding

    # -- loading -----------------------------------------------------------

    def load(self, path: str | Path, options: LoadOptions | None = None,
             on_progress: Callable[[float], None] | None = None) -> LoadResult:
        """Load a GGUF file; raise a WorkbenchError subclass on any failure. on_progress(fraction)
        is told how far loading got, from llama.cpp's own callback."""
        options = options or LoadOptions()
        _binding()
        if self._abort_cb is None:
            self._abort_cb = llama_cpp.ggml_abort_callback(lambda _data: self._cancel.is_set())
        # Validates the file: missing, not GGUF, truncated, no tensors (llama.cpp would fail on
        # the first missing tensor, which reads like a memory error).
        info = read_model_info(path)
        trained = info.context_length or DEFAULT_CTX_CAP
        n_ctx = options.n_ctx or min(trained, DEFAULT_CTX_CAP)
        supported = gpu_offload_supported()
        n_gpu = resolve_gpu_layers(options.n_gpu_layers, info, n_ctx, supported,
                                   free_vram_bytes() if supported and options.n_gpu_layers == "auto"
                                   else None)
        self.unload()
        notice = ""
        if options.n_gpu_layers not in ("auto", "none", 0, "0") and not supported:
            notice = "This llama.cpp build has no GPU support; running on the CPU."
        threads = options.n_threads or default_threads()
        try:
            llm = self._new_llama(info.path, n_ctx, threads, n_gpu, on_progress)
        except ModelLoadError as first:
            if n_gpu == 0:
                raise
            # The GPU estimate was wrong or the driver refused: the CPU still works.
            llm = self._new_llama(info.path, n_ctx, threads, 0, on_progress)
            notice = f"Loading on the GPU failed ({first}); the model runs on the CPU instead."
            n_gpu = 0
        self._llm, self.info = llm, info
        self._formatter = self._make_formatter(llm, info)
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, self._abort_cb, None)
        if self.chat_problem:
            notice = f"{notice} {self.chat_problem}".strip()
        self.load_result = LoadResult(info, llm.n_ctx(), n_gpu, supported, notice)
        # What a snapshot is valid for besides the model file (its hash is the disk cache's
        # business): a state written by another context size, offload or build is not loaded.
        self._context_settings = {"n_ctx": llm.n_ctx(), "n_gpu_layers": n_gpu,
                                  "type_k": llm.context_params.type_k,
                                  "type_v": llm.context_params.type_v,
                                  "flash_attn": llm.context_params.flash_attn_type,
                                  "llama_cpp": llama_cpp.__version__}
        return self.load_result

    @staticmethod
    def _new_llama(path: str, n_ctx: int, threads: int, n_gpu: int,
                   on_progress: Callable[[float], None] | None = None) -> llama_cpp.Llama:
        try:
            with _limited_binding_templates(on_progress):
                return llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=threads,
                                       n_threads_batch=threads, n_gpu_layers=n_gpu, verbose=False)
        except MemoryError as e:
            raise ModelLoadError(f"Out of memory loading {Path(path).name}. Close other "
                                 "programs, choose a smaller context or a smaller model.") from e
        except (ValueError, RuntimeError) as e:
            # The file's header was valid, so llama.cpp failed on the weights or
            # the context: memory, or an architecture this build does not know.
            raise ModelLoadError(
                f"llama.cpp could not load {Path(path).name} with a {n_ctx:,}-token context "
                f"({e}). Likely causes: not enough memory (try a smaller context or fewer GPU "
                "layers) or a model architecture newer than this llama.cpp build.") from e
        except Exception as e:  # whatever else the binding raises is a load failure too
            raise ModelLoadError(f"llama.cpp could not load {Path(path).name} ({e}).") from e

    @staticmethod
    def _make_formatter(llm, info: ModelInfo) -> LimitedChatFormatter | None:
        # The same construction the binding uses for the GGUF's own template,
        # kept here so the rendered text can be shown and its tokens counted.
        if not info.chat_template:
            return None
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        formatter = LimitedChatFormatter(template=info.chat_template, eos_token=eos,
                                         bos_token=bos, stop_token_ids=[eos_id])
        formatter.model = info.name
        for messages in PROBE_CONVERSATIONS:
            try:
                formatter(messages=messages)
            except templates.ChatTemplateError:
                break  # kept as formatter.problem
            except Exception:  # noqa: BLE001, S112 - a template may refuse these messages
                continue
        # The binding's create_chat_completion then uses this one too: a problem found at
        # load is not found again, a second slowly.
        llm._chat_handlers["chat_template.default"] = formatter.to_chat_handler()
        return formatter

    @property
    def chat_problem(self) -> str | None:
        """Why the loaded model cannot be used for chat although its GGUF has a chat template
        (it does not compile or breaks the limits), or None."""
        if self._formatter is None or self._formatter.problem is None:
            return None
        return str(self._formatter.problem.for_model(self.info.name))

    def unload(self) -> None:
        if self._llm is not None:
            self._llm.close()
        self._llm = self.info = self.load_result = self._formatter = None
        self._token_counts.clear()
        self.memory.clear()  # snapshots belong to the model they were taken with
        self._stable.clear()

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def _require(self) -> llama_cpp.Llama:
        if self._llm is None:
            raise NoModelLoadedError("No model is loaded. Choose a model first.")
        return self._llm

    @property
    def n_ctx(self) -> int:
        return self._require().n_ctx()

    # -- tokens ------------------------------------------------------------

    def tokenize(self, text: str, add_bos: bool = False, special: bool = True) -> list[int]:
        return self._require().tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def count_tokens(self, text: str) -> int:
        """Tokens in a piece of plain text (no BOS added); remembered per model."""
        n = self._token_counts.get(text)
        if n is None:
            if len(self._token_counts) > 20_000:
                self._token_counts.clear()
            n = self._token_counts[text] = len(self.tokenize(text, special=False))
        return n

    def render_chat(self, messages: list[dict]) -> str:
        """The exact text the chat template makes of these messages (special tokens visible)."""
        self._require()
        if self._formatter is None:
            raise WorkbenchError(f"{self.info.name} has no chat template (it is a base model); "
                                 "use a completion or URIAL prompt instead.")
        try:
            return self._formatter(messages=messages).prompt
        except templates.ChatTemplateError:  # it broke a limit: the message names the model
            raise
        except Exception as e:  # jinja2 errors, raise_exception() in the template
            raise WorkbenchError(f"The model's chat template rejected these messages: {e}") from e

    def chat_tokens(self, messages: list[dict]) -> list[int]:
        """The exact prompt tokens for chat messages."""
        # Same as the binding's chat handler: the template writes BOS itself.
        return self.tokenize(self.render_chat(messages), add_bos=False, special=True)

    def completion_tokens(self, prompt: str) -> list[int]:
        """The exact prompt tokens for a raw text (BOS added as the model expects)."""
        return self.tokenize(prompt, add_bos=True, special=True)

    def show_tokens(self, tokens: list[int]) -> str:
        """Tokens back to text with special tokens written out (what the model sees)."""
        return self._require().detokenize(tokens, special=True).decode("utf-8", errors="replace")

    def count_chat_tokens(self, messages: list[dict]) -> int:
        return len(self.chat_tokens(messages))

    # -- generation --------------------------------------------------------

    def cancel(self) -> None:
        """Stop the current generation as soon as possible; safe from any thread."""
        self._cancel.set()

    def stream_chat(self, messages: list[dict], params: SamplingParams | None = None,
                    json_schema: dict | None = None) -> Iterator[str | RunStats]:
        """Stream an answer to chat messages using the GGUF's own template.

        Yields text pieces, then one RunStats as the last item. With json_schema,
        llama.cpp's grammar only lets the model write JSON of that shape.
        """
        tokens = self.chat_tokens(messages)
        eos = self._formatter.eos_token
        return self._generate(tokens, params or SamplingParams(), [eos] if eos else [], json_schema,
                              stable=chat_turn_boundary(messages, tokens, self.chat_tokens))

    def stream_completion(self, prompt: str, params: SamplingParams | None = None,
                          stop: list[str] | None = None, json_schema: dict | None = None
                          ) -> Iterator[str | RunStats]:
        """Stream the raw continuation of a text (BOS added as the model expects)."""
        tokens = self.completion_tokens(prompt)
        return self._generate(tokens, params or SamplingParams(), stop or [], json_schema,
                              stable=text_turn_boundary(prompt, stop or [], tokens, self.completion_tokens))

    # -- snapshots ---------------------------------------------------------------------

    def _disk_context(self) -> str | None:
        if self.disk is None or self.info is None:
            return None
        try:
            sha = self.disk.model_sha256(self.info.path)
        except (OSError, WorkbenchError):  # unreadable file, or a database that refuses
            return None
        return context_id(sha, self._context_settings) if sha else None

    def forget_prompts(self) -> None:
        """Start the next prompt from nothing: the live context and the snapshots in memory
        (the disk keeps its own) are dropped; for measuring a cold start."""
        self.memory.clear()
        self._stable.clear()
        if self._llm is not None:
            self._llm.reset()
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._llm._ctx.ctx), True)

    def cached_tokens(self, tokens: Sequence[int]) -> tuple[int, str]:
        """How many leading tokens of a prompt need no processing now, and where they are
        ("live", "memory", "disk" or ""). Only reads; safe from the window's thread."""
        llm = self._llm
        if llm is None or not tokens:
            return 0, ""
        best = (min(common_prefix(llm.input_ids[:llm.n_tokens].tolist(), tokens), len(tokens)), "live")
        snap = self.memory.longest_prefix(tokens, touch=False)
        if snap is not None and len(snap.tokens) > best[0]:
            best = (len(snap.tokens), "memory")
        ctx = self._disk_context()
        if ctx is not None:
            n = self.disk.longest_prefix(ctx, tokens, longer_than=best[0], load=False)
            if n:
                best = (n, "disk")
        return best if best[0] else (0, "")

    def _snapshot(self, llm, tokens: Sequence[int]) -> None:
        """Keep the state of the tokens just evaluated: in memory, and on disk in the background."""
        ctx = llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        disk_ctx = self._disk_context()
        room = max(self.memory.budget, self.disk.max_bytes if disk_ctx is not None else 0)
        if size <= 0 or size > room:  # a big model's long prompt: copying it would keep nothing
            return
        data = bytearray(size)
        written = llama_cpp.llama_state_seq_get_data(ctx, (ctypes.c_uint8 * size).from_buffer(data), size, 0)
        if written != size:
            return
        snapshot = Snapshot(tuple(tokens), data)
        self.memory.put(snapshot)
        if disk_ctx is not None:
            self.disk.save_later(disk_ctx, snapshot, {"model_name": self.info.name,
                                                      "model_file": Path(self.info.path).name})

    def _restore(self, llm, snapshot: Snapshot) -> bool:
        """Put a snapshot into sequence 0 and tell the binding which tokens it holds."""
        ctx = llm._ctx.ctx
        n = len(snapshot.tokens)
        read = llama_cpp.llama_state_seq_set_data(
            ctx, (ctypes.c_uint8 * snapshot.size).from_buffer(snapshot.data), snapshot.size, 0)
        if read != snapshot.size or not self._window_intact(llm, n):
            llm.reset()  # the sequence was cleared before the failed read
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
            return False
        llm.input_ids[:n] = snapshot.tokens
        llm.n_tokens = n
        llm._requires_eval = True  # logits are not part of the state: the next token is decoded
        return True

    @staticmethod
    def _window_intact(llm, n: int) -> bool:
        """Whether a sliding-window model still holds the window before position n (llama.cpp
        may drop older cells; the binding keeps them, but a cut there would read missing ones)."""
        n_swa = llama_cpp.llama_model_n_swa(llm._model.model)
        if n_swa <= 0 or n == 0:
            return True
        pos_min = llama_cpp.llama_memory_seq_pos_min(llama_cpp.llama_get_memory(llm._ctx.ctx), 0)
        return 0 <= pos_min <= max(0, n - n_swa)

    def _keep_live(self, llm, n: int) -> int:
        """Cut the live context back to its first n tokens; how many it then holds."""
        if n < llm.n_tokens:
            if n == 0 or not llm._ctx.kv_cache_seq_rm(-1, n, -1) or not self._window_intact(llm, n):
                llm.reset()
                llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm._ctx.ctx), True)
                return 0
            llm.n_tokens = n
            llm._requires_eval = True
        return n

    def _prefill(self, llm, tokens: Sequence[int], boundaries: set[int], total: int,
                 cancelled: Callable[[], bool] | None = None) -> Prefill:
        """Bring the context to hold exactly `tokens`: keep what the live context shares,
        or restore a longer snapshot, then evaluate the rest in batches, snapshotting at each
        boundary. Raises PromptCancelled when Stop was pressed between or inside batches."""
        tokens = list(tokens)
        live = common_prefix(llm.input_ids[:llm.n_tokens].tolist(), tokens)
        result = Prefill(total, reused=live, source="live" if live else "")
        snap, source = self.memory.longest_prefix(tokens), "memory"
        disk_ctx = self._disk_context()
        if disk_ctx is not None:
            have = max(live, len(snap.tokens) if snap else 0)
            if have < len(tokens) - RESTORE_MARGIN:
                found = self.disk.longest_prefix(disk_ctx, tokens, longer_than=have + RESTORE_MARGIN)
                if found is not None:
                    snap, source = found, "disk"
                    self.memory.put(found)
        if snap is not None and len(snap.tokens) > live + RESTORE_MARGIN and self._restore(llm, snap):
            result.reused, result.source = len(snap.tokens), source
        else:  # (a failed restore leaves an empty context)
            result.reused = self._keep_live(llm, min(live, llm.n_tokens))
            result.source = "live" if result.reused else ""
        self._report(result.reused, total)
        pending = sorted(b for b in boundaries if result.reused < b <= len(tokens)
                         and b >= MIN_SNAPSHOT_TOKENS and not self.memory.has(tokens[:b]))
        pos = result.reused
        while pos < len(tokens):
            if self._cancel.is_set() or (cancelled is not None and cancelled()):
                result.cancelled = True
                raise PromptCancelled(result)
            end = min(len(tokens), pos + PREFILL_BATCH, *[b for b in pending if b > pos] or [len(tokens)])
            try:
                llm.eval(tokens[pos:end])
            except RuntimeError as e:
                if self._cancel.is_set():
                    result.processed, result.cancelled = llm.n_tokens - result.reused, True
                    raise PromptCancelled(result) from e
                raise GenerationError(f"llama.cpp failed while processing the prompt: {e}") from e
            pos = end
            result.processed = pos - result.reused
            self._report(pos, total)
            if pos in pending:
                self._snapshot(llm, tokens[:pos])
        return result

    def _report(self, done: int, total: int) -> None:
        if self.prompt_progress is not None:
            self.prompt_progress(done, total)

    def _hinted_boundaries(self, tokens: Sequence[int]) -> set[int]:
        """The stable prefixes named by warm-ups that begin this prompt."""
        tokens = tuple(tokens)
        return {len(p) for p in self._stable if tokens[:len(p)] == p}

    def warm(self, tokens: Sequence[int], cancelled: Callable[[], bool] | None = None) -> Prefill:
        """Evaluate a stable prefix ahead of the next request (restoring a snapshot when one
        has it) and snapshot it; the next prompt that begins with it starts from there.
        cancel() ends it within a batch, cancelled() (a caller's flag) between batches; what
        was evaluated so far stays and is used by the next request."""
        llm = self._require()
        tokens = list(tokens)[: llm.n_ctx() - 1]
        self._cancel.clear()
        key = tuple(tokens)
        if key and key not in self._stable:
            self._stable = [*self._stable, key][-STABLE_HINTS:]
        if common_prefix(llm.input_ids[:llm.n_tokens].tolist(), tokens) == len(tokens):
            # Already there, perhaps followed by the last question and answer: left as it is,
            # so a next turn that goes on from them reuses them too.
            self.last_prefill = Prefill(len(tokens), reused=len(tokens), source="live" if tokens else "")
            return self.last_prefill
        try:
            self.last_prefill = self._prefill(llm, tokens, {len(tokens)}, len(tokens), cancelled)
        except PromptCancelled as stopped:
            self.last_prefill = stopped.prefill
        finally:
            self._cancel.clear()
        return self.last_prefill

    # -- generation --------------------------------------------------------------------

    def _generate(self, tokens: list[int], params: SamplingParams, extra_stop: list[str],
                  json_schema: dict | None = None, stable: int = 0) -> Iterator[str | RunStats]:
        llm = self._require()
        if len(tokens) >= llm.n_ctx():
            raise ContextOverflowError(
                f"The prompt is {len(tokens):,} tokens but the context holds {llm.n_ctx():,}. "
                "Shorten the prompt or the conversation, or load the model with a larger context.")
        grammar = None
        if json_schema is not None:
            try:
                grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(json_schema),
                                                                  verbose=False)
            except Exception as e:  # the converter raises plain exceptions on bad schemas
                raise WorkbenchError(f"This JSON schema cannot be turned into a grammar: {e}") from e
        boundaries = self._hinted_boundaries(tokens) | ({stable} if stable else set())
        return self._run(llm, tokens, params, extra_stop, grammar, boundaries)

    def _run(self, llm, tokens, params, extra_stop, grammar=None,
             boundaries: set[int] = frozenset()) -> Iterator[str | RunStats]:
        self._cancel.clear()
        stats = RunStats(prompt_tokens=len(tokens))
        ctx = llm._ctx.ctx
        llama_cpp.llama_perf_context_reset(ctx)
        stop = [s for s in [*params.stop, *extra_stop] if s]
        pieces: list[str] = []
        start = time.perf_counter()
        first = None
        prefill = Prefill(len(tokens))
        try:
            # All but the last token: the binding's prefix matching finds them evaluated and
            # decodes the last one itself, which gives the logits to sample from.
            prefill = self.last_prefill = self._prefill(llm, tokens[:-1], boundaries, len(tokens))
            self._report(len(tokens), len(tokens))
            chunks = llm.create_completion(
                tokens, max_tokens=params.max_tokens, temperature=params.temperature,
                top_p=params.top_p, top_k=params.top_k, min_p=params.min_p,
                repeat_penalty=params.repeat_penalty, seed=params.seed, stop=stop or None,
                grammar=grammar, stream=True)
            for chunk in chunks:
                choice = chunk["choices"][0]
                if choice["text"]:
                    if first is None:
                        first = time.perf_counter()
                    pieces.append(choice["text"])
                    yield choice["text"]
                if choice.get("finish_reason"):
                    stats.finish_reason = choice["finish_reason"]
                if self._cancel.is_set():
                    stats.finish_reason = "cancelled"
                    chunks.close()
                    break
        except PromptCancelled as stopped:
            prefill = self.last_prefill = stopped.prefill
            stats.finish_reason = "cancelled"
        except RuntimeError as e:
            if not self._cancel.is_set():
                raise GenerationError(f"llama.cpp failed while generating: {e}") from e
            # Aborted during prompt processing; the binding's n_tokens still
            # matches the batches that finished, so the engine stays usable.
            stats.finish_reason = "cancelled"
        except ValueError as e:
            if "exceed context window" in str(e):
                raise ContextOverflowError(str(e)) from e
            raise GenerationError(str(e)) from e
        finally:
            self._cancel.clear()
        end = time.perf_counter()
        perf = llama_cpp.llama_perf_context(ctx)
        stats.reused_tokens = prefill.reused
        # Cancelled in the prompt: what was evaluated; else all of it (the last token included).
        stats.processed_tokens = prefill.processed if prefill.cancelled else len(tokens) - prefill.reused
        text = "".join(pieces)
        stats.completion_tokens = len(self.tokenize(text, special=True)) if text else 0
        stats.time_to_first_token_s = (first or end) - start
        stats.total_s = end - start
        if perf.t_eval_ms > 0 and perf.n_eval > 0:
            stats.decode_tokens_per_s = perf.n_eval / (perf.t_eval_ms / 1000)
        stats.finish_reason = stats.finish_reason or "stop"
        yield stats

