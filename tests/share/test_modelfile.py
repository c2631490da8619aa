"""Modelfiles by the rules of Ollama's parser (parser/parser.go, read with the search tools):
quotes are stripped, never unescaped; a quoted value ends at the first line break where the text
so far, trimmed, ends with its quote; unprintable characters are dropped; `#` is a comment only
at a line's start. The expected values below follow those rules, not our writer."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.share.test_exporters import make_input
from workbench.errors import ImportFormatError
from workbench.share import modelfile
from workbench.share.exporters import export
from workbench.share.importers import import_text


def values(text: str) -> list[tuple[str, str | None, str]]:
    return [(c, w, v) for _, c, w, v in modelfile.commands(text)]


@pytest.mark.parametrize("line, value", [
    ('PARAMETER stop "\\nUser:"', "\\nUser:"),  # no escapes: a backslash and an n
    ('PARAMETER stop """\nUser:"""', "\nUser:"),  # a real line break needs the quote to span it
    ('PARAMETER stop "a\nb"', "a\nb"),  # a single quote spans lines too
    ('PARAMETER stop   spaced value  ', "spaced value"),  # unquoted: trimmed
    ('PARAMETER stop "  kept  "', "  kept  "),  # quoted: exact
    ('PARAMETER stop """say "hi\""""', 'say "hi"'),
    ('PARAMETER stop """a""" b"""', 'a""" b'),  # a quote mid-line does not close it
    ('PARAMETER stop """"""', ""),
    ('PARAMETER stop """"""""', '""'),
    ('PARAMETER stop "\'"', "'"),
    ("PARAMETER stop # not a comment", "# not a comment"),
    ("PARAMETER stop a\x01b\x7fc", "abc"),  # unprintable characters are dropped
    ("PARAMETER stop tab\there", "tab\there"),
    ('PARAMETER stop """x\r\ny"""', "x\r\ny"),
    ('PARAMETER\tstop\t"""closed"""   ', "closed"),  # white space after the quote is trimmed
])
def test_values_are_read_as_ollamas_parser_reads_them(line, value):
    assert values(f"FROM m\n{line}\n") == [("FROM", None, "m"), ("PARAMETER", "stop", value)]


@pytest.mark.parametrize("text, where", [
    ('FROM m\nSYSTEM """never closed""\n', "Line 2: the quote opened here is never closed"),
    ('FROM m\nSYSTEM "\n', "Line 2: the quote opened here"),
    ('FROM m\nSYSTEM """first"""\nsecond"""\n', "Line 3: not a Modelfile instruction"),
    ("FROM m\nSYSTEMS hi\n", "Line 2: not a Modelfile instruction"),
])
def test_what_ollama_refuses_is_refused_with_the_line(text, where):
    with pytest.raises(ImportFormatError, match=where):
        list(modelfile.commands(text))


STOPS = ["\nUser:", 'say "hi"', '"', '"""', 'a"""b', " lead", "trail ", "back\\nslash", "\t",
         "#hash", "ends with quote\"", "\n\n", "multi\nline \"quoted\"\nend"]


def test_stop_strings_with_line_breaks_and_quotes_come_out_exact():
    x = make_input()
    x.params.stop = list(STOPS)
    out = export("ollama", x)
    read = [v for c, w, v in values(out.text) if c == "PARAMETER" and w == "stop"]
    assert read == STOPS
    assert not [w for w in out.warnings if "Stop string" in w]
    assert import_text(out.text, "ollama").params["stop"] == STOPS
    assert 'PARAMETER stop """\nUser:"""' in out.text and 'PARAMETER stop "\\nUser:"' not in out.text


def test_a_line_ending_in_three_quotes_is_the_one_thing_a_modelfile_cannot_say():
    quoted, problem = modelfile.quote('He said """\nthen left')
    assert problem and "moved" in problem
    assert values(f"FROM m\nSYSTEM {quoted}\n")[1][2] == 'He said "" "\nthen left'


def test_texts_of_every_shape_survive_the_writer_and_the_parser():
    for text in ["plain", "", " ", "\\", '\\"', "{{ .System }}", "é ✓ 日本", "line\r\nbreak",
                 '"""', '""""', "x" * 5000, "a\n\n\nb", '"quoted"', 'x"""\n"""y']:
        quoted, problem = modelfile.quote(text)
        got = values(f"FROM m\nSYSTEM {quoted}\nPARAMETER seed 1\n")
        assert got[2] == ("PARAMETER", "seed", "1"), text  # nothing swallowed after it
        if problem is None:
            assert got[1][2] == text, repr(text)


def test_the_export_asks_no_fixed_question_and_names_a_file_to_load():
    x = make_input(model_file="")
    x.messages = x.messages + [{"role": "user", "content": "How far is Rome?"}]
    out = export("ollama", x)
    assert "How far is Rome?" not in out.text
    assert any("last question" in w for w in out.warnings)
    assert "FROM ./model.gguf" in out.text and "local-model" not in out.text
    assert any("./model.gguf" in w for w in out.warnings)
    # the examples stay as MESSAGE history
    assert [v for c, w, v in values(out.text) if c == "MESSAGE"][0] == "Where is my order?"


def test_a_modelfile_from_ollamas_documentation_imports_with_warnings():
    text = ('FROM llama3.2\n# sets the temperature\nPARAMETER temperature 1\nPARAMETER num_ctx 4096\n'
            'PARAMETER repeat_last_n 64\nPARAMETER mirostat 0\nTEMPLATE """{{ if .System }}<|start|>'
            '{{ .System }}{{ end }}"""\nSYSTEM You are Mario from Super Mario Bros.\n'
            'ADAPTER ./ollama-lora.gguf\nLICENSE """MIT\n"""\nRENDERER qwen3-coder\nPARSER qwen3-coder\n'
            'REQUIRES 0.14.0\nMESSAGE system Stay in character.\nMESSAGE user Is Toronto in Canada?\n'
            'MESSAGE assistant yes\nMESSAGE user Is Sacramento in Canada?\n')
    doc = import_text(text)
    notes = " ".join(doc.notes)
    assert doc.sections[0].text == "You are Mario from Super Mario Bros.\n\nStay in character."
    assert doc.params == {"temperature": 1.0}
    for word in ("TEMPLATE", "num_ctx", "repeat_last_n", "mirostat", "ADAPTER", "LICENSE",
                 "RENDERER", "PARSER", "REQUIRES", "MESSAGE system", "Is Sacramento"):
        assert word in notes, word
    assert [(e.user, e.assistant) for e in doc.examples] == [("Is Toronto in Canada?", "yes")]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('a "\\\n\r\t#{}\x01é'), max_size=40))
def test_any_text_is_read_back_exactly_or_the_change_is_named(text):
    quoted, problem = modelfile.quote(text)
    (_, (_, _, got), (_, _, after)) = values(f"FROM m\nSYSTEM {quoted}\nPARAMETER seed 1\n")
    assert after == "1"
    if problem is None:
        assert got == text
    else:
        assert "\x01" in text or '"""' in text
