"""Composition: sections, variables, lessons within budget, retrieved lessons just before the question."""

from datetime import date

import pytest

from tests.conftest import words
from workbench.prompt.compose import RETRIEVED_HEADING, LessonRef, compose, fill_variables, question_of
from workbench.prompt.document import Example, PromptDocument, Section

TODAY = date(2026, 11, 22)


def doc(**kw) -> PromptDocument:
    d = PromptDocument(sections=[Section("role", "You are {{persona}}."),
                                 Section("current information", "Today is {{date}}; model {{model}}."),
                                 Section("tools", "unused", enabled=False),
                                 Section("safety", "   ")])
    d.variables["persona"] = "a tutor"
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def test_sections_and_variables():
    c = compose(doc(), [], count_tokens=words, n_ctx=100, model_name="Smol", today=TODAY)
    assert c.system_prompt == "You are a tutor.\n\nToday is 2026-11-22; model Smol."
    assert list(c.breakdown) == ["role", "current information", "lessons", "examples", "conversation"]
    assert c.unknown_variables == []


def test_unknown_variable_is_reported_and_left_visible():
    text, unknown = fill_variables("Hi {{name}}, it is {{date}} {{ name }}", {"date": "today"})
    assert text == "Hi {{name}}, it is today {{ name }}" and unknown == ["name"]


def test_pinned_lessons_in_id_order_within_budget():
    lessons = [LessonRef(3, "Third lesson here."), LessonRef(1, "First lesson."),
               LessonRef(2, "A much longer second lesson that costs many tokens to include.")]
    c = compose(doc(lesson_budget=8), [], pinned=lessons, count_tokens=words, n_ctx=100, today=TODAY)
    assert c.lessons_in_prompt == [1, 3] and c.lessons_over_budget == [2]
    assert c.system_prompt.endswith("## Lessons\n- First lesson.\n- Third lesson here.")
    assert c.breakdown["lessons"] > 0


def test_no_lessons_no_block():
    c = compose(doc(), [], count_tokens=words, n_ctx=100, today=TODAY)
    assert "Lessons" not in c.system_prompt and c.breakdown["lessons"] == 0


def test_retrieved_rule_heads_the_question_and_the_system_prompt_stays():
    convo = [{"role": "user", "content": "How far is Rome?"}]
    plain = compose(doc(), convo, count_tokens=words, n_ctx=100, today=TODAY)
    with_notes = compose(doc(), convo, retrieved=[LessonRef(7, "Use kilometres.")],
                         count_tokens=words, n_ctx=100, today=TODAY)
    assert with_notes.system_prompt == plain.system_prompt  # the cached prefix survives
    assert with_notes.messages[0] == plain.messages[0]
    # Nothing follows the question: a notes block after it was echoed by both default models.
    assert with_notes.messages[-1]["content"] == "Use kilometres.\n\nHow far is Rome?"
    assert RETRIEVED_HEADING not in str(with_notes.messages)
    assert convo[0]["content"] == "How far is Rome?"  # the caller's list is not changed
    assert with_notes.lessons_retrieved == [7] and with_notes.retrieved_messages == 0
    assert with_notes.breakdown["lessons"] == 2 and with_notes.breakdown["conversation"] == 4


KG = LessonRef(8, "When you give a weight, give it in kg.", "How heavy is a lion?", "About 190 kg.")
KM = LessonRef(9, "When you give a distance, give it in km.", "How far is Paris from Lyon?",
               "About 390 km.")


def test_retrieved_demonstrations_come_after_everything_stable_just_before_the_question():
    d = doc(examples=[Example("2+2?", "4")])
    pinned = [LessonRef(1, "Be brief.", "Hi?", "Hello.")]
    history = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi."},
               {"role": "user", "content": "How heavy is an elephant?"}]
    plain = compose(d, history, pinned=pinned, count_tokens=words, n_ctx=500, today=TODAY)
    c = compose(d, history, pinned=pinned, retrieved=[KG, KM], count_tokens=words, n_ctx=500,
                today=TODAY)
    stable = len(plain.messages) - 1  # system, example, pinned demonstration, history
    assert c.messages[:stable] == plain.messages[:stable]  # the cached prefix survives
    # The most relevant (ranked first) sits nearest the question; each rule heads its
    # demonstration's question, so the newest question is exactly what was asked.
    assert c.messages[stable:] == [
        {"role": "user", "content": f"{KM.text}\n\n{KM.demo_query}"},
        {"role": "assistant", "content": KM.demo_answer},
        {"role": "user", "content": f"{KG.text}\n\n{KG.demo_query}"},
        {"role": "assistant", "content": KG.demo_answer},
        {"role": "user", "content": "How heavy is an elephant?"}]
    assert c.retrieved_messages == 4 and c.lessons_retrieved == [8, 9]
    assert c.breakdown["conversation"] == plain.breakdown["conversation"]
    assert c.breakdown["lessons"] > plain.breakdown["lessons"]
    assert c.total_tokens == sum(c.breakdown.values())


@pytest.mark.parametrize("mode", ["chat", "base", "urial"])
def test_chat_and_base_modes_place_retrieved_lessons_alike(mode):
    convo = [{"role": "user", "content": "How heavy is a bear?"}]
    c = compose(doc(), convo, retrieved=[KG], count_tokens=words, n_ctx=500, mode=mode)
    assert [m["role"] for m in c.messages] == ["system", "user", "assistant", "user"]
    assert c.messages[-1]["content"] == "How heavy is a bear?"


def test_base_mode_leaves_out_a_rule_without_a_demonstration():
    # Measured: Gemma through URIAL rewrote a bare rule in its query into the answer.
    convo = [{"role": "user", "content": "How heavy is a bear?"}]
    bare = LessonRef(3, "Use kilograms.")
    chat = compose(doc(), convo, retrieved=[bare, KG], count_tokens=words, n_ctx=500, mode="chat")
    base = compose(doc(), convo, retrieved=[bare, KG], count_tokens=words, n_ctx=500, mode="base")
    assert chat.messages[-1]["content"] == "Use kilograms.\n\nHow heavy is a bear?"
    assert chat.lessons_retrieved == [3, 8]
    assert base.messages[-1]["content"] == "How heavy is a bear?" and base.lessons_retrieved == [8]
    assert base.messages[:-1] == chat.messages[:-1]  # the demonstration goes in alike


def test_raw_mode_adds_nothing_to_the_newest_text():
    convo = [{"role": "user", "content": "Once upon a time"}]
    c = compose(doc(), convo, retrieved=[KG, LessonRef(3, "Use kilometres.")], count_tokens=words,
                n_ctx=500, mode="raw")
    assert c.messages[-1]["content"] == "Once upon a time" and c.lessons_retrieved == []
    with pytest.raises(ValueError):
        compose(doc(), convo, count_tokens=words, n_ctx=500, mode="poetry")


def test_question_of_takes_the_retrieved_rules_back_out():
    asked = "How far is Rome?\n\nIn km please."
    c = compose(doc(), [{"role": "user", "content": asked}],
                retrieved=[LessonRef(7, "Use kilometres."), LessonRef(5, "Be brief.")],
                count_tokens=words, n_ctx=100)
    assert question_of(c.messages[-1]["content"], ["Use kilometres.", "Be brief."]) == asked
    assert question_of(asked, ["Use kilometres."]) == asked  # nothing to take out
    old = f"How far is Rome?\n\n{RETRIEVED_HEADING}\n- Use kilometres."  # stored by older versions
    assert question_of(old, []) == "How far is Rome?"


def test_examples_become_turns_and_breakdown_adds_up():
    d = doc(examples=[Example("2+2?", "4"), Example("3+3?", "6")])
    convo = [{"role": "user", "content": "5+5?"}]
    c = compose(d, convo, count_tokens=words, n_ctx=100, today=TODAY)
    assert [m["role"] for m in c.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert c.breakdown["examples"] == 4 and c.breakdown["conversation"] == 1
    assert c.total_tokens == sum(c.breakdown.values()) and c.free_tokens == 100 - c.total_tokens


def test_system_prompt_is_the_same_turn_after_turn():
    d = doc()
    first = compose(d, [{"role": "user", "content": "a"}], count_tokens=words, n_ctx=100, today=TODAY)
    later = compose(d, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                        {"role": "user", "content": "c"}], count_tokens=words, n_ctx=100, today=TODAY)
    assert first.system_prompt == later.system_prompt
