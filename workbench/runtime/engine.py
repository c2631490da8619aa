"""The llama.cpp engine: load a GGUF, stream chat or raw completions, count tokens, cancel.

This is the only module that imports llama_cpp. A `Llama` object is not
thread-safe: one thread at a time may call into an Engine, except `cancel()`,
which is meant to be called from any thread.
"""

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
from llama_cpp import llama_chat_format
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from workbench.errors import (
    ContextOverflowError,
    GenerationError,
    ModelLoadError,
    NoModelLoadedError,
    WorkbenchError,
)
from workbench.runtime.models import ModelInfo, read_model_info
from workbench.runtime.offload import resolve_gpu_layers
from workbench.runtime.params import DEFAULT_CTX_CAP, LoadOptions, LoadResult, RunStats, SamplingParams
from workbench.runtime.templates import (
    ChatTemplateError,
    TemplateLimitError,
    compile_chat_template,
    limited_environment,
)

# Conversations rendered once at load, so a template that hangs or explodes on ordinary
# messages is found then, not on the first keystroke.
PROBE_CONVERSATIONS = (
    [{"role": "user", "content": "Hello."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."},
     {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Name a colour."}],
)


def default_threads() -> int:
    """WORKBENCH_THREADS if set; else all cores on small machines, roughly the physical
    cores on larger ones."""
    if os.environ.get("WORKBENCH_THREADS", "").strip().isdigit():
        return max(1, int(os.environ["WORKBENCH_THREADS"]))
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return n if n <= 4 else n // 2


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can put layers on a GPU (CUDA, Metal, Vulkan...)."""
    return bool(llama_cpp.llama_supports_gpu_offload())


def free_vram_bytes() -> int | None:
    """Free memory of the first NVIDIA GPU, or None when it cannot be told."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5, check=True).stdout
        return int(out.split()[0]) * (1 << 20)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


class LimitedChatFormatter(Jinja2ChatFormatter):
    """The binding's chat formatter with its template compiled in the limited sandbox.

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
        env = limited_environment(like=self._environment.environment)
        try:
            self._environment = compile_chat_template(template, env)
        except ChatTemplateError as e:
            self.problem = e

    def __call__(self, **kwargs):
        if self.problem is None:
            try:
                return super().__call__(**kwargs)
            except TemplateLimitError as e:
                self.problem = e
        raise self.problem if self.model is None else self.problem.for_model(self.model)


# Llama() builds chat handlers from the GGUF's templates with the binding's formatter, whose
# plain sandbox folds constants while compiling: "{{ 'x' * 300000000 }}" would allocate
# inside Llama(), and a syntax error would raise out of it. While a Llama is built, the
# binding is given the limited formatter instead (it looks the class up on its module).
_BINDING_LOCK = threading.Lock()


@contextlib.contextmanager
def _limited_binding_templates():
    with _BINDING_LOCK:
        original = llama_chat_format.Jinja2ChatFormatter
        llama_chat_format.Jinja2ChatFormatter = LimitedChatFormatter
        try:
            yield
        finally:
            llama_chat_format.Jinja2ChatFormatter = original


class Engine:
    """One loaded model and the generation calls on it.

    Args:
        (none) — call load() before anything else.
    """

    def __init__(self):
        self._llm: llama_cpp.Llama | None = None
        self._formatter: LimitedChatFormatter | None = None
        self.info: ModelInfo | None = None
        self.load_result: LoadResult | None = None
        self._cancel = threading.Event()
        # Composition counts the same lesson and section texts on every keystroke.
        self._token_counts: dict[str, int] = {}
        # llama.cpp polls this between graph nodes, so a long prompt can be
        # interrupted mid-batch; measured cost on decode speed is within noise.
        # Kept on self: ctypes must not free it while llama.cpp holds it.
        self._abort_cb = llama_cpp.ggml_abort_callback(lambda _data: self._cancel.is_set())

    # -- loading -----------------------------------------------------------

    def load(self, path: str | Path, options: LoadOptions | None = None) -> LoadResult:
        """Load a GGUF file; raise a WorkbenchError subclass on any failure."""
        options = options or LoadOptions()
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
            llm = self._new_llama(info.path, n_ctx, threads, n_gpu)
        except ModelLoadError as first:
            if n_gpu == 0:
                raise
            # The GPU estimate was wrong or the driver refused: the CPU still works.
            llm = self._new_llama(info.path, n_ctx, threads, 0)
            notice = f"Loading on the GPU failed ({first}); the model runs on the CPU instead."
            n_gpu = 0
        self._llm, self.info = llm, info
        self._formatter = self._make_formatter(llm, info)
        llama_cpp.llama_set_abort_callback(llm._ctx.ctx, self._abort_cb, None)
        if self.chat_problem:
            notice = f"{notice} {self.chat_problem}".strip()
        self.load_result = LoadResult(info, llm.n_ctx(), n_gpu, supported, notice)
        return self.load_result

    @staticmethod
    def _new_llama(path: str, n_ctx: int, threads: int, n_gpu: int) -> llama_cpp.Llama:
        try:
            with _limited_binding_templates():
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
            except ChatTemplateError:
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
        except ChatTemplateError:  # it broke a limit: the message names the model
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
        return self._generate(tokens, params or SamplingParams(), [eos] if eos else [], json_schema)

    def stream_completion(self, prompt: str, params: SamplingParams | None = None,
                          stop: list[str] | None = None, json_schema: dict | None = None
                          ) -> Iterator[str | RunStats]:
        """Stream the raw continuation of a text (BOS added as the model expects)."""
        return self._generate(self.completion_tokens(prompt), params or SamplingParams(),
                              stop or [], json_schema)

    def _generate(self, tokens: list[int], params: SamplingParams, extra_stop: list[str],
                  json_schema: dict | None = None) -> Iterator[str | RunStats]:
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
        return self._run(llm, tokens, params, extra_stop, grammar)

    def _run(self, llm, tokens, params, extra_stop, grammar=None) -> Iterator[str | RunStats]:
        self._cancel.clear()
        stats = RunStats(prompt_tokens=len(tokens))
        ctx = llm._ctx.ctx
        llama_cpp.llama_perf_context_reset(ctx)
        stop = [s for s in [*params.stop, *extra_stop] if s]
        pieces: list[str] = []
        start = time.perf_counter()
        first = None
        try:
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
        # A fully cached prompt still replays its last token, which llama.cpp
        # counts as a decode step, not prompt processing.
        stats.processed_tokens = min(len(tokens), max(int(perf.n_p_eval), 1))
        stats.reused_tokens = len(tokens) - stats.processed_tokens
        text = "".join(pieces)
        stats.completion_tokens = len(self.tokenize(text, special=True)) if text else 0
        stats.time_to_first_token_s = (first or end) - start
        stats.total_s = end - start
        if perf.t_eval_ms > 0 and perf.n_eval > 0:
            stats.decode_tokens_per_s = perf.n_eval / (perf.t_eval_ms / 1000)
        stats.finish_reason = stats.finish_reason or "stop"
        yield stats
