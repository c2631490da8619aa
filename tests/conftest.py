"""Shared fixtures: the real default models, a loaded engine, a private data home."""

import os
from pathlib import Path

import pytest

from workbench.models import DEFAULT_BASE_MODEL, DEFAULT_CHAT_MODEL, REPO_MODELS_DIR

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
    from workbench.engine import Engine
    engine = Engine()
    engine.load(chat_model_path)
    yield engine
    engine.unload()


@pytest.fixture(scope="session")
def base_engine(base_model_path):
    from workbench.engine import Engine, LoadOptions
    engine = Engine()
    engine.load(base_model_path, LoadOptions(n_ctx=4096))
    yield engine
    engine.unload()


@pytest.fixture(autouse=True)
def workbench_home(tmp_path, monkeypatch):
    """Every test gets its own data folder; nothing touches the user's real one."""
    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home
