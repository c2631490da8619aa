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
