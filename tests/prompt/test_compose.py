"""Composition: sections, variables, lessons within budget, retrieval next to the question."""

from datetime import date

from tests.conftest import words
from workbench.prompt.compose import RETRIEVED_HEADING, LessonRef, compose, fill_variables
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


def test_retrieved_lessons_go_with_the_question_and_keep_the_system_prompt():
    convo = [{"role": "user", "content": "How far is Rome?"}]
    plain = compose(doc(), convo, count_tokens=words, n_ctx=100, today=TODAY)
    with_notes = compose(doc(), convo, retrieved=[LessonRef(7, "Use kilometres.")],
                         count_tokens=words, n_ctx=100, today=TODAY)
    assert with_notes.system_prompt == plain.system_prompt  # the cached prefix survives
    assert with_notes.messages[0] == plain.messages[0]
    assert with_notes.messages[-1]["content"] == (
        f"How far is Rome?\n\n{RETRIEVED_HEADING}\n- Use kilometres.")
    assert convo[0]["content"] == "How far is Rome?"  # the caller's list is not changed
    assert with_notes.lessons_retrieved == [7]


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
