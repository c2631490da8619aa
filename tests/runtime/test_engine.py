"""The llama.cpp engine on the real default models."""

import threading
import time
from dataclasses import replace

import pytest

from tests.conftest import GREEDY
from workbench.errors import ContextOverflowError, ModelFileError, ModelLoadError
from workbench.runtime.engine import Engine
from workbench.runtime.models import read_model_info
from workbench.runtime.offload import resolve_gpu_layers
from workbench.runtime.params import LoadOptions, RunStats, SamplingParams

ANSWER = replace(GREEDY, seed=7, repeat_penalty=1.1)
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def run(stream) -> tuple[str, RunStats]:
    items = list(stream)
    assert isinstance(items[-1], RunStats)
    return "".join(items[:-1]), items[-1]


def long_system_prompt(n_words: int) -> str:
    rule = "When the user asks about {t}, answer in one short sentence and name a source. "
    topics = ["rivers", "mountains", "cities", "birds", "stars", "trains", "bread", "music"]
    return "".join(rule.format(t=topics[i % len(topics)]) for i in range(n_words // 16))


def from_scratch(engine, messages, params=ANSWER) -> tuple[str, RunStats]:
    """An answer computed from an empty KV cache. Reusing a cached prefix evaluates the prompt
    in different batches, which may change the last bits of the logits, so only runs that
    start alike can be compared exactly."""
    engine._llm.reset()
    return run(engine.stream_chat(messages, params))


def test_deterministic_chat_is_stable_and_sensible(chat_engine):
    first, _ = from_scratch(chat_engine, QUESTION)
    again, stats = from_scratch(chat_engine, QUESTION)
    assert again == first  # the same computation gives the same answer
    assert "paris" in first.lower()
    assert stats.finish_reason == "stop" and stats.completion_tokens > 0
    assert stats.prompt_tokens == chat_engine.count_chat_tokens(QUESTION)
    assert stats.decode_tokens_per_s > 0 and stats.time_to_first_token_s > 0


def test_render_uses_the_ggufs_chatml_template(chat_engine):
    text = chat_engine.render_chat([{"role": "system", "content": "Be brief."}, *QUESTION])
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n"
                    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_base_model_loads_and_completes(base_engine):
    assert base_engine.info.kind == "base"
    text, stats = run(base_engine.stream_completion(
        "The capital of France is", SamplingParams(temperature=0, max_tokens=8)))
    assert text.strip() and stats.completion_tokens > 0
    with pytest.raises(Exception, match="no chat template"):
        base_engine.render_chat(QUESTION)


def test_stop_strings_end_a_completion(base_engine):
    text, stats = run(base_engine.stream_completion(
        "1, 2, 3, 4,", SamplingParams(temperature=0, max_tokens=40), stop=["7"]))
    assert "7" not in text and "5" in text and stats.finish_reason == "stop"


def test_max_tokens_gives_length_finish(chat_engine):
    _, stats = run(chat_engine.stream_chat(
        [{"role": "user", "content": "Write a long story about a dragon."}],
        SamplingParams(temperature=0, max_tokens=5)))
    assert stats.finish_reason == "length" and stats.completion_tokens <= 6


def test_cancel_mid_decode_then_answer_correctly(chat_engine):
    story = [{"role": "user", "content": "Write a very long story about a dragon."}]
    pieces = []
    stream = chat_engine.stream_chat(story, SamplingParams(temperature=0, max_tokens=400))
    for item in stream:
        if isinstance(item, str):
            pieces.append(item)
            if len(pieces) == 5:
                threading.Thread(target=chat_engine.cancel).start()
        else:
            stats = item
    assert stats.finish_reason == "cancelled"
    assert len(pieces) < 20  # stopped at once, not after 400 tokens
    text, stats = run(chat_engine.stream_chat(QUESTION, ANSWER))  # on what the cancel left
    assert "paris" in text.lower() and stats.finish_reason == "stop"


class WatchedFlag(threading.Event):
    """The engine's cancel flag, telling when llama.cpp first polls it: the abort callback
    runs between the steps of a batch, so a poll means prompt processing is under way."""

    def __init__(self):
        super().__init__()
        self.polled = threading.Event()

    def is_set(self) -> bool:
        self.polled.set()
        return super().is_set()


def test_cancel_during_long_prompt_processing(chat_engine, monkeypatch):
    messages = [{"role": "system", "content": long_system_prompt(4000)}, *QUESTION]
    assert chat_engine.count_chat_tokens(messages) > 3000  # ~15 s of prompt processing here
    chat_engine._llm.reset()  # all of it to process, none cached
    flag = WatchedFlag()
    monkeypatch.setattr(chat_engine, "_cancel", flag)
    result = {}

    def generate():
        result["items"] = list(chat_engine.stream_chat(messages, ANSWER))
        result["done"] = time.perf_counter()

    worker = threading.Thread(target=generate)
    worker.start()
    assert flag.polled.wait(timeout=30)  # inside the first batch of the prompt
    cancelled_at = time.perf_counter()
    chat_engine.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert result["done"] - cancelled_at < 0.5
    assert result["items"][-1].finish_reason == "cancelled"
    assert result["items"][:-1] == []  # no text: it never got past the prompt
    assert result["items"][-1].processed_tokens < result["items"][-1].prompt_tokens
    text, stats = run(chat_engine.stream_chat(QUESTION, ANSWER))  # on the half-filled cache
    assert "paris" in text.lower() and stats.finish_reason == "stop"


def test_prefix_reuse_on_the_second_turn(chat_engine):
    system = {"role": "system", "content": long_system_prompt(1600)}
    turn1 = [system, {"role": "user", "content": "Tell me about rivers."}]
    answer, first = run(chat_engine.stream_chat(turn1, SamplingParams(temperature=0, max_tokens=24)))
    turn2 = [*turn1, {"role": "assistant", "content": answer},
             {"role": "user", "content": "And birds?"}]
    _, second = run(chat_engine.stream_chat(turn2, SamplingParams(temperature=0, max_tokens=24)))
    assert first.prompt_tokens > 1000
    assert second.reused_tokens >= 0.9 * first.prompt_tokens
    assert second.processed_tokens < 0.1 * second.prompt_tokens
    assert second.time_to_first_token_s < first.time_to_first_token_s


def test_token_counting(chat_engine):
    assert chat_engine.count_tokens("") == 0
    assert 1 <= chat_engine.count_tokens("Hello world") <= 3
    assert chat_engine.count_tokens("word " * 100) >= 100


def test_context_overflow_is_a_clear_error(chat_model_path):
    engine = Engine()
    engine.load(chat_model_path, LoadOptions(n_ctx=256))
    with pytest.raises(ContextOverflowError, match="context holds 256"):
        engine.stream_chat([{"role": "user", "content": "tell me " * 300}])
    text, _ = run(engine.stream_chat(QUESTION, ANSWER))  # still usable
    assert "paris" in text.lower()
    engine.unload()


def test_out_of_memory_is_a_clear_error_and_the_process_lives(chat_model_path):
    engine = Engine()
    with pytest.raises(ModelLoadError, match="not enough memory"):
        engine.load(chat_model_path, LoadOptions(n_ctx=4_000_000))  # ~190 GB of KV cache
    assert not engine.loaded


def test_bad_file_keeps_the_loaded_model(tmp_path, chat_model_path):
    engine = Engine()
    engine.load(chat_model_path, LoadOptions(n_ctx=512))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        engine.load(bad)
    with pytest.raises(ModelFileError, match="not found"):
        engine.load(tmp_path / "missing.gguf")
    assert engine.loaded and "paris" in run(engine.stream_chat(QUESTION, ANSWER))[0].lower()
    engine.unload()


def test_gpu_layer_choices_on_this_build(chat_model_path):
    info = read_model_info(chat_model_path)
    assert resolve_gpu_layers("auto", info, 2048, supported=False, free_bytes=None) == 0
    assert resolve_gpu_layers("all", info, 2048, supported=True, free_bytes=None) == -1
    assert resolve_gpu_layers("none", info, 2048, supported=True, free_bytes=None) == 0
    assert resolve_gpu_layers("12", info, 2048, supported=True, free_bytes=None) == 12
    assert resolve_gpu_layers("auto", info, 2048, supported=True, free_bytes=80 << 30) == -1
    assert resolve_gpu_layers("auto", info, 2048, supported=True, free_bytes=600 << 20) < 30


def test_gpu_request_on_cpu_build_says_so(chat_model_path):
    engine = Engine()
    result = engine.load(chat_model_path, LoadOptions(n_ctx=512, n_gpu_layers="all"))
    if result.gpu_offload_supported:
        assert result.n_gpu_layers == -1
    else:
        assert result.n_gpu_layers == 0 and "no GPU support" in result.notice
    engine.unload()
