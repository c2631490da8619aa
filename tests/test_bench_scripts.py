"""The benchmark scripts still run against the current code (their figures are not asserted)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.model  # its last part loads the default chat model
def test_notebook_bench_runs_on_a_small_notebook(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "notebook.py")], cwd=tmp_path,
                          env={**os.environ, "BENCH_LESSONS": "2000"}, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "inserted 2,000 lessons" in proc.stdout and "composition (" in proc.stdout


@pytest.mark.model  # it evaluates with the default chat model
def test_eval_bench_runs_on_a_few_cases(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "eval.py")], cwd=tmp_path,
                          env={**os.environ, "BENCH_CASES": "2"}, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "2 cases x 2 variants = 4 answers" in proc.stdout and "cases/min" in proc.stdout
    assert "speed-up:" in proc.stdout and "prompt tokens reused" in proc.stdout


@pytest.mark.model  # it evaluates with the default chat and base models
def test_retrieval_bench_runs_on_a_few_conventions(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "retrieval.py"), "--limit", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "2 conventions, 6 held-out questions" in proc.stdout, proc.stdout
    for label in ("none ", "pinned ", "retrieved (k=2) ", "retrieved / pinned: pass rate"):
        assert label in proc.stdout, proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "retrieval.py"), "--placement",
                           "--limit", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("composition now: passed") == 2, proc.stdout  # chat and base


@pytest.mark.model  # it evaluates and learns with the default chat model
def test_learn_bench_runs_on_a_few_cases(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "learn.py")], cwd=tmp_path,
                          env={**os.environ, "BENCH_LEARN_QUICK": "1"}, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "house_conventions: 4 conventions, 8 train / 4 test questions" in proc.stdout, proc.stdout
    for label in ("no notebook ", "hand-written: rules only ", "hand-written: demonstrations only ",
                  "learned ", "learned: rules only ", "learn report: before", "learned vs hand-written: pass",
                  "learned rules quoting a train question:"):
        assert label in proc.stdout, proc.stdout


@pytest.mark.model  # it answers with the default chat model, in two processes
def test_cache_bench_runs_on_a_short_prompt(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "cache.py")], cwd=tmp_path,
                          env={**os.environ, "BENCH_CACHE_RULES": "12"}, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    for label in ("turn 2:", "alternating two variants", "first answer of a new process",
                  "first send after a warmed edit", "snapshot:", "greedy answer restored vs cold"):
        assert label in proc.stdout, proc.stdout
