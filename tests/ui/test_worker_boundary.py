"""Every request to the engine thread ends in exactly one done or failed signal, whatever the
engine raises, so the window never stays at "Loading…" or "generating…"."""

from tests.fakes import FakeEngine
from workbench.runtime.params import SamplingParams
from workbench.ui.worker import EngineWorker, GenerationRequest, JsonRequest


class BrokenEngine(FakeEngine):
    """Loads nothing and breaks mid-answer with a bug, not a WorkbenchError."""

    def load(self, path, options=None, on_progress=None):
        raise ZeroDivisionError("alignment 0")

    def stream_chat(self, messages, params=None, json_schema=None):
        if messages[-1]["content"] == "break":
            yield "half an "
            raise KeyError("bug")
        yield from super().stream_chat(messages, params, json_schema)


def record(worker):
    seen = []
    for name in ("loaded", "loadFailed", "started", "finished", "failed", "idle", "jsonReady",
                 "jsonFailed"):
        getattr(worker, name).connect(lambda *a, n=name: seen.append((n, a)))
    return seen


def test_a_load_that_raises_a_bug_still_reports_failure(qtbot, workbench_home):
    worker = EngineWorker(BrokenEngine())
    seen = record(worker)
    worker.load("some.gguf", None)
    assert [n for n, _ in seen] == ["loadFailed"]
    assert "Something went wrong in loading some.gguf (ZeroDivisionError: alignment 0)" in seen[0][1][0]


def test_a_candidate_that_raises_fails_alone_and_the_run_ends(qtbot, workbench_home):
    worker = EngineWorker(BrokenEngine())
    seen = record(worker)
    ask = lambda text: [{"role": "user", "content": text}]
    worker.generate(GenerationRequest([ask("break"), ask("fine")], SamplingParams(seed=1), "chat"))
    assert [(n, a[0]) for n, a in seen if n != "idle"] == [
        ("started", 0), ("failed", 0), ("started", 1), ("finished", 1)]
    assert [n for n, _ in seen].count("idle") == 1 and seen[-1][0] == "idle"
    assert "KeyError" in seen[1][1][1]


def test_a_reflection_that_raises_reports_failure(qtbot, workbench_home):
    class NoJson(FakeEngine):
        def stream_chat(self, messages, params=None, json_schema=None):
            raise MemoryError("grammar too large")
            yield  # a generator, like the real one

    worker = EngineWorker(NoJson())
    seen = record(worker)
    worker.generate_json(JsonRequest([{"role": "user", "content": "x"}], "chat", {"type": "object"},
                                     SamplingParams(), context="ctx"))
    assert [(n, a[0]) for n, a in seen] == [("jsonFailed", "ctx")]
