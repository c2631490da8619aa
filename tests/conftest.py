"""Shared fixtures and helpers: the real default models, a loaded engine, a private data home,
the CLI in a subprocess, greedy sampling and a stand-in tokenizer.

Markers: `model` (loads or reads a GGUF) and `gui` (needs Qt) are set here from the fixtures a
test uses and the folder it lives in, so `pytest -m "not model and not gui"` is the pure tier.
A test that reaches a model another way (the CLI or the window running the default model)
says so with `@pytest.mark.model`; every other test sees an empty models folder, so an
unmarked one fails loudly instead of quietly reading models/.
WORKBENCH_THREADS sets the engine's thread count (run the model tests with 1 and 2).
"""

import io
import os
import subprocess
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from workbench.runtime.models import DEFAULT_BASE_MODEL, DEFAULT_CHAT_MODEL, REPO_MODELS_DIR
from workbench.runtime.params import SamplingParams
from workbench.workspace import Workspace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
MODEL_FIXTURES = {"chat_engine", "base_engine", "chat_model_path", "base_model_path"}
# Greedy and short: what model tests ask for unless they test sampling itself.
GREEDY = SamplingParams(temperature=0, seed=0, max_tokens=48, repeat_penalty=1.0)


def words(text: str) -> int:
    """A stand-in tokenizer for pure tests: one token a word."""
    return len(text.split())


def run_cli(*args: str, input: str | None = None, check: bool = True, cwd=None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """`workbench ARGS` in a subprocess, as a user runs it (the test's WORKBENCH_HOME applies)."""
    proc = subprocess.run([sys.executable, "-m", "workbench", *args], input=input, check=False,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def call_cli(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`workbench ARGS` run in this process (fast; for the pure tier): the same result shape
    as run_cli. The commands are the same code; run_cli covers the real process start."""
    from workbench.cli.main import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), _stdin(input or ""):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    proc = subprocess.CompletedProcess(["workbench", *args], code, out.getvalue(), err.getvalue())
    if check:
        assert code == 0, proc.stderr
    return proc


@contextmanager
def _stdin(text: str):
    saved, sys.stdin = sys.stdin, io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved


def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)
        if "ui" in Path(str(item.fspath)).relative_to(REPO / "tests").parts[:1]:
            item.add_marker(pytest.mark.gui)


def _model(name: str) -> Path:
    path = REPO_MODELS_DIR / name
    # Never skip: a missing model is a setup bug that must fail loudly.
    assert path.exists(), f"{path} is missing: run `make setup` (make test does it)"
    return path


@pytest.fixture(scope="session")
def chat_model_path() -> Path:
    return _model(DEFAULT_CHAT_MODEL)


@pytest.fixture(scope="session")
def base_model_path() -> Path:
    return _model(DEFAULT_BASE_MODEL)


@pytest.fixture(scope="session")
def chat_engine(chat_model_path):
    from workbench.runtime.engine import Engine
    engine = Engine()
    engine.load(chat_model_path)
    yield engine
    engine.unload()


@pytest.fixture(scope="session")
def base_engine(base_model_path):
    from workbench.runtime.engine import Engine
    from workbench.runtime.params import LoadOptions
    engine = Engine()
    engine.load(base_model_path, LoadOptions(n_ctx=4096))
    yield engine
    engine.unload()


@pytest.fixture(autouse=True)
def workbench_home(request, tmp_path, monkeypatch):
    """Every test gets its own data folder; nothing touches the user's real one. Tests not
    marked `model` get an empty models folder: the default models are out of their reach."""
    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    if request.node.get_closest_marker("model") is None:
        no_models = tmp_path / "no-models-here-mark-the-test-model"
        no_models.mkdir()
        monkeypatch.setenv("WORKBENCH_MODELS", str(no_models))
    return home


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """A workspace over a fresh database file."""
    return Workspace.open(tmp_path / "wb.db")
