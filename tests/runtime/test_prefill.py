"""Where a prompt's stable prefix ends (runtime.prefill), with a character-level toy tokenizer."""

from workbench.errors import WorkbenchError
from workbench.runtime.prefill import chat_turn_boundary, text_turn_boundary


def render(messages: list[dict]) -> str:
    """A toy chat template: each message in role tags, then the assistant's turn opened."""
    return "".join(f"<{m['role']}>{m['content']}</s>" for m in messages) + "<assistant>"


def chat_tokens(messages: list[dict]) -> list[int]:
    return [ord(ch) for ch in render(messages)]


CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."},
        {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Name a colour."}]


def test_a_chat_turn_begins_where_the_newest_question_does():
    tokens = chat_tokens(CHAT)
    n = chat_turn_boundary(CHAT, tokens, chat_tokens)
    shared = "<system>Be brief.</s><user>Hi.</s><assistant>Hello.</s><user>"
    assert n == len(shared) and "".join(map(chr, tokens[:n])) == shared


def test_a_chat_with_no_question_or_a_template_that_refuses_has_no_stable_prefix():
    system_only = CHAT[:1]
    assert chat_turn_boundary(system_only, chat_tokens(system_only), chat_tokens) == 0

    def refuses(messages):
        raise WorkbenchError("The model's chat template rejected these messages")

    assert chat_turn_boundary(CHAT, chat_tokens(CHAT), refuses) == 0


def completion_tokens(prompt: str) -> list[int]:
    return [1] + [ord(ch) for ch in prompt]  # a BOS, as the engine adds one


def test_a_completion_turn_begins_at_the_last_stop_string():
    prompt = "# Query:\nA?\n# Answer:\nB.\n# Query:\nC?\n# Answer:\n"
    n = text_turn_boundary(prompt, ["# Query"], completion_tokens(prompt), completion_tokens)
    assert n == 1 + prompt.rfind("# Query")
    # The earliest of the stop strings' last occurrences wins.
    n = text_turn_boundary(prompt, ["# Answer", "# Query"], completion_tokens(prompt), completion_tokens)
    assert n == 1 + prompt.rfind("# Query")


def test_a_completion_without_stop_strings_or_a_turn_before_it_has_no_stable_prefix():
    prompt = "# Query:\nA?\n# Answer:\n"
    assert text_turn_boundary(prompt, [], completion_tokens(prompt), completion_tokens) == 0
    assert text_turn_boundary(prompt, ["", "# Query"], completion_tokens(prompt), completion_tokens) == 0
