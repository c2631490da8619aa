"""The cache line under the system prompt editor and the warm-up behind it, in the real window with
the real SmolLM2 model (pytest-qt, offscreen)."""

import re
import time

import pytest
from PySide6.QtCore import Qt

from workbench.app import build, shutdown
from workbench.ui.cache_status import describe

RULE = "When the user asks about {t}, answer in one short sentence and name a source. "
SYSTEM = "".join(RULE.format(t=t) for t in ["rivers", "mountains", "cities", "birds", "stars"] * 8)


@pytest.fixture
def window(qtbot, chat_model_path):
    w, thread = build(load_model=True)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.model_ready or w.banner.isVisible(), timeout=30_000)
    assert w.model_ready, w.banner.text()
    w.sampling.temperature.setValue(0)
    w.sampling.max_tokens.setValue(8)
    w.sampling.samples.setValue(1)
    yield w
    shutdown(w, thread)


def cached_count(w) -> int:
    m = re.fullmatch(r"([\d,]+) tokens cached", w.cache_status.text())
    return int(m.group(1).replace(",", "")) if m else -1


def send(qtbot, w, text: str) -> list:
    finished = []
    w.worker.finished.connect(lambda i, stats: finished.append(stats))
    w.input.setPlainText(text)
    qtbot.mouseClick(w.send_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.generating, timeout=120_000)
    assert finished, w.banner.text()
    return finished


def test_the_label_says_what_an_edit_costs():
    assert describe(2143, 2143) == "2,143 tokens cached"
    assert describe(343, 2143) == "343 tokens cached · this change re-processes 1,800 tokens"
    assert describe(0, 900) == "Nothing cached: this prompt processes 900 tokens"
    assert describe(0, 0) == ""


def test_an_edit_is_warmed_and_the_next_send_starts_from_it(qtbot, window):
    w = window
    w.prompt.editor.setPlainText(SYSTEM)
    w.cache_status.refresh()  # before the warm-up: all of it to process
    assert "processes" in w.cache_status.text()
    qtbot.waitUntil(lambda: cached_count(w) > 300 and not w.cache_status.warming, timeout=180_000)
    n = cached_count(w)
    [stats] = send(qtbot, w, "What is the capital of France?")
    assert stats.reused_tokens >= n - 2 and stats.processed_tokens < 40

    w.prompt.editor.setPlainText(SYSTEM + " Be kind.")  # a change at the end costs little
    w.cache_status.refresh()
    m = re.search(r"re-processes ([\d,]+) tokens", w.cache_status.text())
    assert m and int(m.group(1).replace(",", "")) < 30, w.cache_status.text()


def test_a_send_stops_the_warm_up_at_once_and_takes_over_its_work(qtbot, window):
    w = window
    # An empty start has nothing to prepare: wait for its warm-up pause to go by.
    qtbot.waitUntil(lambda: not (w.cache_status.warming or w.cache_status.warm_timer.isActive()),
                    timeout=60_000)
    progress, warmed = [], []
    w.worker.warmProgress.connect(lambda done, total: progress.append(done))
    w.worker.warmed.connect(lambda result: warmed.append((time.perf_counter(), result)))
    w.prompt.editor.setPlainText("Changed at the start. " + SYSTEM)
    qtbot.waitUntil(lambda: len(progress) >= 2, timeout=60_000)  # one batch evaluated, more to go
    sent = time.perf_counter()
    [stats] = send(qtbot, w, "What is the capital of France?")
    [stopped_at] = [at for at, result in warmed if result.cancelled]
    assert stopped_at - sent < 1.0  # it did not finish the prompt first
    assert stats.reused_tokens >= max(progress[:2])  # the Send went on from what it evaluated


def test_the_worker_reports_loading_and_prompt_progress(qtbot, chat_model_path):
    from workbench.runtime.engine import Engine
    from workbench.runtime.params import LoadOptions, SamplingParams
    from workbench.ui.worker import EngineWorker, GenerationRequest

    worker = EngineWorker(Engine())  # called directly: its thread is this one
    loading, prompt, finished = [], [], []
    worker.loadProgress.connect(loading.append)
    worker.promptProgress.connect(lambda i, done, total: prompt.append((i, done, total)))
    worker.finished.connect(lambda i, stats: finished.append(stats))
    worker.load(str(chat_model_path), LoadOptions(n_ctx=2048))
    assert loading and loading == sorted(loading) and loading[-1] == 1.0
    assert len(loading) <= 101  # one signal per percent at most
    worker.generate(GenerationRequest(
        [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hi"}]],
        SamplingParams(temperature=0, max_tokens=4)))
    total = finished[0].prompt_tokens
    assert total > 500 and prompt[0] == (0, 0, total) and prompt[-1] == (0, total, total)
    done = [d for _, d, _ in prompt]
    assert done == sorted(done) and len(done) >= 3


def test_snapshots_go_to_disk_and_the_label_menu_clears_them(qtbot, window, monkeypatch):
    from workbench.runtime.prompt_cache import cache_folder, max_mb
    monkeypatch.delenv("WORKBENCH_CACHE_MAX_MB", raising=False)
    w = window
    # The window hashes the model once (remembered in the run log); the disk cache waits for it.
    qtbot.waitUntil(lambda: w.cache_status.model_sha256(w.engine.info.path) is not None, timeout=60_000)
    w.prompt.editor.setPlainText(SYSTEM)
    send(qtbot, w, "What is the capital of France?")
    w.engine.disk.flush()
    assert w.engine.disk.entries() and len(w.engine.memory) > 0
    w.cache_status.clear_cache()
    assert w.engine.disk.entries() == [] and len(w.engine.memory) == 0
    w.cache_status.set_cap(1)
    assert max_mb(cache_folder()) == 1


def test_an_evaluation_job_stops_the_warm_up_too(qtbot, window):
    from workbench.ui.worker import Job
    w = window
    # An empty start has nothing to prepare: wait for its warm-up pause to go by.
    qtbot.waitUntil(lambda: not (w.cache_status.warming or w.cache_status.warm_timer.isActive()),
                    timeout=60_000)
    progress, warmed, done = [], [], []
    w.worker.warmProgress.connect(lambda d, total: progress.append(d))
    w.worker.warmed.connect(lambda result: warmed.append(result))
    w.worker.jobDone.connect(lambda context, result: done.append(result))
    w.prompt.editor.setPlainText("Changed at the start. " + SYSTEM)
    qtbot.waitUntil(lambda: len(progress) >= 2, timeout=60_000)
    w.eval_dock.widget().requestJob.emit(Job(lambda engine, report, cancelled: "ran", "eval"))
    qtbot.waitUntil(lambda: done == ["ran"], timeout=5_000)  # not after the whole prompt
    assert warmed and warmed[-1].cancelled


def test_closing_the_window_stops_the_warm_up(qtbot, chat_model_path):
    w, thread = build(load_model=True)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.model_ready or w.banner.isVisible(), timeout=30_000)
    qtbot.waitUntil(lambda: not (w.cache_status.warming or w.cache_status.warm_timer.isActive()),
                    timeout=60_000)
    progress, warmed = [], []
    w.worker.warmProgress.connect(lambda d, total: progress.append((d, total)))
    w.worker.warmed.connect(lambda result: warmed.append(result))
    w.prompt.editor.setPlainText(SYSTEM * 3)  # thousands of tokens: a long warm-up
    qtbot.waitUntil(lambda: len(progress) >= 2, timeout=60_000)
    assert progress[-1][1] - progress[-1][0] > 1000  # most of it still to go
    w.close()  # Ctrl+Q: the engine thread must not first finish the warm-up
    qtbot.waitUntil(lambda: bool(warmed), timeout=5_000)
    assert warmed[-1].cancelled
    thread.quit()
    assert thread.wait(5000)
    shutdown(w, thread)
