"""Test set files from anywhere: any text gives cases or the import error, never a crash."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import ImportFormatError
from workbench.evals.sets import parse_pasted, parse_set_text
from workbench.evals.tasks import Task

CELLS = st.lists(st.sampled_from(list('abq,:"\n\t{}[]-| (') + ["query", "contains", "regex", "__expected",
                                                              "km", "split", "test", "max_words"]),
                 max_size=40).map("".join)
YAMLISH = st.lists(st.sampled_from(list("- :{}[]&*!|>\n'\"") + ["vars", "query", "assert", "type", "tests",
                                                               "icontains", "value", "x", "  "]),
                   max_size=60).map("".join)
HOSTILE = settings(max_examples=250, deadline=2000, database=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(text: str, fmt: str):
    try:
        tasks = parse_set_text(text, fmt)
    except ImportFormatError as e:
        return e
    assert tasks and all(isinstance(t, Task) and t.checks for t in tasks)
    return tasks


@HOSTILE
@given(CELLS)
def test_any_csv_text_is_cases_or_a_clear_error(text):
    outcome(text, "csv")


@HOSTILE
@given(YAMLISH)
def test_any_yaml_text_is_cases_or_a_clear_error(text):
    outcome(text, "promptfoo")


@HOSTILE
@given(CELLS)
def test_any_pasted_text_is_cases_or_names_the_row(text):
    try:
        parse_pasted(text)
    except ImportFormatError as e:
        assert str(e).startswith("Row "), e


def test_hostile_files_give_the_import_error():
    deep = "tests:\n  - vars: " + "[" * 200 + "]" * 200 + "\n"
    laughs = "a: &a [x, x]\nb: &b [*a, *a]\ntests: [*b]\n"
    for text, fmt in ((deep, "promptfoo"), (laughs, "promptfoo"), ("- 12\n", "promptfoo"),
                      ('query,json_schema\nq,"{""$schema"": 5}"\n', "csv"),
                      ("query,max_words\nq,-3\n", "csv"), ("just,a,header\n", "csv"),
                      (json.dumps({"query": "q", "checks": "contains"}), "jsonl"),
                      (json.dumps({"query": "q", "checks": [{"type": "regex", "value": "(a" * 2000}]}), "jsonl")):
        assert isinstance(outcome(text, fmt), ImportFormatError), text[:40]
