"""What this machine offers a local model (runtime.host)."""

import os

from workbench.runtime.host import default_threads, free_vram_bytes


def test_workbench_threads_sets_the_thread_count(monkeypatch):
    monkeypatch.setenv("WORKBENCH_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("WORKBENCH_THREADS", "0")
    assert default_threads() == 1  # never no threads
    monkeypatch.setenv("WORKBENCH_THREADS", "many")  # not a number: ignored
    assert 1 <= default_threads() <= (os.cpu_count() or 1)
    monkeypatch.delenv("WORKBENCH_THREADS")
    assert 1 <= default_threads() <= (os.cpu_count() or 1)


def test_free_gpu_memory_is_none_without_nvidia_smi(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert free_vram_bytes() is None
