"""Whether a prompt's stable prefix is worth warming (nothing written; too long to send), and
warming leaving a prefix that fills the context alone, on the real SmolLM2 model."""

from workbench.runtime.engine import Engine
from workbench.runtime.params import LoadOptions
from workbench.runtime.warmup import stable_prefix, warm, why_not_warm

SYSTEM = [{"role": "system", "content": "You are a geography tutor."}]


def test_nothing_written_means_nothing_to_prepare():
    assert why_not_warm([], 0, 8192, 16) == ""
    assert why_not_warm([{"role": "system", "content": "  \n"}], 24, 8192, 16) == ""
    assert why_not_warm(SYSTEM, 30, 8192, 16) is None
    # An earlier turn is worth warming even with no system prompt.
    assert why_not_warm([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                        20, 8192, 16) is None


def test_a_prefix_with_no_room_for_a_question_is_not_warmed_and_says_why():
    over = why_not_warm(SYSTEM, 10_049, 8192, 16)
    assert over == ("The prompt does not fit the context: 10,049 of 8,192 tokens. Shorten the prompt "
                    "or the conversation, or choose a longer context (or a model with one) in the "
                    "Model panel.")
    assert "no room for a question: 8,180 of 8,192" in why_not_warm(SYSTEM, 8180, 8192, 16)
    assert why_not_warm(SYSTEM, 8176, 8192, 16) is None  # exactly room for a short question
    assert why_not_warm(SYSTEM, 9000, 0, 16) is None  # no context known: nothing to judge by


def test_warming_a_prefix_that_fills_the_context_does_no_work(chat_model_path):
    engine = Engine()
    engine.load(chat_model_path, LoadOptions(n_ctx=512))
    long = [{"role": "system", "content": "When asked about rivers, name a source. " * 80}]
    assert len(stable_prefix(engine, "chat", long)) > 512
    seen = []
    engine.prompt_progress = lambda done, total: seen.append(done)
    result = warm(engine, "chat", long)
    assert result.processed == 0 and result.reused == 0 and seen == []
    assert engine.cached_tokens(stable_prefix(engine, "chat", long))[0] == 0  # nothing evaluated
    short = warm(engine, "chat", SYSTEM)  # a prompt that fits is warmed as before
    assert short.processed > 5 and seen
