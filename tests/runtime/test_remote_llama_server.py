"""The remote engine against llama.cpp's own llama-server (built by the setup from the llama.cpp
vendored in the same llama-cpp-python source package): URIAL on the base model through
/completion gives the local engine's text; /apply-template gives the local rendering; cache_n
is reported; warm-ups and prompt progress reach the server."""

import pytest

from tests.conftest import GREEDY
from tests.servers import llama_server
from workbench.errors import ContextOverflowError
from workbench.runtime.engines import open_engine
from workbench.runtime.generation import choose_mode, collect, prompt_text, stream, what_the_model_sees
from workbench.runtime.warmup import stable_prefix

ASK = [{"role": "system", "content": "You are a concise geography tutor."},
       {"role": "user", "content": "What is the capital of France?"}]
TURNS = [*ASK, {"role": "assistant", "content": "Paris."},
         {"role": "user", "content": "And of Italy?"}]


@pytest.fixture(scope="module")
def base_server(base_model_path):
    with llama_server(base_model_path, n_ctx=4096) as (url, _proc):
        yield open_engine(url)


@pytest.fixture(scope="module")
def chat_server(chat_model_path):
    with llama_server(chat_model_path, n_ctx=4096) as (url, _proc):
        yield open_engine(url)


def test_it_is_found_to_be_llama_server_with_everything_exact(chat_server, base_server):
    for e in (chat_server, base_server):
        assert e.features.flavour == "llama-server" and e.exact_tokens and e.exact_render
        assert e.n_ctx == 4096
    assert chat_server.info.kind == "chat"
    # No chat template in the base GGUF: llama-server falls back to ChatML, which is recognised.
    assert base_server.info.kind == "base" and choose_mode(base_server.info).name == "urial"


# Questions whose greedy answers are clear-cut: where the two likeliest tokens are within a few
# hundredths of a logit, the order of floating-point sums (how a prompt is split into batches)
# can pick either, here as on any CPU.
CLEAR = ["What is the capital of France?", "How many legs does a spider have?"]


def test_urial_on_the_base_model_gives_the_local_engines_text(base_server, base_engine):
    for question in CLEAR:
        ask = [ASK[0], {"role": "user", "content": question}]
        local_prompt = prompt_text(base_engine, "urial", ask)
        assert prompt_text(base_server, "urial", ask) == local_prompt
        assert what_the_model_sees(base_server, "urial", ask) == what_the_model_sees(base_engine, "urial", ask)
        local, _ = collect(stream(base_engine, "urial", ask, GREEDY))
        remote, stats = collect(stream(base_server, "urial", ask, GREEDY))
        assert remote == local and len(remote) > 5
        assert stats.prompt_tokens == len(base_engine.completion_tokens(local_prompt))


def test_what_the_chat_model_sees_is_the_local_rendering(chat_server, chat_engine):
    for messages in (ASK, TURNS):
        assert chat_server.render_chat(messages) == chat_engine.render_chat(messages)
        assert what_the_model_sees(chat_server, "chat", messages) == \
            what_the_model_sees(chat_engine, "chat", messages)
    assert chat_server.count_tokens("Ünïcode and <|im_start|> text") == \
        chat_engine.count_tokens("Ünïcode and <|im_start|> text")


def test_cache_n_is_reported_and_a_warm_up_fills_the_servers_cache(chat_server):
    _, first = collect(stream(chat_server, "chat", ASK, GREEDY))
    _, again = collect(stream(chat_server, "chat", ASK, GREEDY))
    assert first.prompt_tokens == again.prompt_tokens > 10
    assert again.reused_tokens >= again.prompt_tokens - 2  # all but the last token or so
    assert again.processed_tokens <= 2 and again.decode_tokens_per_s > 0
    prefix = stable_prefix(chat_server, "chat", TURNS[:-1])
    warmed = chat_server.warm(prefix)
    assert warmed.total == len(prefix) and warmed.processed + warmed.reused >= len(prefix) - 1
    _, after = collect(stream(chat_server, "chat", TURNS, GREEDY))
    assert after.reused_tokens >= len(prefix) - 1


def test_prompt_progress_is_reported_during_a_completion(base_server):
    seen = []
    base_server.prompt_progress = lambda done, total: seen.append((done, total))
    try:
        _, stats = collect(stream(base_server, "urial", TURNS, GREEDY))
    finally:
        base_server.prompt_progress = None
    assert seen and seen[-1][1] == stats.prompt_tokens and all(d <= t for d, t in seen)


def test_a_prompt_longer_than_the_servers_context_is_refused_before_sending(chat_server):
    long = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(ContextOverflowError, match="the server's context holds 4,096"):
        collect(stream(chat_server, "chat", long, GREEDY))
