"""URIAL prompting and modes: the rendered document, and the base Gemma answering through it."""

from dataclasses import replace

import pytest

from tests.conftest import GREEDY, words
from workbench.errors import WorkbenchError
from workbench.prompt.compose import compose
from workbench.prompt.document import Example, PromptDocument, Section
from workbench.prompt.urial import UrialTemplate, clean_answer, render_urial
from workbench.runtime.generation import choose_mode, stream, what_the_model_sees
from workbench.runtime.params import RunStats

LONGER = replace(GREEDY, max_tokens=60, repeat_penalty=1.1)
TEMPLATE = UrialTemplate("PREAMBLE", [Example("q1", "a1")])


def text_of(items) -> str:
    return "".join(i for i in items if not isinstance(i, RunStats))


def test_render_structure_and_turn_order():
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "first?"}, {"role": "assistant", "content": "one"},
                {"role": "user", "content": "second?"}]
    doc = render_urial(messages, TEMPLATE)
    assert doc.startswith("PREAMBLE\n\nBe brief.\n\n# Query:\n```\nq1\n```")
    order = [doc.index(s) for s in ("q1", "a1", "first?", "one", "second?")]
    assert order == sorted(order)
    assert doc.endswith("# Query:\n```\nsecond?\n```\n\n# Answer:\n```\n")


def test_fences_in_user_text_cannot_close_the_block():
    doc = render_urial([{"role": "user", "content": "Explain ```code``` please"}], TEMPLATE)
    # 4 for the example pair, 2 around the query, 1 opening the answer: none from the text.
    assert doc.count("```") == 7 and "Explain `\u200d``code" in doc


def test_clean_answer():
    assert clean_answer("Paris\n```\n# Query") == "Paris"
    assert clean_answer("```\nRome\n```") == "Rome"


def test_document_examples_become_query_answer_pairs():
    d = PromptDocument(sections=[Section("role", "You are kind.")],
                       examples=[Example("2+2?", "4")])
    c = compose(d, [{"role": "user", "content": "3+3?"}], count_tokens=words, n_ctx=999)
    doc = render_urial(c.messages, UrialTemplate.default())
    assert "You are kind." in doc and "# Query:\n```\n2+2?\n```\n\n# Answer:\n```\n4\n```" in doc


def test_modes_follow_the_chat_template(chat_engine, base_engine):
    assert choose_mode(chat_engine.info).name == "chat"
    assert choose_mode(base_engine.info).name == "urial"
    assert choose_mode(chat_engine.info, "raw").reason == "chosen by you"
    with pytest.raises(WorkbenchError, match="no chat template"):
        choose_mode(base_engine.info, "chat")


def test_base_model_answers_through_urial_but_not_raw(base_engine):
    question = [{"role": "user", "content": "What is the capital of France?"}]
    items = list(stream(base_engine, "urial", question, LONGER))
    answer = text_of(items).strip()
    print("urial:", repr(answer))
    assert "paris" in answer.lower() and len(answer) < 60 and items[-1].finish_reason == "stop"
    raw = list(stream(base_engine, "raw", question, LONGER))
    raw_text = text_of(raw).strip()
    print("raw:", repr(raw_text))
    # As a plain document the question is merely continued: no clean, finished answer.
    assert raw_text != answer and raw[-1].finish_reason == "length" and len(raw_text) > 2 * len(answer)


def test_multi_turn_urial_keeps_turns_and_never_leaks_query(base_engine):
    convo = [{"role": "user", "content": "What is the capital of France?"}]
    answers = []
    for follow_up in ("And of Italy?", "And of Spain?"):
        answer = text_of(stream(base_engine, "urial", convo, LONGER)).strip()
        assert "# Query" not in answer and "```" not in answer and answer
        answers.append(answer)
        convo += [{"role": "assistant", "content": answer}, {"role": "user", "content": follow_up}]
    print("answers:", answers)
    assert "paris" in answers[0].lower()
    seen, _ = what_the_model_sees(base_engine, "urial", convo)
    # The template's three examples + three turns, each a fenced pair.
    assert seen.count("# Query:\n```") == 3 + 3
    pairs = [f"```\n{q}\n```\n\n# Answer:\n```\n{a}\n```"
             for q, a in zip(("What is the capital of France?", "And of Italy?"), answers)]
    assert all(p in seen for p in pairs) and seen.index(pairs[0]) < seen.index(pairs[1])
    assert seen.endswith("```\nAnd of Spain?\n```\n\n# Answer:\n```\n")


def test_what_the_model_sees(chat_engine, base_engine):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    chat_text, n = what_the_model_sees(chat_engine, "chat", msgs)
    assert chat_text == chat_engine.render_chat(msgs) and "<|im_start|>assistant" in chat_text
    assert n == chat_engine.count_chat_tokens(msgs)
    base_text, _ = what_the_model_sees(base_engine, "urial", msgs)
    assert base_text.startswith("<bos>") and base_text.endswith("# Answer:\n```\n")
