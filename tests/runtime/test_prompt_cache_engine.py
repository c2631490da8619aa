"""Prompt snapshots on the real default models: restored across engines, kept per variant, never
taken from a damaged file or another model file; progress and Stop while a prompt is processed."""

import shutil
from dataclasses import replace
from itertools import pairwise

import pytest

from tests.conftest import GREEDY
from workbench.runtime.engine import Engine
from workbench.runtime.generation import collect, stream
from workbench.runtime.params import LoadOptions
from workbench.runtime.prefill import PREFILL_BATCH
from workbench.runtime.prompt_cache import DiskCache
from workbench.runtime.warmup import stable_prefix, warm

SHORT = replace(GREEDY, max_tokens=16)
TOPICS = ["rivers", "mountains", "cities", "birds", "stars", "trains", "bread", "music"]


def rules(n: int, lead: str = "") -> str:
    rule = "When the user asks about {t}, answer in one short sentence and name a source. "
    return lead + "".join(rule.format(t=TOPICS[i % len(TOPICS)]) for i in range(n))


def turn(system: str, question: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def new_engine(path, disk=None) -> Engine:
    engine = Engine(disk)
    engine.load(path, LoadOptions(n_ctx=2048))
    return engine


def ask(engine, mode, messages):
    return collect(stream(engine, mode, messages, SHORT))


def hashes_by_path():
    """Model hashes as the run log would give them (the same file, the same hash)."""
    from workbench.chat.runs import file_sha256
    known = {}
    return lambda path: known.setdefault(path, file_sha256(path))


@pytest.mark.parametrize("which", ["chat", "base"])
def test_a_new_engine_restores_the_prefix_from_disk_with_the_same_answer(
        which, tmp_path, chat_model_path, base_model_path):
    path, mode = (chat_model_path, "chat") if which == "chat" else (base_model_path, "urial")
    disk = DiskCache(tmp_path / "cache", hashes_by_path(), max_bytes=1 << 30)
    messages = turn(rules(30), "What is the capital of France?")
    first = new_engine(path, disk)
    cold_text, cold = ask(first, mode, messages)
    prefix = len(stable_prefix(first, mode, messages[:1]))
    disk.flush()
    first.unload()
    assert cold.reused_tokens == 0 and len(disk.entries()) == 1

    second = new_engine(path, disk)  # what a new process does: nothing in memory
    text, warm_stats = ask(second, mode, messages)
    assert second.last_prefill.source == "disk"
    assert warm_stats.reused_tokens >= prefix - 8 and warm_stats.processed_tokens < 40
    assert text == cold_text  # the same computation from the restored state
    assert "paris" in text.lower()


def test_alternating_variants_keep_both_prefixes(chat_model_path):
    engine = new_engine(chat_model_path)
    a, b = rules(30, "Variant A. "), rules(30, "Variant B. ")
    for system in (a, b):
        _, stats = ask(engine, "chat", turn(system, "What is the capital of France?"))
        assert stats.reused_tokens < 10  # they differ from the first word on
    for system in (a, b, a):
        _, stats = ask(engine, "chat", turn(system, "What is the capital of Italy?"))
        assert engine.last_prefill.source == "memory"
        assert stats.reused_tokens >= 0.9 * stats.prompt_tokens and stats.processed_tokens < 40


def test_a_changed_model_file_never_gets_an_old_snapshot(tmp_path, chat_model_path, ws):
    model = tmp_path / "model.gguf"
    shutil.copyfile(chat_model_path, model)
    disk = DiskCache(tmp_path / "cache", ws.runs.model_sha256, max_bytes=1 << 30)  # the run log's hashes
    messages = turn(rules(20), "What is the capital of France?")
    first = new_engine(model, disk)
    ask(first, "chat", messages)
    disk.flush()
    first.unload()
    with model.open("ab") as f:  # another file under the same name: a new download, an edit
        f.write(b"\0" * 64)
    second = new_engine(model, disk)
    _, stats = ask(second, "chat", messages)
    disk.flush()
    assert stats.reused_tokens == 0 and second.last_prefill.source == ""
    assert len({e.context for e in disk.entries()}) == 2  # the old one is not this model's


def test_a_corrupted_snapshot_is_ignored_and_removed(tmp_path, chat_model_path):
    disk = DiskCache(tmp_path / "cache", hashes_by_path(), max_bytes=1 << 30)
    messages = turn(rules(20), "What is the capital of France?")
    first = new_engine(chat_model_path, disk)
    cold_text, _ = ask(first, "chat", messages)
    disk.flush()
    first.unload()
    [entry] = disk.entries()
    raw = bytearray(entry.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    entry.path.write_bytes(raw)
    second = new_engine(chat_model_path, disk)
    text, stats = ask(second, "chat", messages)
    assert stats.reused_tokens == 0 and second.last_prefill.source == "" and text == cold_text
    disk.flush()
    assert disk.load(entry.path, entry.context) is not None  # removed, then written again whole
    assert entry.path.read_bytes() != raw


def test_prompt_progress_and_stop_between_batches(chat_model_path):
    engine = new_engine(chat_model_path)
    messages = turn(rules(60), "What is the capital of France?")
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if len(seen) == 2:  # after the first batch
            engine.cancel()

    engine.prompt_progress = progress
    _, stopped = ask(engine, "chat", messages)
    total = stopped.prompt_tokens
    assert total > 3 * PREFILL_BATCH
    assert stopped.finish_reason == "cancelled" and stopped.processed_tokens == PREFILL_BATCH
    seen.clear()
    engine.prompt_progress = lambda done, n: seen.append((done, n))
    text, stats = ask(engine, "chat", messages)  # goes on from what the stopped one evaluated
    assert stats.reused_tokens == PREFILL_BATCH and "paris" in text.lower()
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[0] == PREFILL_BATCH and seen[-1] == (total, total)
    assert all(b - a <= PREFILL_BATCH for a, b in pairwise(done))


def test_load_reports_progress(chat_model_path):
    seen = []
    Engine().load(chat_model_path, LoadOptions(n_ctx=512), on_progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == 1.0


def test_warming_makes_the_next_question_start_from_the_prefix(chat_model_path):
    engine = new_engine(chat_model_path)
    system = [{"role": "system", "content": rules(40)}]
    result = warm(engine, "chat", system)
    assert not result.cancelled and result.processed > 300
    _, stats = ask(engine, "chat", [*system, {"role": "user", "content": "Birds?"}])
    assert stats.reused_tokens >= result.total and stats.processed_tokens < 20


def test_a_stopped_warm_up_keeps_what_it_evaluated(chat_model_path):
    engine = new_engine(chat_model_path)
    system = [{"role": "system", "content": rules(40)}]
    seen = []
    engine.prompt_progress = lambda done, total: seen.append(done)
    result = warm(engine, "chat", system, cancelled=lambda: len(seen) >= 2)
    engine.prompt_progress = None
    assert result.cancelled and result.processed == PREFILL_BATCH
    _, stats = ask(engine, "chat", [*system, {"role": "user", "content": "Birds?"}])
    assert stats.reused_tokens == PREFILL_BATCH  # the Send took over the work done so far


def test_warming_a_prefix_already_there_keeps_the_last_turn(chat_model_path):
    engine = new_engine(chat_model_path)
    system = rules(20)
    question = turn(system, "What is the capital of France?")
    answer, first = ask(engine, "chat", question)
    result = warm(engine, "chat", question[:1])  # what the window does after an answer
    assert result.processed == 0 and result.source == "live"
    _, second = ask(engine, "chat", [*question, {"role": "assistant", "content": answer},
                                     {"role": "user", "content": "And of Italy?"}])
    assert second.reused_tokens >= first.prompt_tokens - 2  # the question and answer were kept
