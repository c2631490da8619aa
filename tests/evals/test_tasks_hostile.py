"""Task sets from anywhere: any line gives a task or the import error naming the line."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import ImportFormatError
from workbench.evals.tasks import CHECKS, Task, load_tasks, parse_task

VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
                      | st.text(max_size=20), lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=10)
KEYS = st.sampled_from(["query", "split", "ideal", *CHECKS, "other"])


def outcome(line: str):
    try:
        return parse_task(line, 7)
    except ImportFormatError as e:
        assert str(e).startswith("Line 7: "), e
        return e


@settings(max_examples=300, deadline=2000, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_any_json_object_is_a_task_or_a_clear_error(data):
    result = outcome(json.dumps(data))
    if isinstance(result, Task):
        assert result.query.strip() and result.check in CHECKS and result.split in ("train", "test")


@settings(max_examples=200, deadline=2000, database=None)
@given(st.text(max_size=200))
def test_any_text_line_is_a_task_or_a_clear_error(line):
    outcome(line)


def test_hostile_lines_give_the_import_error():
    for line in ["[" * 100_000 + "]" * 100_000, '{"query": "q", "contains": ' + "9" * 5000 + "}",
                 '{"query": "q", "regex": "("}', '{"query": "q", "contains": "x", "split": []}',
                 '{"query": "q", "contains": "x", "ideal": 5}', "null", '"just text"']:
        assert isinstance(outcome(line), ImportFormatError), line[:40]


def test_a_file_of_hostile_lines_names_the_first_bad_line(tmp_path):
    f = tmp_path / "tasks.jsonl"
    f.write_text('{"query": "How far?", "contains": "km"}\n\n{"query": 5}\n')
    with pytest.raises(ImportFormatError, match=r"^Line 3: "):
        load_tasks(f)
