"""The window comes up whatever the active document holds: the imports that used to kill it at
start (OverflowError in the sampling panel), and the same values stored by an older version,
are clamped into the panel's ranges, with a notice. No model is loaded."""

import json
import math
import sqlite3

import pytest

from tests.conftest import run_cli
from workbench.app import build, shutdown
from workbench.db import data_home
from workbench.prompt.document import PromptDocument
from workbench.runtime.params import MAX_SEED, NUMBER_RULES, check_params
from workbench.ui.sampling_panel import SamplingPanel, parse_stops, stops_text
from workbench.workspace import Workspace

HOSTILE = {"seed": 1234567890123, "temperature": math.nan, "max_tokens": 1e308, "top_k": 2**40,
           "top_p": "0.9", "stop": 5, "min_p": [1, 2], "repeat_penalty": -3}


@pytest.fixture
def open_window(qtbot):
    opened = []

    def _open():
        window, thread = build(load_model=False)
        qtbot.addWidget(window)
        window.show()
        opened.append((window, thread))
        return window

    yield _open
    for window, thread in opened:
        shutdown(window, thread)


def test_an_imported_64_bit_seed_no_longer_stops_the_window(open_window, tmp_path):
    f = tmp_path / "gpt.json"
    f.write_text('{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."}],'
                 '"seed":1234567890123}')
    proc = run_cli("import", str(f))
    assert "Traceback" not in proc.stderr
    w = open_window()
    assert w.prompt.editor.toPlainText() == "Be brief."
    assert w.sampling.seed.value() == 1234567890123 % (MAX_SEED + 1) == w.sampling.params().seed


def test_a_quoted_modelfile_temperature_shows_as_a_number(open_window, tmp_path):
    f = tmp_path / "Modelfile"
    f.write_text('FROM llama3\nSYSTEM "You are terse."\nPARAMETER temperature "0.7"\n'
                 "PARAMETER top_k 7\n")
    run_cli("import", str(f))
    w = open_window()
    assert (w.sampling.temperature.value(), w.sampling.top_k.value()) == (0.7, 7)


@pytest.mark.parametrize("name, text", [
    ("list.Modelfile", "FROM x\nSYSTEM hi\nPARAMETER num_predict [1,2]\n"),
    ("nan.json", '{"messages":[{"role":"system","content":"x"}],"temperature": NaN, '
     '"max_tokens": 1e308}'),
])
def test_refused_imports_leave_the_window_on_the_document_it_had(open_window, tmp_path, name, text):
    run_cli("prompt", "set-section", "role", "You are the old prompt.")
    f = tmp_path / name
    f.write_text(text)
    proc = run_cli("import", str(f), check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    w = open_window()
    assert "You are the old prompt." in w.prompt.editor.toPlainText()
    # And the same file through the window's own import: a message, nothing else changes.
    w.sharing.import_file(str(f))
    assert not w.banner.isHidden() and "was not imported" in w.banner.text()
    assert "You are the old prompt." in w.prompt.editor.toPlainText()


def store_hostile_document(how: str) -> int:
    """The values the issue lists, stored as an older version of the app stored them."""
    ws = Workspace.open()
    doc = PromptDocument.default("From an older version")
    doc.set_section("role", "You are kept.")
    doc_id = ws.prompts.create(doc)
    ws.prompts.set_active(doc_id)
    data = json.dumps(doc.to_data() | {"params": HOSTILE})  # NaN written as NaN
    con = sqlite3.connect(data_home() / "workbench.db")
    with con:
        if how in ("draft", "both"):
            con.execute("update documents set draft = ? where id = ?", [data, doc_id])
        if how in ("versions", "both"):
            con.execute("update versions set content = ? where document_id = ?", [data, doc_id])
    con.close()
    return doc_id


@pytest.mark.parametrize("how", ["draft", "both"])
def test_stored_bad_values_are_clamped_and_noticed(open_window, how):
    doc_id = store_hostile_document(how)
    w = open_window()
    assert w.session.document_id == doc_id and "You are kept." in w.prompt.editor.toPlainText()
    s = w.sampling
    assert s.seed.value() == 1234567890123 % (MAX_SEED + 1)
    assert s.temperature.value() == 0.7  # NaN: the default
    assert s.max_tokens.value() == 1_000_000 == s.max_tokens.maximum()
    assert s.top_k.value() == 2**31 - 1 and s.top_p.value() == 0.9
    assert parse_stops(s.stop.text()) == [] and s.min_p.value() == 0.05
    assert check_params(s.params().to_dict())
    # The notice: what loading repaired, for the window to show (session.document.notes).
    notes = w.session.document.notes
    assert all(any(name in n for n in notes) for name in HOSTILE), notes
    # Saving keeps the repaired values, so the next start is clean.
    w.save_version()
    assert Workspace.open().prompts.load_draft(doc_id).notes == []


def test_restoring_an_old_version_with_bad_values_restores_repaired_ones(open_window):
    doc_id = store_hostile_document("versions")
    ws = Workspace.open()
    doc = ws.prompts.load_draft(doc_id)
    doc.params = {"temperature": 0.2}
    ws.prompts.save_version(doc_id, doc)
    ws.prompts.restore(doc_id, 1)
    w = open_window()
    assert w.sampling.seed.value() == 1234567890123 % (MAX_SEED + 1)
    assert w.sampling.temperature.value() == 0.7 and w.session.document.notes == []


# -- the panel on its own ------------------------------------------------------------


def test_the_spin_boxes_ranges_are_the_schemas(qtbot):
    panel = SamplingPanel()
    qtbot.addWidget(panel)
    for name, rule in NUMBER_RULES.items():
        box = getattr(panel, name)
        low = rule.lo + 10 ** -box.decimals() if rule.lo_open else rule.lo
        assert (box.maximum(), box.minimum()) == (rule.hi, -1 if name == "seed" else low), name


@pytest.mark.parametrize("saved", [
    HOSTILE, {"seed": 2**200, "top_k": -(10**400), "max_tokens": math.inf, "temperature": -math.inf},
    {"seed": "many", "stop": [["x"], None, "ok"], "top_p": 1e-12}, {"x": object()}, {}, None,
    "params", [1, 2], {"seed": MAX_SEED, "top_k": 2**31 - 1, "max_tokens": 1_000_000,
                       "temperature": 100, "repeat_penalty": 100},
])
def test_set_params_never_raises_and_says_what_it_changed(qtbot, saved):
    panel = SamplingPanel()
    qtbot.addWidget(panel)
    notes = panel.set_params(saved)
    assert check_params(panel.params().to_dict())
    assert panel.notice.isHidden() == (not notes)
    if notes:
        assert all(n in panel.notice.text() for n in notes)


def test_stop_strings_with_newlines_and_commas_survive_the_one_line_field(qtbot):
    panel = SamplingPanel()
    qtbot.addWidget(panel)
    stops = ["\nUser:", "a, b", "C:\\dir", "\t###"]
    panel.set_params({"stop": stops})
    assert panel.params().stop == stops
    assert parse_stops(stops_text(stops)) == stops and parse_stops("###, END") == ["###", "END"]
    assert parse_stops("\\q, ,") == ["\\q"]  # a backslash before anything else is kept
