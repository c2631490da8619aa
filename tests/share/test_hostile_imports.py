"""Hostile and malformed imports, per format: each gives an ImportFormatError naming the line or
field (and writes nothing), or, for a value that is merely unusual, a converted document with a
note. Every imported document fits the schema; bombs and deep nesting fail fast."""

import json
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli, words
from workbench.errors import ImportFormatError, WorkbenchError
from workbench.prompt.compose import compose
from workbench.prompt.document import Example, PromptDocument, Section
from workbench.runtime.params import MAX_SEED, SamplingParams, check_params
from workbench.share.exporters import ExportInput, export
from workbench.share.importers import IMPORTERS, MAX_IMPORT_BYTES, import_text, read_import_file
from workbench.workspace import Workspace

FAST_S = 2.0  # the issue's bar for bombs and deep files; on this machine they take ~0.01 s


def fits(doc: PromptDocument) -> PromptDocument:
    """An imported document: it passes the document schema and its params the sampling one."""
    assert isinstance(doc, PromptDocument)
    assert doc.validated().to_json() == doc.to_json()
    assert check_params(doc.params) == doc.params
    SamplingParams(**doc.params)  # and a run could take them as they are
    return doc


def refused(text: str, fmt: str | None, where: str) -> str:
    with pytest.raises(ImportFormatError) as e:
        import_text(text, fmt)
    assert where in str(e.value), str(e.value)
    return str(e.value)


# -- the inputs from the issue ----------------------------------------------------------


def test_a_seed_beyond_32_bits_is_folded_into_range_with_a_note():
    doc = fits(import_text('{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."}],'
                           '"seed":1234567890123}'))
    assert doc.params == {"seed": 1234567890123 % (MAX_SEED + 1)}
    assert doc.sections[0].text == "Be brief." and "seed 1234567890123" in doc.notes[0]


def test_a_quoted_modelfile_number_is_read_as_ollama_reads_it():
    doc = fits(import_text('FROM llama3\nPARAMETER temperature "0.7"\n'))
    assert doc.params == {"temperature": 0.7}


@pytest.mark.parametrize("text, fmt, where", [
    ("FROM x\nPARAMETER num_predict [1,2]\n", None, "Line 2: PARAMETER num_predict needs a whole number"),
    ('{"messages":[{"role":"system","content":"x"}],"temperature": NaN, "max_tokens": 1e308}',
     None, "temperature must be a number, 0 or more"),
    ('{"messages":[{"role":"system","content":"x"}], "max_tokens": 1e308}', None,
     "max_tokens must be a whole number from 1 to 1,000,000; not 1e+308"),
    ('{"messages":[{"role":"system","content":"x"}], "temperature": Infinity}', None, "temperature"),
    ('{"messages": [], "stop": 5}', None, "stop must be a list of non-empty strings"),
    ('{"system": [{"text": 5}], "messages": []}', None, "system[0] must be a text block"),
    ('{"operation": []}', None, "operation.fields"),
])
def test_the_issues_malformed_values_are_refused_naming_the_field(text, fmt, where):
    refused(text, fmt, where)


def test_a_backslash_in_a_modelfile_is_kept_as_written():
    doc = fits(import_text('FROM x\nSYSTEM "bad \\q escape"\n'))
    assert doc.sections[0].text == "bad \\q escape"
    # Ollama's parser has no escapes at all: \n stays a backslash and an n.
    doc = fits(import_text('FROM x\nSYSTEM "C:\\new\\table \\"\nPARAMETER stop "a\\nb"\n'))
    assert doc.sections[0].text == "C:\\new\\table \\" and doc.params["stop"] == ["a\\nb"]


DEEP = 100_000


@pytest.mark.parametrize("fmt, text", [
    ("openai", '{"messages": ' + "[" * DEEP + "]" * DEEP + "}"),
    ("openai", '{"messages": [], "x": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"),
    ("openai", '{"messages": [], "x": ' + "[" * 200 + "]" * 200 + "}"),  # within json's own limit
    ("llm", "system: x\nprompt: " + "[" * DEEP + "]" * DEEP),
    ("llm", "system: x\noptions: " + "[" * 100 + "]" * 100),  # within libyaml's own limit
    ("llm", "system: x\nprompt:\n" + "".join(" " * i + "- \n" for i in range(200))),
    ("markdown", "# Prompt: x\n## Parameters\n~~~~\n" + "[" * DEEP + "]" * DEEP + "\n~~~~\n"),
])
def test_deep_nesting_fails_fast_with_an_import_error(fmt, text):
    started = time.perf_counter()
    with pytest.raises(ImportFormatError, match="nest"):
        import_text(text, fmt)
    assert time.perf_counter() - started < FAST_S


BILLION_LAUGHS = "system: lol\nprompt: x\n" + "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" \
    + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10)) \
    + "options: *a9\n"


def test_a_yaml_billion_laughs_fails_fast_with_an_import_error():
    started = time.perf_counter()
    refused(BILLION_LAUGHS, "llm", "Line 4: YAML aliases (*a0) are not imported")
    with pytest.raises(ImportFormatError, match="aliases"):
        import_text(BILLION_LAUGHS, None, "laughs.yaml")  # the format guessed from the name
    assert time.perf_counter() - started < FAST_S


def test_the_cli_refuses_hostile_files_writes_nothing_and_shows_no_traceback(tmp_path, workbench_home):
    run_cli("prompt", "list")  # the default document
    files = {"laughs.yaml": (BILLION_LAUGHS, "Line 4: YAML aliases"),
             "deep.json": ('{"messages": ' + "[" * DEEP + "]" * DEEP + "}", "nested more than 64"),
             "nan.json": ('{"messages": [], "temperature": NaN}', "temperature must be a number"),
             "list.Modelfile": ("FROM x\nPARAMETER num_predict [1,2]\n", "Line 2: PARAMETER num_predict")}
    for name, (text, says) in files.items():
        (tmp_path / name).write_text(text)
        proc = run_cli("import", str(tmp_path / name), check=False)
        assert proc.returncode == 1 and says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(Workspace.open(workbench_home / "workbench.db").prompts.documents()) == 1


# -- size --------------------------------------------------------------------------


def test_files_over_the_size_limit_are_refused_before_parsing(tmp_path):
    big = '{"messages": [{"role": "system", "content": "' + "x" * MAX_IMPORT_BYTES + '"}]}'
    started = time.perf_counter()
    refused(big, None, "larger than 5 MB")
    refused("é" * (MAX_IMPORT_BYTES // 2 + 1), "markdown", "larger than 5 MB")  # bytes, not chars
    assert time.perf_counter() - started < FAST_S
    path = tmp_path / "huge.json"
    path.write_text(big)
    with pytest.raises(ImportFormatError, match="huge.json is 5 MB, larger than 5 MB"):
        read_import_file(path)
    fits(import_text('{"messages": [{"role": "system", "content": "' + "x" * (4 * 2**20) + '"}]}'))


def test_megabytes_of_blank_lines_do_not_stall_format_detection():
    started = time.perf_counter()
    refused("\n" * 4_000_000 + "x", None, "Not a format I know")
    refused("FROM x\n" + "\n" * 4_000_000 + 'SYSTEM """never closed\n' + "line\n" * 100_000,
            None, "Line 4000002: the quote opened here is never closed")
    assert time.perf_counter() - started < FAST_S * 2


# -- per format: malformed files refused, unusual values converted ------------------------

REFUSED = [
    # OpenAI JSON
    ("openai", "[1, 2]", "Expected a JSON object"),
    ("openai", '{"messages": {"role": "user"}}', "messages must be a list"),
    ("openai", '{"messages": [{"role": "user", "content": [{"type": "text"}]}]}', "messages[0]"),
    ("openai", '{"messages": [{"role": ["x"], "content": "a"}]}', "messages[0].role"),
    ("openai", '{"messages": [], "seed": ' + "9" * 5000 + "}", "more than 4,300 digits"),
    ("openai", '{"messages": [], "seed": 1.5}', "seed must be a whole number"),
    ("openai", '{"messages": [], "seed": "42"}', "seed must be a whole number"),
    ("openai", '{"messages": [], "temperature": true}', "temperature must be a number"),
    ("openai", '{"messages": [], "top_p": 0}', "top_p must be a number above 0"),
    ("openai", '{"messages": [], "max_completion_tokens": -1}', "max_completion_tokens must be"),
    ("openai", '{"messages": [], "stop": ["ok", 3]}', "stop must be a list"),
    ("openai", '{"messages": [], "stop": {"a": 1}}', "stop must be a list"),
    ("openai", '{"messages": [], "top_k": 1e400}', "top_k must be a whole number"),
    # Anthropic
    ("anthropic", '{"system": ["text"], "messages": []}', "system[0] must be a text block"),
    ("anthropic", '{"system": {"text": "a"}, "messages": []}', "system must be text"),
    ("anthropic", '{"system": "s", "messages": [], "stop_sequences": [1]}', "stop_sequences must be"),
    ("anthropic", '{"system": "s", "messages": [], "top_k": -1}', "top_k must be a whole number from 0"),
    ("anthropic", '{"system": "s", "messages": "hi"}', "messages must be a list"),
    # Ollama Modelfile
    ("ollama", 'FROM x\nSYSTEM "never closed\n', "Line 2: the quote opened here is never closed"),
    ("ollama", 'FROM x\nSYSTEM """a""" and more\n', "Line 2: the quote opened here"),
    ("ollama", "FROM x\nSYSTEM\n", "Line 2: SYSTEM needs a value"),
    ("ollama", "FROM x\nPARAMETER temperature\n", "Line 2: PARAMETER needs a name and a value"),
    ("ollama", "FROM x\nPARAMETER top_k 4.5\n", "Line 2: PARAMETER top_k needs a whole number"),
    ("ollama", "FROM x\nPARAMETER top_k 99999999999\n", "Line 2: PARAMETER top_k must be"),
    ("ollama", "FROM x\nPARAMETER temperature nan\n", "Line 2: PARAMETER temperature must be"),
    ("ollama", "FROM x\nPARAMETER num_predict 0\n", "Line 2: PARAMETER num_predict must be"),
    ("ollama", "FROM x\nMESSAGE wizard hi\n", "Line 2: MESSAGE role must be"),
    ("ollama", "FROM x\nMESSAGE user\n", "Line 2: MESSAGE needs a role and a value"),
    ("ollama", "FROM x\n{json: 1}\n", "Line 2: not a Modelfile instruction"),
    ("ollama", "# only a comment\n", "needs a FROM line"),
    # llm YAML
    ("llm", "system: &s hi\nprompt: *s\n", "Line 2: YAML aliases (*s)"),
    ("llm", "system: x\noptions:\n  <<: *missing\n", "Line 3: YAML aliases (*missing)"),
    ("llm", "system: !!python/object:os.system echo\n", "Not valid YAML"),
    ("llm", "system: x\noptions:\n  temperature: 2001-13-45\n", "Not valid YAML"),
    ("llm", "system: x\noptions:\n  temperature: 2001-01-01\n", "options.temperature must be a number"),
    ("llm", "system: x\noptions:\n  seed: " + "9" * 5000 + "\n", "more than 4,300 digits"),
    ("llm", "system: x\noptions: [1, 2]\n", "options must be a mapping"),
    ("llm", "system: [a, b]\n", "system must be text"),
    ("llm", "system: x\noptions:\n  max_tokens: .inf\n", "options.max_tokens must be"),
    ("llm", "- a\n- b\n", "needs a 'system' or 'prompt' key"),
    ("llm", "system: x\n---\nsystem: y\n", "Not valid YAML"),
    ("llm", "system: 'unclosed\n", "line 1"),
    # LM Studio
    ("lmstudio", '{"operation": {"fields": "x"}}', "operation.fields"),
    ("lmstudio", '{"operation": {"fields": [{"value": 1}]}}', "operation.fields[0] must have a 'key'"),
    ("lmstudio", '{"operation": {"fields": [{"key": ["x"]}]}}', "operation.fields[0] must have a 'key'"),
    ("lmstudio", '{"operation": {"fields": [{"key": "llm.prediction.maxPredictedTokens", '
     '"value": {"checked": true, "value": 0}}]}}', "operation.fields[0].value (maxPredictedTokens)"),
    ("lmstudio", '{"operation": {"fields": [{"key": "llm.prediction.temperature", "value": "hot"}]}}',
     "operation.fields[0].value (temperature) must be a number"),
    ("lmstudio", '{"operation": {"fields": [{"key": "llm.prediction.stopStrings", "value": 3}]}}',
     "operation.fields[0].value (stopStrings)"),
    # our Markdown
    ("markdown", "# Prompt: x\n## Parameters\n~~~~\n{\"temperature\": NaN}\n~~~~\n",
     "Line 2: Parameters.temperature must be"),
    ("markdown", "# Prompt: x\n## Parameters\n~~~~\n[1]\n~~~~\n", "Line 2: Parameters must be a JSON object"),
    ("markdown", "# Prompt: x\n## Variables\n~~~~\n{\"a\": 5}\n~~~~\n", "Variables['a'] must be text"),
    ("markdown", "# Prompt: x\n## Variables\n~~~~\n{\"a\": \n~~~~\n",
     "Line 2: Variables is not valid JSON: line 4"),
    ("markdown", "# Prompt: x\n## Wizardry\n~~~~\nhi\n~~~~\n", "Line 2: unknown heading"),
    ("markdown", "# Prompt: x\n## Assistant\n~~~~\nhi\n~~~~\n", "Line 2: an Assistant block with no User"),
    ("markdown", "# Prompt: x\n", "No sections or examples found"),
]


@pytest.mark.parametrize("fmt, text, where", REFUSED)
def test_malformed_files_are_refused_naming_the_place(fmt, text, where):
    refused(text, fmt, where)


CONVERTED = [  # (format, file, the params it gives, a word the notes must have or None)
    ("openai", '{"messages": [], "temperature": null, "seed": null, "stop": null}', {}, None),
    ("openai", '{"messages": [], "stop": "###"}', {"stop": ["###"]}, None),
    ("openai", '{"messages": [], "stop": ["", "###"]}', {"stop": ["###"]}, "empty stop"),
    ("openai", '{"messages": [], "seed": -1}', {}, None),
    ("openai", '{"messages": [], "seed": -5}', {}, "random"),
    ("openai", '{"messages": [], "seed": 2e40, "max_tokens": 64.0}', {
        "seed": int(2e40) % (MAX_SEED + 1), "max_tokens": 64}, "seed"),
    ("openai", '{"messages": [], "max_completion_tokens": 99}', {"max_tokens": 99}, None),
    ("openai", '{"messages": [], "max_completion_tokens": 99, "max_tokens": 5}', {"max_tokens": 5}, None),
    ("openai", '{"model": "a\\nb", "messages": []}', {}, None),
    ("anthropic", '{"system": [{"type": "text", "text": "a"}, {"text": "b"}], "messages": [],'
     ' "stop_sequences": "END"}', {"stop": ["END"]}, None),
    ("anthropic", '{"system": null, "messages": [{"role": "user", "content": "q"}]}', {}, None),
    ("ollama", "FROM x\nPARAMETER seed -1\nPARAMETER num_predict -1\n", {}, "no limit"),
    ("ollama", "FROM x\nPARAMETER seed 99999999999999\n", {"seed": 99999999999999 % (MAX_SEED + 1)}, "seed"),
    ("ollama", "from x\r\nparameter top_k\t\t7\r\nSYSTEM \"\"\"two\r\nlines\"\"\"\r\n", {"top_k": 7}, None),
    ("ollama", 'FROM x\nPARAMETER stop ""\n', {"stop": []}, "empty stop"),
    ("ollama", "FROM x\nDRAFT y\nREQUIRES 0.9\nRENDERER r\nPARSER p\nPARAMETER num_ctx 4096\n", {}, None),
    ("ollama", 'FROM x\nTEMPLATE """{{ .Prompt }}"""\nPARAMETER stop "a b"\nPARAMETER stop </s>\n',
     {"stop": ["a b", "</s>"]}, "TEMPLATE"),
    ("llm", "system: x\noptions:\n  temperature: '0.7'\n", None, None),  # refused: text, see below
    ("llm", "prompt: $input\noptions:\n  seed: -1\n  top_p: null\n", {}, None),
    ("llm", "system: &anchor x\n", {}, None),  # an anchor alone is harmless
    ("lmstudio", '{"name": 5, "operation": {"fields": [{"key": "llm.prediction.maxPredictedTokens", '
     '"value": {"checked": false, "value": -1}}, {"key": "llm.prediction.topKSampling", "value": 5},'
     ' {"key": "llm.other", "value": [1]}]}}', {"top_k": 5}, None),
    ("markdown", "# Prompt: x\n## Section: role\n~~~~\nHi.\n~~~~\n## Parameters\n~~~~\n"
     "{\"seed\": 2e40, \"typical_p\": 1}\n~~~~\n",
     {"seed": int(2e40) % (MAX_SEED + 1)}, "seed"),
]


@pytest.mark.parametrize("fmt, text, params, note", CONVERTED)
def test_unusual_values_are_converted_with_a_note(fmt, text, params, note):
    if params is None:  # a number as text is not a number outside Ollama's own files
        refused(text, fmt, "options.temperature must be a number")
        return
    doc = fits(import_text(text, fmt))
    assert doc.params == params
    if note:
        assert any(note in n for n in doc.notes), doc.notes
    assert "\n" not in doc.name


# -- a property: whatever the file, an ImportFormatError or a valid document ----------------


def sample_exports() -> dict[str, str]:
    doc = PromptDocument(name="Support bot", sections=[Section("role", "You help."),
                                                       Section("tools", "none", enabled=False)],
                         examples=[Example("Hi?", "Hello.")], variables={"city": "Rome"},
                         params={"temperature": 0.3, "top_k": 20, "seed": 4, "stop": ["###"]})
    c = compose(doc, [], pinned=[], count_tokens=words, n_ctx=4096)
    x = ExportInput(document=doc, system=c.system_prompt, messages=c.messages,
                    params=SamplingParams(**doc.params))
    return {fmt: export(fmt, x).text for fmt in IMPORTERS}


SAMPLES = sample_exports()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
    | st.sampled_from([2**32, 10**20, -1, 0, 1e308, "0.7", "", "\n"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5)


def import_or_refuse(text: str, fmt: str | None) -> None:
    try:
        doc = import_text(text, fmt)
    except WorkbenchError:
        return
    fits(doc)


def paths(data, prefix=()):
    """Every place in JSON data, as a tuple of keys and indexes."""
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from paths(v, prefix + (i,))


def replaced(data, path, value):
    if not path:
        return value
    data[path[0]] = replaced(data[path[0]], path[1:], value)
    return data


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["openai", "anthropic", "lmstudio"]), st.integers(0, 10**6), JSON_VALUES,
       st.booleans())
def test_json_files_with_any_value_anywhere(fmt, where, value, detect):
    data = json.loads(SAMPLES[fmt])
    spots = list(paths(data))
    data = replaced(data, spots[where % len(spots)], value)
    import_or_refuse(json.dumps(data), None if detect else fmt)


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(IMPORTERS)), st.randoms(use_true_random=False),
       st.lists(st.text(max_size=6) | st.sampled_from(['"', '"""', "\\", "\n", "[", "{", "*a", "&a ",
                                                       "~~~~", "#", "NaN", "1e999", "-1", ":"]),
                min_size=1, max_size=6), st.booleans())
def test_any_format_with_its_text_cut_and_spliced(fmt, rnd: random.Random, pieces, detect):
    text = SAMPLES[fmt]
    for piece in pieces:  # insert, replace or delete at random places
        i = rnd.randrange(len(text) + 1)
        j = min(len(text), i + rnd.choice([0, 0, 1, 5, 40]))
        text = text[:i] + piece + text[j:]
    import_or_refuse(text, None if detect else fmt)


@settings(max_examples=200, deadline=2000)
@given(st.text(max_size=200), st.sampled_from([None, *sorted(IMPORTERS)]))
def test_any_text_at_all(text, fmt):
    import_or_refuse(text, fmt)
