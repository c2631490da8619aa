"""The check semantics: one definition for learn, eval and the promptfoo export."""

import time

import pytest

from workbench.evals.checks import (
    KINDS,
    Check,
    CheckError,
    from_promptfoo,
    make_check,
    parse_short,
    run_check,
    short,
)


def verdict(kind, value, answer, **kw):
    return run_check(make_check(kind, value), answer, **kw)


def test_text_checks_ignore_case_and_surrounding_space():
    assert verdict("contains", "KM", "  About 880 km. ").passed
    assert not verdict("contains", "km", "About 550 miles").passed
    assert verdict("not_contains", "miles", "880 km").passed
    assert not verdict("not_contains", "Miles", "550 miles").passed
    assert verdict("equals", " Paris ", "\nparis\n").passed
    assert not verdict("equals", "Paris", "Paris, France").passed
    assert verdict("starts_with", "answer:", "ANSWER: Rome").passed
    assert not verdict("starts_with", "ANSWER:", "The answer: Rome").passed


def test_regex_is_multiline_and_case_sensitive_unless_asked():
    assert verdict("regex", r"^Enjoy", "Boil the eggs.\nEnjoy your meal!").passed
    assert not verdict("regex", r"^enjoy", "Boil.\nEnjoy!").passed
    assert verdict("regex", r"(?i)^enjoy", "Boil.\nEnjoy!").passed


def test_a_catastrophic_regex_fails_in_bounded_time_instead_of_hanging():
    start = time.perf_counter()
    v = verdict("regex", r"(a|aa)+$", "a" * 5000 + "!")
    assert not v.passed and "longer than" in v.reason
    assert time.perf_counter() - start < 5


def test_json_schema_and_max_words():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    assert verdict("json", None, '{"a": 1}').passed and not verdict("json", None, "{a: 1}").passed
    assert verdict("json_schema", schema, '{"city": "Rome"}').passed
    v = verdict("json_schema", schema, '{"town": "Rome"}')
    assert not v.passed and "city" in v.reason
    assert verdict("max_words", 3, "one two three").passed
    assert not verdict("max_words", "3", "one two three four").passed


def test_judge_uses_the_given_judge_and_fails_without_one():
    assert not verdict("judge", "is polite", "Hi").passed
    seen = []

    def judge(rubric, question, answer):
        seen.append((rubric, question, answer))
        return True, "it is polite"
    v = verdict("judge", "is polite", " Hello! ", question="Greet me", judge=judge)
    assert v.passed and "polite" in v.reason and seen == [("is polite", "Greet me", "Hello!")]


@pytest.mark.parametrize("kind,value", [("contains", ""), ("regex", "("), ("regex", "a" * 3000),
                                        ("max_words", 0), ("max_words", True), ("max_words", "many"),
                                        ("json_schema", {"type": 5}), ("json_schema", "[1]"),
                                        ("json_schema", {"$schema": []}), ("nope", "x")])
def test_unusable_checks_are_refused_with_a_reason(kind, value):
    with pytest.raises(CheckError):
        make_check(kind, value)


def test_short_form_round_trips():
    for check in (make_check("contains", "km"), make_check("json"), make_check("max_words", 12),
                  make_check("json_schema", {"type": "object"}), make_check("regex", "^a: b$")):
        assert parse_short(short(check)) == check


def test_the_exports_promptfoo_assertions_read_back_for_every_kind():
    from workbench.share.promptfoo import assertion
    checks = [make_check("contains", "km"), make_check("not_contains", "miles"), make_check("regex", "^A"),
              make_check("equals", "Paris"), make_check("starts_with", "ANSWER:"), make_check("json"),
              make_check("json_schema", {"type": "object"}), make_check("max_words", 20),
              make_check("judge", "is polite")]
    assert {c.kind for c in checks} == set(KINDS)
    for c in checks:
        back = from_promptfoo(assertion(c.kind, c.value))
        # equals and starts_with ignore case, so the export may write their value in lower case.
        assert back.kind == c.kind and (back.value == c.value or back.value == c.value.lower()), c
    # promptfoo's case-sensitive contains reads as ours (which ignores case).
    assert from_promptfoo({"type": "contains", "value": "km"}) == Check("contains", "km")
    with pytest.raises(CheckError, match="no equivalent"):
        from_promptfoo({"type": "similar", "value": "x"})
