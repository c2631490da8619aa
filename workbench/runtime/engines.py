"""Opening an engine from what a user names: a GGUF path (the local llama.cpp Engine) or a
server's URL, optionally URL#model (a RemoteEngine); and the slot the window holds, which can
switch between the two."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from workbench.runtime.params import LoadOptions, LoadResult
from workbench.runtime.remote import RemoteEngine, is_remote, split_spec

ENV = "WORKBENCH_ENGINE"  # the default engine: a GGUF path or a server URL

_interactive: list[threading.Thread] = []


def default_spec() -> str | None:
    """WORKBENCH_ENGINE, or None (the default chat model)."""
    return os.environ.get(ENV, "").strip() or None


def with_model(engine: str, model: str | None) -> str:
    """--engine URL with --model NAME: URL#NAME (a model named in the URL wins)."""
    if not model or not is_remote(engine) or "#" in engine:
        return engine
    return f"{engine}#{model}"


def never_wait_on(thread: threading.Thread) -> None:
    """Remote engines opened from now on never wait for the network on this thread (the
    window's): token counts and renderings asked there are estimated, then fetched behind."""
    _interactive[:] = [thread]


def open_engine(spec, options: LoadOptions | None = None, disk_cache=None, on_progress=None):
    """A loaded engine for spec: a server URL (URL#model) or a GGUF path."""
    if is_remote(spec):
        engine = RemoteEngine()
        engine.interactive_thread = _interactive[0] if _interactive else None
    else:
        from workbench.runtime.engine import Engine  # loads llama.cpp: only when needed
        engine = Engine(disk_cache)
    engine.load(spec, options, on_progress=on_progress)
    return engine


def list_server_models(url: str, api_key: str | None = None, timeout: float | None = None) -> list[str]:
    """The models a server offers (its /v1/models), for pickers and `workbench models --engine`."""
    from workbench.runtime.http_client import Http
    from workbench.runtime.remote import probe
    from workbench.runtime.servers import api_key_for
    base, _ = split_spec(url)
    return probe(Http(base, api_key or api_key_for(base), timeout)).models


@dataclass
class ServerCheck:
    """What connecting to a server found: its models, those with no chat template, a line."""

    models: list[str]
    base_models: list[str]
    note: str


def check_server(url: str, api_key: str | None = None, timeout: float | None = None) -> ServerCheck:
    """Connect to a server as the engine would; RemoteError with what went wrong."""
    from workbench.runtime.interface import exactness_note
    engine = RemoteEngine(api_key=api_key or None, timeout=timeout)
    engine.load(url)
    f = engine.features
    # /props describes the model llama-server runs: the first (only) one it lists.
    base = [f.models[0]] if engine.info.kind == "base" else []
    return ServerCheck(f.models, base, f"{f.flavour}, {len(f.models)} model(s); {exactness_note(engine)}")


def model_kind(spec: str) -> str:
    """'chat' or 'base' without loading anything: a GGUF's metadata, or a server model as
    last tested (chat when it never was)."""
    if is_remote(spec):
        from workbench.runtime.servers import saved_kind
        return saved_kind(spec)
    from workbench.runtime.models import read_model_info
    return read_model_info(spec).kind


def model_info(spec: str):
    """A ModelInfo without loading anything or asking the network: a GGUF's metadata, or for a
    server model (URL#model) its name and kind as last tested. For plans made on the window's
    thread (evaluation columns, compares)."""
    if not is_remote(spec):
        from workbench.runtime.models import read_model_info
        return read_model_info(spec)
    from workbench.runtime.remote import RemoteModelInfo
    base, model = split_spec(spec)
    kind = model_kind(spec)
    return RemoteModelInfo(
        path=f"{base}#{model}" if model else base, name=(model or "").rsplit("/", 1)[-1] or base,
        architecture="remote", size_label="", quantization="", file_size=0, context_length=0,
        n_layers=0, chat_template=None, server=base, model_kind=kind)


def display_name(spec: str) -> str:
    """A short label: a GGUF's file name, or `model @ host:port` for a server model."""
    if is_remote(spec):
        base, model = split_spec(spec)
        host = base.split("://", 1)[1]
        return f"{(model or '').rsplit('/', 1)[-1] or 'default model'} @ {host}"
    return os.path.basename(str(spec))


class EngineSlot:
    """The engine the window and its worker hold: the local Engine, or a RemoteEngine once a
    URL is loaded (and the local one again when a GGUF is). Everything else is the current
    engine's; attributes set here (prompt_progress, disk) are set on both.

    Args:
        local: the local Engine (not loaded yet, or loaded).
    """

    def __init__(self, local):
        object.__setattr__(self, "_local", local)
        object.__setattr__(self, "_remote", None)
        object.__setattr__(self, "_current", local)

    @property
    def current(self):
        return self._current

    def load(self, path, options: LoadOptions | None = None, on_progress=None) -> LoadResult:
        if is_remote(path):
            remote = self._remote or RemoteEngine()
            remote.interactive_thread = _interactive[0] if _interactive else None
            remote.prompt_progress = getattr(self._local, "prompt_progress", None)
            result = remote.load(path, options, on_progress)
            if getattr(self._local, "loaded", False):
                self._local.unload()  # its memory is better used elsewhere
            object.__setattr__(self, "_remote", remote)
            object.__setattr__(self, "_current", remote)
            return result
        result = self._local.load(path, options, on_progress=on_progress)
        if self._remote is not None:
            self._remote.unload()
        object.__setattr__(self, "_current", self._local)
        return result

    def cancel(self) -> None:
        self._local.cancel()
        if self._remote is not None:
            self._remote.cancel()

    def __getattr__(self, name):
        return getattr(self._current, name)

    def __setattr__(self, name, value):
        setattr(self._local, name, value)
        if self._remote is not None:
            setattr(self._remote, name, value)
