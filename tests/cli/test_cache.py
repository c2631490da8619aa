"""`workbench cache info|clear|set-max`, and a new process answering from the snapshot on disk."""

import json

import pytest

from tests.conftest import call_cli, run_cli
from workbench.runtime.models import DEFAULT_BASE_MODEL, REPO_MODELS_DIR
from workbench.runtime.prompt_cache import DiskCache, Snapshot, cache_folder, context_id

RULE = "When the user asks about {t}, answer in one short sentence and name a source. "
SYSTEM = "".join(RULE.format(t=t) for t in ["rivers", "mountains", "cities", "birds", "stars"] * 6)


@pytest.fixture(autouse=True)
def default_cap(monkeypatch):
    monkeypatch.delenv("WORKBENCH_CACHE_MAX_MB", raising=False)


def fill(n: int, size: int = 2 << 20) -> DiskCache:
    disk = DiskCache(cache_folder(), max_bytes=1 << 40)
    ctx = context_id("f" * 64, {"n_ctx": 1})
    for i in range(n):
        disk.save(ctx, Snapshot(tuple([i] * 100), bytearray(size)), {"model_name": "Tiny"})
    return disk


def test_info_lists_the_snapshots_and_the_cap():
    fill(2)
    out = call_cli("cache", "info").stdout
    assert str(cache_folder()) in out and "2 snapshot(s)" in out and "Tiny" in out
    data = json.loads(call_cli("cache", "info", "--json").stdout)
    assert data["files"] == 2 and data["max_bytes"] == 4096 << 20


def test_clear_removes_every_snapshot():
    fill(3)
    assert "Removed 3 snapshot(s)." in call_cli("cache", "clear").stdout
    assert json.loads(call_cli("cache", "info", "--json").stdout)["files"] == 0


def test_set_max_keeps_the_cap_and_evicts_to_fit():
    fill(3)
    out = call_cli("cache", "set-max", "5").stdout
    assert "5 MB" in out and "1 file(s) removed" in out
    assert json.loads(call_cli("cache", "info", "--json").stdout)["max_bytes"] == 5 << 20


def test_a_bad_cap_is_refused_clearly():
    proc = call_cli("cache", "set-max", "lots", check=False)
    assert proc.returncode == 2 and "whole number of MB" in proc.stderr


def chat(*extra: str) -> dict:
    proc = run_cli("chat", "--system", SYSTEM, "--temperature", "0", "--seed", "0",
                   "--max-tokens", "16", "--stats", *extra, "What is the capital of France?")
    stats = json.loads(proc.stderr.strip().splitlines()[-1])
    return {"text": proc.stdout, **stats}


@pytest.mark.model  # the default models, through the CLI
@pytest.mark.parametrize("model", [None, DEFAULT_BASE_MODEL])
def test_a_new_process_answers_from_the_snapshot_with_the_same_answer(model):
    extra = ("--model", str(REPO_MODELS_DIR / model)) if model else ()
    cold = chat(*extra)
    assert cold["reused_tokens"] == 0 and json.loads(run_cli("cache", "info", "--json").stdout)["files"] == 1
    restored = chat(*extra)
    assert restored["reused_tokens"] >= 0.9 * restored["prompt_tokens"]
    assert restored["processed_tokens"] < 40
    assert restored["text"] == cold["text"]  # greedy, and the same computation as the cold run
    assert "paris" in restored["text"].lower()
