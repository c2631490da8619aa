"""A remote engine against a hostile server of our own (and against no server): every failure is
one clear message naming the server; cancel closes a stream within 0.5 s; the key stays secret."""

import threading
import time

import pytest

from tests.servers import free_port, hostile_server
from workbench.errors import WorkbenchError
from workbench.runtime import sse
from workbench.runtime.generation import collect, stream, what_the_model_sees
from workbench.runtime.http_client import RemoteError, normalize_url
from workbench.runtime.interface import ModelEngine, exactness_note
from workbench.runtime.params import RunStats, SamplingParams
from workbench.runtime.remote import RemoteEngine, split_spec

ASK = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]


def engine_on(server, **kw) -> RemoteEngine:
    e = RemoteEngine(**kw)
    e.load(server.url)
    return e


def failure(server, **kw) -> str:
    e = engine_on(server, **kw)
    with pytest.raises(RemoteError) as caught:
        collect(stream(e, "chat", ASK, SamplingParams(max_tokens=20)))
    message = str(caught.value)
    assert server.url in message  # every message names the server
    return message


def test_an_ordinary_answer_streams_with_estimates_marked():
    with hostile_server("ok") as server:
        e = engine_on(server)
        assert isinstance(e, ModelEngine)
        items = list(stream(e, "chat", ASK, SamplingParams(max_tokens=20, seed=3)))
        assert items[:-1] == ["Hello", " there"] and isinstance(items[-1], RunStats)
        assert items[-1].finish_reason == "stop" and items[-1].completion_tokens > 0
        assert not e.exact_tokens and not e.exact_render and "estimated" in exactness_note(e)
        assert e.info.kind == "chat" and e.info.path == f"{server.url}#hostile-model"
        text, n = what_the_model_sees(e, "chat", ASK)
        assert "Be brief." in text and "Hi?" in text and n >= len("Be brief.Hi?") // 4
        body = server.bodies[-1]
        # A server of unknown kind gets the standard fields only, and the seed.
        assert body["model"] == "hostile-model" and body["stream"] is True and body["seed"] == 3
        assert body["messages"] == ASK and "top_k" not in body and "repeat_penalty" not in body


def test_a_server_answering_200_to_unknown_paths_is_an_ordinary_openai_server():
    with hostile_server("lmstudio") as server:
        e = engine_on(server)
        assert e.features.flavour == "openai-compatible" and not e.exact_tokens
        text, _ = collect(stream(e, "chat", ASK, SamplingParams()))
        assert text == "Hello there"


def test_a_refused_connection_says_nothing_answers():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RemoteError, match="Nothing answers at http://127.0.0.1:.*connection refused"):
        RemoteEngine().load(url)


def test_401_with_and_without_a_key_and_the_key_never_shows():
    with hostile_server("401") as server:
        with pytest.raises(RemoteError) as no_key:
            RemoteEngine().load(server.url)
        assert "401" in str(no_key.value) and "needs an API key" in str(no_key.value)
        with pytest.raises(RemoteError) as wrong:
            RemoteEngine(api_key="sk-secret-123").load(server.url)
        assert "refused the API key" in str(wrong.value) and "Invalid API key" in str(wrong.value)
        assert "sk-secret-123" not in str(wrong.value)
        assert server.seen_auth[-1] == "Bearer sk-secret-123"  # it was sent, as a bearer token


def test_429_asks_to_wait():
    with hostile_server("429") as server:
        message = failure(server)
        assert "429" in message and "too many requests" in message and "7 s" in message


def test_500_shows_the_servers_own_message():
    with hostile_server("500") as server:
        message = failure(server)
        assert "500" in message and "CUDA out of memory" in message


def test_a_malformed_event_stops_the_answer_clearly():
    with hostile_server("malformed") as server:
        assert "malformed stream event" in failure(server)


def test_a_stream_cut_midway_says_so():
    with hostile_server("cut") as server:
        message = failure(server)
        assert "before the answer was" in message and "after 10 characters" in message


def test_a_server_that_never_answers_times_out():
    with hostile_server("silent") as server:
        start = time.perf_counter()
        message = failure(server, timeout=1.0)
        assert "did not answer in time" in message and time.perf_counter() - start < 10


def test_cancel_from_another_thread_closes_the_stream_within_half_a_second():
    with hostile_server("stall") as server:
        e = engine_on(server)
        it = stream(e, "chat", ASK, SamplingParams(max_tokens=2000))
        assert isinstance(next(it), str)
        stopped = {}

        def cancel():
            stopped["at"] = time.perf_counter()
            e.cancel()
        threading.Timer(0.25, cancel).start()
        rest = list(it)  # blocks in a read (the server is silent) until cancel shuts the socket
        took = time.perf_counter() - stopped["at"]
        assert took < 0.5, f"the stream closed {took:.2f} s after cancel"
        assert isinstance(rest[-1], RunStats) and rest[-1].finish_reason == "cancelled"
        # The engine stays usable: a new answer starts.
        assert isinstance(next(iter(stream(e, "chat", ASK, SamplingParams()))), str)


def test_unknown_model_lists_what_the_server_has():
    with hostile_server("ok") as server, \
            pytest.raises(RemoteError, match="has no model 'big-one'; it serves: hostile-model"):
        RemoteEngine().load(f"{server.url}#big-one")


def test_addresses_are_checked_and_normalized():
    assert normalize_url("http://h:1/v1/") == "http://h:1"
    assert normalize_url("https://gpu.example/proxy/v1") == "https://gpu.example/proxy"
    assert split_spec("http://h:1/v1#org/model-7b") == ("http://h:1", "org/model-7b")
    for bad in ("ftp://h", "h:8080", "http://"):
        with pytest.raises(WorkbenchError, match="not a server address"):
            normalize_url(bad)


def test_sse_events_are_joined_and_comments_skipped():
    lines = [b": ping\n", b"data: {\"a\":\n", b"data: 1}\n", b"\n", b"event: x\n", b"data: [DONE]\r\n"]
    assert list(sse.events(lines)) == ['{"a":\n1}', "[DONE]"]


@pytest.mark.parametrize("module", ["workbench.runtime.engines", "workbench.runtime.remote",
                                    "workbench.runtime.servers", "workbench.cli.remote"])
def test_the_remote_engine_loads_neither_llama_cpp_nor_qt(module):
    from tests.test_layers import loaded_after
    assert loaded_after(f"import {module}") == {"llama_cpp": False, "PySide6": False}


def test_a_remote_engine_alone_never_loads_llama_cpp():
    from tests.test_layers import loaded_after
    code = ("from tests.servers import hostile_server\nfrom workbench.runtime.engines import open_engine\n"
            "with hostile_server('ok') as s:\n    open_engine(s.url)")
    assert loaded_after(code)["llama_cpp"] is False


def test_counts_asked_during_an_answer_wait_for_it_on_a_server_that_would_drop_it():
    with hostile_server("interrupting") as server:
        e = engine_on(server)
        assert e.features.flavour == "llama-cpp-python"
        e.interactive_thread = threading.current_thread()
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("r", collect(e.stream_chat(ASK))))
        t.start()
        while not server.bodies or "messages" not in server.bodies[-1]:
            time.sleep(0.01)
        time.sleep(0.1)  # the answer is streaming
        assert e.count_tokens("four words right here") == 6  # the estimate, at once
        t.join(timeout=10)
        text, stats = out["r"]
        assert stats.finish_reason == "stop" and text.count("w") == 20  # not cut short
        deadline = time.time() + 5
        while e.count_tokens("four words right here") != 4 and time.time() < deadline:
            time.sleep(0.05)  # fetched once the answer was done
        assert e.count_tokens("four words right here") == 4
