"""The remote engine against llama-cpp-python's own OpenAI-compatible server with the default
chat model: list, chat, stream, cancel, stats, and its failures (killed mid-stream, wrong key,
unknown model)."""

import threading
import time

import pytest

from tests.conftest import GREEDY
from tests.servers import llama_cpp_server
from workbench.runtime.engines import list_server_models, open_engine
from workbench.runtime.generation import collect, stream
from workbench.runtime.http_client import RemoteError
from workbench.runtime.interface import ModelEngine
from workbench.runtime.params import RunStats, SamplingParams
from workbench.runtime.remote import RemoteEngine

ASK = [{"role": "system", "content": "You are a helpful assistant."},
       {"role": "user", "content": "What is the capital of France?"}]
LONG = SamplingParams(temperature=0, max_tokens=1500, repeat_penalty=1.0)
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8,"  # a continuation that goes on far longer than the test waits


@pytest.fixture(scope="module")
def server(chat_model_path):
    with llama_cpp_server(chat_model_path) as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def remote(server):
    return open_engine(server)


def test_lists_its_models_and_says_what_is_exact(server, remote, chat_model_path, chat_engine):
    assert any(m.endswith(chat_model_path.name) for m in list_server_models(server))
    assert isinstance(remote, ModelEngine) and isinstance(chat_engine, ModelEngine)  # one interface
    assert remote.info.kind == "chat"
    assert remote.features.flavour == "llama-cpp-python"
    # Its tokenizer is exposed (/extras/tokenize), its chat template is not.
    assert remote.exact_tokens and not remote.exact_render
    assert "token counts exact" in remote.load_result.notice


def test_token_counts_are_the_models_own(remote, chat_engine):
    # (Its /extras/tokenize always reads special-token text such as <|im_start|> as the token.)
    for text in ("Hello world", "Ünïcode, emoji 🎉 and more text", "a\nb\n\nc"):
        assert remote.count_tokens(text) == chat_engine.count_tokens(text)
    assert remote.completion_tokens("Once upon") == chat_engine.completion_tokens("Once upon")


def test_chat_streams_in_pieces_and_ends_with_stats(remote):
    items = list(stream(remote, "chat", ASK, GREEDY))
    stats = items[-1]
    pieces = items[:-1]
    assert isinstance(stats, RunStats) and all(isinstance(p, str) for p in pieces)
    assert len(pieces) > 3 and "".join(pieces).strip()
    assert stats.finish_reason in ("stop", "length") and 0 < stats.completion_tokens <= GREEDY.max_tokens
    assert stats.prompt_tokens > 10 and stats.total_s >= stats.time_to_first_token_s > 0


def test_urial_and_raw_completion_go_through_v1_completions(remote):
    text, stats = collect(stream(remote, "urial", ASK, GREEDY))
    assert "```" not in text and "# Query" not in text  # the stop strings ended it, unseen
    assert stats.prompt_tokens > 100  # the preamble and examples went with it
    text, _ = collect(remote.stream_completion("The capital of France is", GREEDY))
    assert text.strip()


def test_cancel_closes_the_stream_within_half_a_second(remote):
    it = remote.stream_completion(COUNTING, LONG)
    assert isinstance(next(it), str)
    at = {}

    def cancel():
        at["t"] = time.perf_counter()
        remote.cancel()
    threading.Timer(0.3, cancel).start()
    rest = list(it)
    took = time.perf_counter() - at["t"]
    assert took < 0.5, f"closed {took:.2f} s after cancel"
    assert rest[-1].finish_reason == "cancelled"
    text, stats = collect(remote.stream_chat(ASK, GREEDY))  # and the next answer comes
    assert text.strip() and stats.finish_reason in ("stop", "length")


def test_an_unknown_model_is_refused_with_the_ones_it_has(server, chat_model_path):
    with pytest.raises(RemoteError) as e:
        open_engine(f"{server}#llama-3-405b")
    assert "has no model 'llama-3-405b'" in str(e.value) and chat_model_path.name in str(e.value)


def test_a_server_killed_mid_stream_gives_one_clear_message(chat_model_path):
    with llama_cpp_server(chat_model_path) as (url, proc):
        engine = open_engine(url)
        it = engine.stream_completion(COUNTING, LONG)
        assert isinstance(next(it), str)
        proc.kill()
        with pytest.raises(RemoteError) as e:
            list(it)
        message = str(e.value)
        assert url in message and ("closed" in message or "ended" in message), message
        proc.wait(timeout=10)  # gone: its port refuses
        with pytest.raises(RemoteError, match="Nothing answers at"):
            collect(engine.stream_chat(ASK, GREEDY))


def test_a_server_with_an_api_key(chat_model_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_API_KEY", raising=False)
    with llama_cpp_server(chat_model_path, api_key="sk-right") as (url, _proc):
        with pytest.raises(RemoteError, match="401.*needs an API key"):
            RemoteEngine().load(url)
        with pytest.raises(RemoteError, match="401.*refused the API key"):
            RemoteEngine(api_key="sk-wrong").load(url)
        engine = RemoteEngine(api_key="sk-right")
        engine.load(url)
        text, _ = collect(engine.stream_chat(ASK, SamplingParams(temperature=0, max_tokens=8)))
        assert text.strip()


def test_a_remote_teacher_reflects_under_the_lesson_schema(remote, ws):
    """What `learn --teacher URL` needs: reflection through the server keeps the JSON schema."""
    from workbench.notebook.reflection import reflect, situation_from_rating
    situation = situation_from_rating("How far is Rome from Milan?", "Quite far.", "Give the km.")
    r = reflect(remote, "chat", ws.notebook, situation)
    assert not r.problem.startswith("invalid"), r.raw  # the server's grammar held the shape
    assert r.raw.lstrip().startswith("{") and "lessons" in r.raw


def test_the_windows_thread_never_waits_for_a_count(server, chat_engine):
    import threading
    engine = open_engine(server)
    engine.interactive_thread = threading.current_thread()
    text = "A sentence the window counts on every keystroke."
    assert engine.count_tokens(text) == -(-len(text) // 4)  # the estimate, at once
    deadline = time.time() + 30
    while ("count", text) not in engine._known and time.time() < deadline:
        time.sleep(0.05)  # fetched behind, on the lookup thread
    assert engine.count_tokens(text) == chat_engine.count_tokens(text)
