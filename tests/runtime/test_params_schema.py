"""The sampling schema: each field's edges, and every kind of bad value (NaN, infinities, huge
numbers, text, bools, lists) refused with the field and its range named, or repaired on load."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.cli.prompt import parse_param
from workbench.errors import ImportFormatError, WorkbenchError
from workbench.runtime.params import (
    DEFAULTS,
    MAX_SEED,
    NUMBER_RULES,
    PARAM_NAMES,
    SamplingParams,
    check_param,
    check_params,
    fit_seed,
    repair_params,
    shown,
)

# field: (values that fit, values that do not)
EDGES = {
    "temperature": ([0, 0.0, 1e-9, 0.7, 2, 100], [-1e-9, -0.1, 100.0001, 1e308]),
    "top_p": ([1e-9, 0.5, 1, 1.0], [0, 0.0, -0.1, 1.0000001, 2]),
    "top_k": ([0, 1, 40, 40.0, 2**31 - 1], [-1, 2**31, 40.5, 1e20]),
    "min_p": ([0, 0.05, 1], [-0.01, 1.01]),
    "repeat_penalty": ([1e-9, 1, 1.1, 100], [0, -1, 100.5]),
    "max_tokens": ([1, 512, 1_000_000, 64.0], [0, -5, 1_000_001, 1e308, 2.5]),
    "seed": ([0, 42, MAX_SEED, None, 7.0], [-1, MAX_SEED + 1, 2**64, 1234567890123, 1.5]),
}
# Not numbers, whatever field they land in.
NOT_NUMBERS = [math.nan, math.inf, -math.inf, "0.7", "hot", "", True, False, [1], [], {"v": 1},
               10**400, -(10**400)]


@pytest.mark.parametrize("name", sorted(EDGES))
def test_each_numbers_edges(name):
    good, bad = EDGES[name]
    for v in good:
        got = check_param(name, v)
        if v is not None:
            assert got == v and isinstance(got, int if NUMBER_RULES[name].whole else float), (name, v)
    for v in bad + NOT_NUMBERS:
        with pytest.raises(WorkbenchError) as e:
            check_param(name, v)
        # The message names the field and what it may be.
        assert str(e.value).startswith(f"{name} must be {NUMBER_RULES[name].says}; not "), (name, v)


def test_null_is_a_seed_only():
    assert check_param("seed", None) is None
    for name in set(PARAM_NAMES) - {"seed"}:
        with pytest.raises(WorkbenchError, match=name):
            check_param(name, None)


@pytest.mark.parametrize("value, ok", [
    ([], True), (["###"], True), (["\nUser:", "###"], True),
    ("###", False), ([""], False), (["ok", 3], False), ([["x"]], False), (None, False),
    (5, False), ({"a": "b"}, False), ([None], False), (True, False)])
def test_stop_is_a_list_of_non_empty_strings(value, ok):
    if ok:
        assert check_param("stop", value) == value
    else:
        with pytest.raises(WorkbenchError, match="stop must be a list of non-empty strings"):
            check_param("stop", value)


def test_the_message_uses_the_callers_label_and_error_class():
    with pytest.raises(ImportFormatError) as e:
        check_param("max_tokens", 0, error=ImportFormatError, label="Line 3: PARAMETER num_predict")
    assert str(e.value) == ("Line 3: PARAMETER num_predict must be a whole number from 1 to "
                            "1,000,000; not 0.")
    with pytest.raises(WorkbenchError, match="there is no sampling parameter 'temprature'"):
        check_param("temprature", 0.2)
    with pytest.raises(WorkbenchError, match=r"params\.typical_p: there is no sampling parameter"):
        check_params({"temperature": 0.2, "typical_p": 0.9}, where="params.")


def test_huge_and_deep_values_are_quoted_without_failing():
    assert "digits" in shown(10**5000)  # repr() itself refuses ints this long
    assert shown([[[[1]]]]) == "a list of 1 item"
    assert len(shown("x" * 10**6)) < 50
    with pytest.raises(WorkbenchError, match="digits"):
        check_param("seed", 10**5000)


def test_seeds_from_other_tools_are_fitted_deterministically():
    assert fit_seed(-1) is None and fit_seed(-7) is None  # random, as llama.cpp and Ollama read it
    assert fit_seed(0) == 0 and fit_seed(MAX_SEED) == MAX_SEED
    assert fit_seed(MAX_SEED + 1) == 0
    assert fit_seed(1234567890123) == fit_seed(1234567890123) <= MAX_SEED
    assert fit_seed(2**200) <= MAX_SEED


@pytest.mark.parametrize("saved, expected", [
    ({"seed": 1234567890123}, {"seed": 1234567890123 % (MAX_SEED + 1)}),
    ({"seed": -1}, {"seed": None}),
    ({"seed": "42"}, {"seed": 42}),
    ({"temperature": "0.7"}, {"temperature": 0.7}),
    ({"temperature": math.nan}, {}),
    ({"temperature": math.inf}, {"temperature": 100.0}),
    ({"temperature": -3}, {"temperature": 0.0}),
    ({"max_tokens": 1e308}, {"max_tokens": 1_000_000}),
    ({"max_tokens": [1, 2]}, {}),
    ({"max_tokens": 0}, {"max_tokens": 1}),
    ({"top_k": 40.6}, {"top_k": 41}),
    ({"top_p": 0}, {}),  # above 0: no nearest value, so the default
    ({"repeat_penalty": -1}, {}),
    ({"min_p": True}, {}),
    ({"stop": "###"}, {"stop": ["###"]}),
    ({"stop": ["a", "", 3, "b"]}, {"stop": ["a", "b"]}),
    ({"stop": 5}, {"stop": []}),
    ({"typical_p": 0.9}, {}),
])
def test_repair_takes_the_nearest_valid_value_or_the_default_and_says_so(saved, expected):
    fixed, notes = repair_params(saved)
    assert fixed == expected
    assert len(notes) == 1 and next(iter(saved)) in notes[0]
    check_params(fixed)  # what comes out fits


def test_valid_values_pass_repair_untouched_and_silently():
    saved = {"temperature": 0.2, "top_k": 0, "seed": None, "stop": ["\nUser:"], "max_tokens": 64}
    assert repair_params(saved) == (saved, [])
    assert repair_params("not a dict")[0] == {} and repair_params(None)[1]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from([2**31, 2**32, 2**64, 10**30, -1, 0, 1, 1e308, "0.5", "1e999", "nan"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)


@settings(max_examples=300, deadline=1000)
@given(st.dictionaries(st.sampled_from(PARAM_NAMES + ("other", "")), JSON_VALUES, max_size=9))
def test_repair_never_raises_and_always_fits(saved):
    fixed, notes = repair_params(saved)
    assert check_params(fixed) == fixed
    p = SamplingParams.from_dict(saved)  # what a run gets from any stored dict
    assert check_params(p.to_dict()) == p.to_dict()
    assert len(notes) >= sum(1 for k in saved if fixed.get(k, object()) != saved[k])


@settings(max_examples=300, deadline=1000)
@given(st.sampled_from(PARAM_NAMES), JSON_VALUES)
def test_the_cli_and_the_schema_agree(name, value):
    """`workbench prompt set-param` takes exactly what the schema takes (one string is a
    one-item stop list there)."""
    try:
        text = json.dumps(value)
    except ValueError:
        return
    expected = [value] if name == "stop" and isinstance(value, str) else json.loads(text)
    try:
        want = check_param(name, expected)
    except WorkbenchError as e:
        with pytest.raises(WorkbenchError) as cli:
            parse_param(name, text)
        assert str(cli.value).split(";")[0] == str(e).split(";")[0].replace(" must be ", " is ")
    else:
        assert parse_param(name, text) == want


def test_defaults_fit_the_schema():
    assert check_params(DEFAULTS) == DEFAULTS
