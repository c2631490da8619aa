"""A remote engine: a model served over HTTP by llama-server, vLLM, Ollama, LM Studio or any
OpenAI-compatible server, behind the same interface as the local Engine (runtime.interface).

What the server offers is found once, at load: every server has /v1/models and
/v1/chat/completions (and usually /v1/completions); llama-server also has /completion (raw text
exactly as given: right for URIAL and raw mode), /apply-template (what the model sees),
/tokenize and /detokenize (exact tokens) and reports `timings.cache_n`; llama-cpp-python's
server has /extras/tokenize. Where a server lacks them, counts and renderings are estimated and
`exact_tokens` / `exact_render` say so.
"""

import math
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from workbench.errors import ContextOverflowError, NoModelLoadedError, WorkbenchError
from workbench.runtime.http_client import Http, RemoteError, normalize_url
from workbench.runtime.interface import exactness_note
from workbench.runtime.models import ModelInfo
from workbench.runtime.params import DEFAULT_CTX_CAP, LoadOptions, LoadResult, RunStats, SamplingParams

# llama.cpp's own fallback when a GGUF has no chat template: a server reporting exactly this
# serves a base model (the workbench then uses URIAL, as it does locally).
LLAMA_FALLBACK_TEMPLATE = (
    "{%- for message in messages -%}\n"
    "  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "  {{- '<|im_start|>assistant\n' -}}\n"
    "{%- endif -%}")
KNOWN_LOOKUPS = 20_000  # counts and renderings remembered per model


def split_spec(spec: str) -> tuple[str, str | None]:
    """'http://host:port[/v1][#model]' -> (base URL, model or None)."""
    url, _, model = spec.strip().partition("#")
    return normalize_url(url), model.strip() or None


def is_remote(spec) -> bool:
    return isinstance(spec, str) and spec.strip().lower().startswith(("http://", "https://"))


@dataclass
class RemoteModelInfo(ModelInfo):
    """A served model: `path` is its spec (URL#model); `model_kind` is 'chat' unless the server
    shows it has no chat template (a base model)."""

    server: str = ""
    flavour: str = ""  # "llama-server", "llama-cpp-python" or "openai-compatible"
    model_kind: str = "chat"

    @property
    def kind(self) -> str:
        return self.model_kind


@dataclass
class ServerFeatures:
    """What one server offers, found once at load."""

    models: list[str]
    flavour: str  # see RemoteModelInfo
    tokenizer: str = ""  # "native" (/tokenize), "extras" (/extras/tokenize) or "" (estimates)
    bos_prefix: list[int] = field(default_factory=list)  # what /extras/tokenize puts first
    props: dict = field(default_factory=dict)

    @property
    def native(self) -> bool:
        return self.flavour == "llama-server"


@dataclass
class RemotePrefill:
    """A warm-up on the server (the same fields as the local engine's Prefill)."""

    total: int
    reused: int = 0
    source: str = ""
    processed: int = 0
    cancelled: bool = False


@dataclass
class _Seen:
    """What a stream showed on the way: its pieces, when the first came, timings and usage."""

    start: float
    first: float | None = None
    pieces: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    usage: dict = field(default_factory=dict)


class TextTokens(list):
    """Token ids that remember the text they stand for (what show_tokens gives back), for
    servers that cannot turn ids back into text, and for estimates."""

    def __init__(self, ids, text: str):
        super().__init__(ids)
        self.text = text


def approx_ids(text: str) -> list[int]:
    """Stand-in ids, one per 4 characters: the estimate's length, and equal texts share a prefix."""
    return [zlib.crc32(text[i:i + 4].encode()) for i in range(0, len(text), 4)]


def estimated_render(messages: list[dict]) -> str:
    """A readable stand-in for a chat template the server applies out of sight."""
    parts = [f"<|{m.get('role', '')}|>\n{m.get('content', '')}" for m in messages]
    return "\n".join([*parts, "<|assistant|>\n"])


class RemoteEngine:
    """A model on an OpenAI-compatible server.

    Args:
        api_key: sent as a bearer token (None: the key saved for the server, else
            WORKBENCH_API_KEY); timeout: seconds a stream may stay silent.
    Attributes:
        interactive_thread: lookups (token counts, renderings) asked from this thread never
            wait for the network: they give an estimate and fetch the exact value in the
            background for next time (the window sets its own thread here).
    """

    def __init__(self, api_key: str | None = None, timeout: float | None = None):
        self._api_key, self._timeout = api_key, timeout
        self.http: Http | None = None
        self.features: ServerFeatures | None = None
        self.info: RemoteModelInfo | None = None
        self.load_result: LoadResult | None = None
        self.prompt_progress: Callable[[int, int], None] | None = None
        self.last_prefill: RemotePrefill | None = None
        self.chat_problem: str | None = None
        self.disk = None  # no prompt snapshots here: the server keeps its own cache
        self.interactive_thread: threading.Thread | None = None
        self._model = ""
        self._n_ctx = 0
        self._ctx_known = False  # the server said its context size
        self._cancel = threading.Event()
        self._known: dict = {}
        self._todo: queue.SimpleQueue | None = None  # lookups for the background thread
        # Held while an answer streams: llama-cpp-python's server drops a running answer when
        # another request comes (interrupt_requests), so background lookups wait for it.
        self._streaming = threading.Lock()
        self._pending: set = set()

    # -- loading ------------------------------------------------------------------------

    def load(self, path: str, options: LoadOptions | None = None,
             on_progress: Callable[[float], None] | None = None) -> LoadResult:
        """Connect to the server at path (URL or URL#model), find what it offers and choose
        the model; RemoteError with what to do when it cannot be used."""
        from workbench.runtime.servers import api_key_for  # the keyring is only read here
        options = options or LoadOptions()
        base, wanted = split_spec(path)
        key = self._api_key if self._api_key is not None else api_key_for(base)
        http = Http(base, key, self._timeout)
        features = probe(http)
        if on_progress:
            on_progress(0.5)
        model = wanted or features.models[0]
        if model not in features.models:
            raise RemoteError(f"{base} has no model {model!r}; it serves: "
                              f"{', '.join(features.models[:12])}.", 404)
        self.unload()
        self.http, self.features, self._model = http, features, model
        props = features.props
        n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx") if features.native else None
        notes = []
        self._ctx_known = isinstance(n_ctx, int) and n_ctx > 0
        if not self._ctx_known:
            n_ctx = options.n_ctx or DEFAULT_CTX_CAP
            if not options.n_ctx:
                notes.append(f"The server does not say its context size; {n_ctx:,} tokens is assumed "
                             "(--ctx sets it).")
        self._n_ctx = n_ctx
        template = props.get("chat_template") if features.native else None
        kind = "base" if template == LLAMA_FALLBACK_TEMPLATE else "chat"
        name = PurePosixPath(model).name if "/" in model else model
        self.info = RemoteModelInfo(
            path=f"{base}#{model}", name=name, architecture=features.flavour, size_label="",
            quantization="", file_size=0, context_length=n_ctx, n_layers=0,
            chat_template=template if kind == "chat" else None, server=base,
            flavour=features.flavour, model_kind=kind)
        self.load_result = LoadResult(self.info, n_ctx, 0, False, " ".join(
            [f"{name} runs on {base} ({features.flavour}); {exactness_note(self)}.", *notes]))
        if on_progress:
            on_progress(1.0)
        return self.load_result

    def unload(self) -> None:
        self.cancel()
        self.http = self.features = self.info = self.load_result = None
        self._known.clear()
        self._cancel.clear()

    @property
    def loaded(self) -> bool:
        return self.http is not None

    def _require(self) -> Http:
        if self.http is None:
            raise NoModelLoadedError("No model is loaded. Choose a model or a server first.")
        return self.http

    @property
    def n_ctx(self) -> int:
        self._require()
        return self._n_ctx

    @property
    def exact_tokens(self) -> bool:
        return bool(self.features and self.features.tokenizer)

    @property
    def exact_render(self) -> bool:
        return bool(self.features and self.features.native)

    def models(self) -> list[str]:
        return list(self.features.models) if self.features else []

    # -- lookups (tokens and renderings) ---------------------------------------------------

    def _lookup(self, key, fetch: Callable, estimate: Callable):
        """A remembered value, else fetch() now; from the interactive thread, an estimate now
        and the fetch in the background."""
        if key in self._known:
            return self._known[key]
        if threading.current_thread() is self.interactive_thread:
            if key not in self._pending:
                self._pending.add(key)
                if self._todo is None:
                    self._todo = queue.SimpleQueue()
                    # A daemon: a lookup waiting on a dead server never holds up quitting.
                    threading.Thread(target=self._fetch_forever, args=(self._todo,),
                                     name="remote-lookup", daemon=True).start()
                self._todo.put((key, fetch))
            return estimate()
        return self._remember(key, fetch())

    def _fetch_forever(self, todo: queue.SimpleQueue) -> None:
        while True:
            key, fetch = todo.get()
            try:
                with self._streaming:
                    value = fetch()
                self._remember(key, value)
            except Exception:  # noqa: BLE001, S110 - the estimate stays; errors show on use
                pass
            finally:
                self._pending.discard(key)

    def _remember(self, key, value):
        if len(self._known) > KNOWN_LOOKUPS:
            self._known.clear()
        self._known[key] = value
        return value

    def tokenize(self, text: str, add_bos: bool = False, special: bool = True) -> list[int]:
        http, f = self._require(), self.features
        if f.tokenizer == "native":
            body = {"content": text, "add_special": add_bos, "parse_special": special}
            return _ids(http.post_json("/tokenize", body), http)
        if f.tokenizer == "extras":  # it always tokenizes with BOS and special tokens
            ids = _ids(http.post_json("/extras/tokenize", {"input": text, "model": self._model}), http)
            bos = f.bos_prefix
            if not add_bos and bos and ids[:len(bos)] == bos:
                ids = ids[len(bos):]
            return ids
        return approx_ids(text)

    def count_tokens(self, text: str) -> int:
        return self._lookup(("count", text), lambda: len(self.tokenize(text, special=False)),
                            lambda: math.ceil(len(text) / 4))

    def render_chat(self, messages: list[dict]) -> str:
        """The text the server's chat template makes of these messages: exact from llama-server
        (/apply-template), an approximation elsewhere (exact_render says which)."""
        http = self._require()
        if not self.features.native:
            return estimated_render(messages)
        key = ("render", _frozen(messages))

        def fetch():
            out = http.post_json("/apply-template", {"messages": messages})
            if not isinstance(out, dict) or not isinstance(out.get("prompt"), str):
                raise RemoteError(f"{http.base}/apply-template answered without a prompt.")
            return out["prompt"]
        return self._lookup(key, fetch, lambda: estimated_render(messages))

    def chat_tokens(self, messages: list[dict]) -> list[int]:
        text = self.render_chat(messages)
        return self._text_tokens(text, add_bos=False)

    def completion_tokens(self, prompt: str) -> list[int]:
        return self._text_tokens(prompt, add_bos=True)

    def _text_tokens(self, text: str, add_bos: bool) -> TextTokens:
        """The tokens of a text and the text as the model sees it (special tokens written out)."""
        self._require()

        def fetch():
            ids = self.tokenize(text, add_bos=add_bos)
            shown = self._detokenize(ids) if self.features.tokenizer == "native" else text
            return TextTokens(ids, shown)
        return self._lookup(("tokens", text, add_bos), fetch, lambda: TextTokens(approx_ids(text), text))

    def _detokenize(self, ids: list[int]) -> str:
        out = self._require().post_json("/detokenize", {"tokens": list(ids)})
        return out.get("content", "") if isinstance(out, dict) else ""

    def show_tokens(self, tokens: list[int]) -> str:
        """The text tokens stand for, special tokens written out."""
        if isinstance(tokens, TextTokens):
            return tokens.text
        if self.features and self.features.tokenizer == "native":
            return self._detokenize(tokens)
        raise WorkbenchError("This server cannot turn tokens back into text.")

    def count_chat_tokens(self, messages: list[dict]) -> int:
        return len(self.chat_tokens(messages))

    # -- the server's cache -----------------------------------------------------------------

    def cached_tokens(self, tokens: Sequence[int]) -> tuple[int, str]:
        """The server's cache cannot be read from here: nothing is known to be cached."""
        return 0, ""

    def warm(self, tokens: Sequence[int], cancelled: Callable[[], bool] | None = None) -> RemotePrefill:
        """Have llama-server evaluate a stable prefix now (n_predict 0, cache_prompt); other
        servers cannot be asked to, so nothing happens there."""
        result = RemotePrefill(len(tokens))
        if not tokens or not self.features or not self.features.native or (cancelled and cancelled()):
            self.last_prefill = result
            return result
        body = {"prompt": list(tokens), "n_predict": 0, "cache_prompt": True, "stream": False}
        if self._model:
            body["model"] = self._model
        out = self._require().post_json("/completion", body, timeout=self._require().timeout)
        timings = out.get("timings", {}) if isinstance(out, dict) else {}
        result.reused = int(timings.get("cache_n", 0) or 0)
        result.processed = int(timings.get("prompt_n", 0) or 0)
        result.source = "server" if result.reused else ""
        self.last_prefill = result
        return result

    # -- generation ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the running answer now, from any thread: its connection is shut."""
        self._cancel.set()
        if self.http is not None:
            self.http.abort()

    def stream_chat(self, messages: list[dict], params: SamplingParams | None = None,
                    json_schema: dict | None = None) -> Iterator[str | RunStats]:
        """Stream an answer through /v1/chat/completions (the server applies the template)."""
        params = params or SamplingParams()
        body = {"model": self._model, "messages": messages, **self._sampling(params, openai=True)}
        if json_schema is not None:
            body["response_format"] = self._response_format(json_schema)
        # Counted for the stats; only llama-server's count (its own template) is exact enough
        # to refuse a prompt as too long before sending it.
        tokens = len(self.chat_tokens(messages)) if self.exact_tokens else 0
        return self._run("/v1/chat/completions", body, tokens, chat=True, exact=self.exact_render)

    def stream_completion(self, prompt: str, params: SamplingParams | None = None,
                          stop: list[str] | None = None, json_schema: dict | None = None
                          ) -> Iterator[str | RunStats]:
        """Stream the raw continuation of a text: llama-server's /completion (the text exactly
        as given), else /v1/completions."""
        params = params or SamplingParams()
        params = SamplingParams(**{**params.to_dict(), "stop": [*params.stop, *(stop or [])]})
        if self.features and self.features.native:
            body = {"prompt": prompt, **self._sampling(params, openai=False), "cache_prompt": True,
                    "return_progress": True}
            if self._model:
                body["model"] = self._model
            if json_schema is not None:
                body["json_schema"] = json_schema
            path = "/completion"
        else:
            body = {"model": self._model, "prompt": prompt, **self._sampling(params, openai=True)}
            if json_schema is not None:
                body["response_format"] = self._response_format(json_schema)
            path = "/v1/completions"
        tokens = len(self.completion_tokens(prompt)) if self.exact_tokens else 0
        return self._run(path, body, tokens, chat=False, exact=self.exact_tokens)

    def _sampling(self, p: SamplingParams, openai: bool) -> dict:
        out = {"temperature": p.temperature, "top_p": p.top_p, "stream": True}
        out["max_tokens" if openai else "n_predict"] = p.max_tokens
        if p.seed is not None:
            out["seed"] = p.seed
        if p.stop:
            out["stop"] = list(p.stop)
        if self.features.flavour != "openai-compatible":  # llama.cpp's own samplers
            out.update(top_k=p.top_k, min_p=p.min_p, repeat_penalty=p.repeat_penalty)
        if openai and self.features.flavour != "llama-cpp-python":
            out["stream_options"] = {"include_usage": True}
        return out

    def _response_format(self, schema: dict) -> dict:
        if self.features.flavour == "llama-cpp-python":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}

    def _run(self, path: str, body: dict, prompt_tokens: int, chat: bool,
             exact: bool) -> Iterator[str | RunStats]:
        http = self._require()
        if exact and self._ctx_known and prompt_tokens >= self._n_ctx:
            raise ContextOverflowError(
                f"The prompt is {prompt_tokens:,} tokens but the server's context holds "
                f"{self._n_ctx:,}. Shorten the prompt or the conversation.")
        self._cancel.clear()
        return self._events(http, path, body, prompt_tokens, chat)

    def _events(self, http: Http, path: str, body: dict, prompt_tokens: int,
                chat: bool) -> Iterator[str | RunStats]:
        stats = RunStats(prompt_tokens=prompt_tokens)
        seen = _Seen(start=time.perf_counter())
        try:
            with self._streaming:
                yield from self._read(http.stream(path, body), chat, stats, seen)
        except RemoteError as e:
            if not self._cancel.is_set():
                if seen.pieces:
                    raise RemoteError(f"{e} The answer was cut after {len(''.join(seen.pieces)):,} "
                                      "characters.", e.status) from e
                raise
        if self._cancel.is_set():
            stats.finish_reason = "cancelled"
        elif not stats.finish_reason:
            raise RemoteError(f"The connection to {http.base} ended before the answer was finished "
                              f"(after {len(''.join(seen.pieces)):,} characters, with no end of "
                              "answer); the server may have stopped.")
        self._cancel.clear()
        end = time.perf_counter()
        self._fill_stats(stats, seen.timings, seen.usage, seen.pieces, seen.first or end,
                         seen.start, end)
        yield stats

    def _read(self, events, chat: bool, stats: RunStats, seen: "_Seen") -> Iterator[str]:
        """The text of a stream's events; its finish reason goes to stats, the rest to seen."""
        for event in events:
            if self._cancel.is_set():
                return
            progress = event.get("prompt_progress")
            if isinstance(progress, dict) and self.prompt_progress:
                # llama-server: `processed` counts the cached tokens too
                done = int(progress.get("processed", 0) or 0)
                total = int(progress.get("total", 0) or 0) or done
                self.prompt_progress(min(done, total), total)
            text, reason = _piece(event, chat)
            if text:
                if seen.first is None:
                    seen.first = time.perf_counter()
                seen.pieces.append(text)
                yield text
            seen.timings = event.get("timings") or seen.timings
            seen.usage = event.get("usage") or seen.usage
            if reason:
                stats.finish_reason = reason

    def _fill_stats(self, stats: RunStats, timings: dict, usage: dict, pieces: list[str],
                    first: float, start: float, end: float) -> None:
        text = "".join(pieces)
        if isinstance(usage, dict) and usage.get("prompt_tokens"):
            stats.prompt_tokens = int(usage["prompt_tokens"])
        if isinstance(timings, dict) and timings:
            stats.reused_tokens = int(timings.get("cache_n", 0) or 0)
            stats.processed_tokens = int(timings.get("prompt_n", 0) or 0)
            stats.completion_tokens = int(timings.get("predicted_n", 0) or 0)
            stats.decode_tokens_per_s = float(timings.get("predicted_per_second", 0) or 0)
            if not stats.prompt_tokens:
                stats.prompt_tokens = stats.reused_tokens + stats.processed_tokens
        else:
            stats.processed_tokens = stats.prompt_tokens
        if not stats.completion_tokens:
            if isinstance(usage, dict) and usage.get("completion_tokens"):
                stats.completion_tokens = int(usage["completion_tokens"])
            elif text:
                stats.completion_tokens = self.count_tokens(text) if self.exact_tokens else \
                    math.ceil(len(text) / 4)
        if not stats.decode_tokens_per_s and stats.completion_tokens > 1 and end > first:
            stats.decode_tokens_per_s = (stats.completion_tokens - 1) / (end - first)
        stats.time_to_first_token_s = first - start
        stats.total_s = end - start


def probe(http: Http) -> ServerFeatures:
    """What the server at http offers: its models, and whether it is llama-server (/props),
    llama-cpp-python (/extras/tokenize) or another OpenAI-compatible server."""
    listing = http.get_json("/v1/models")
    data = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(data, list):
        raise RemoteError(f"{http.base}/v1/models did not list models (no `data` list); is this an "
                          "OpenAI-compatible server?")
    models = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    if not models:
        raise RemoteError(f"{http.base} serves no models (its /v1/models list is empty).")
    try:
        props = http.get_json("/props")
    except RemoteError as e:
        if e.status is None or e.status in (401, 403):
            raise
        props = None
    if isinstance(props, dict) and "default_generation_settings" in props:
        return ServerFeatures(models, "llama-server", "native", props=props)
    try:
        first = http.post_json("/extras/tokenize", {"input": "", "model": models[0]})
    except RemoteError as e:
        if e.status is None or e.status in (401, 403):
            raise
        return ServerFeatures(models, "openai-compatible")
    if not isinstance(first, dict) or not isinstance(first.get("tokens"), list):
        return ServerFeatures(models, "openai-compatible")  # e.g. a 200 that says "unknown endpoint"
    return ServerFeatures(models, "llama-cpp-python", "extras", bos_prefix=_ids(first, http))


def _ids(out, http: Http) -> list[int]:
    tokens = out.get("tokens") if isinstance(out, dict) else None
    if not isinstance(tokens, list):
        raise RemoteError(f"{http.base} answered a tokenize request without a token list.")
    return [t["id"] if isinstance(t, dict) else int(t) for t in tokens]


def _piece(event: dict, chat: bool) -> tuple[str, str]:
    """The text in one stream event and its finish reason ("" while it goes on)."""
    if "choices" in event:
        choices = event.get("choices") or []
        if not choices:
            return "", ""  # e.g. the usage-only chunk at the end
        choice = choices[0] if isinstance(choices[0], dict) else {}
        if chat:
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else ""
        else:
            text = choice.get("text")
        return (text if isinstance(text, str) else ""), _reason(choice.get("finish_reason"))
    # llama-server's /completion: {"content", "stop", "stop_type"}
    text = event.get("content")
    reason = ""
    if event.get("stop"):
        reason = "length" if event.get("stop_type") == "limit" else "stop"
    return (text if isinstance(text, str) else ""), reason


def _reason(value) -> str:
    if not value:
        return ""
    return "length" if value == "length" else "stop"


def _frozen(messages: list[dict]) -> tuple:
    return tuple((m.get("role", ""), m.get("content", "")) for m in messages)


