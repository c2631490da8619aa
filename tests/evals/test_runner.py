"""The evaluation matrix on a stand-in engine: order, repeats, regressions, cancelling, storing."""

import re

import pytest

from tests.fakes import FakeEngine
from workbench.errors import WorkbenchError
from workbench.evals import runner
from workbench.evals.checks import make_check
from workbench.evals.results import EvalStore
from workbench.evals.tasks import Task
from workbench.prompt.document import Example
from workbench.runtime.params import RunStats

CASES = [Task(q, [make_check("contains", "km")]) for q in
         ("How far is Rome from Milan?", "How far is Oslo from Bergen?", "How far is Lyon from Nice?")]


class Rulebook(FakeEngine):
    """Answers in km when an earlier turn shows a km answer, in miles otherwise; the question
    about Lyon is answered in km always (so one case passes in every column)."""

    def stream_chat(self, messages, params=None, json_schema=None):
        self.calls.append((messages, params))
        shown = any("km" in m["content"] for m in messages[:-1] if m["role"] == "assistant")
        text = "About 300 km." if shown or "Lyon" in messages[-1]["content"] else "About 200 miles."
        yield text
        yield RunStats(prompt_tokens=10, reused_tokens=6, completion_tokens=3, total_s=0.01)


def two_versions(ws):
    """v1 without a demonstration, v2 (and the draft) with one."""
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    ws.prompts.save_version(doc_id, doc)
    doc.examples.append(Example("How far is Paris from Berlin?", "About 880 km."))
    ws.prompts.save_version(doc_id, doc)
    return doc_id


def run(ws, engine, spec="1,2", repeats=1, **kw):
    doc_id = two_versions(ws)
    p = runner.plan(ws, runner.variants_for(ws, doc_id, spec), [engine.info], CASES, repeats=repeats,
                    seed=7, document_id=doc_id, set_name="distances")
    return runner.execute(p, lambda _path: engine, **kw)


def test_columns_run_one_after_the_other_with_seeded_repeats(ws):
    engine = Rulebook()
    result = run(ws, engine, repeats=2)
    shown = ["About 880 km." in str(messages) for messages, _ in engine.calls]
    # Every call of the first column before any of the second: its prefix stays cached.
    assert shown == [False] * 6 + [True] * 6
    assert [p.seed for _, p in engine.calls[:2]] == [7, 8]
    stats = [result.column_stats(j) for j in (0, 1)]
    assert [(s["label"], s["passed"], s["total"], s["cases_passed"]) for s in stats] == [
        ("v1", 2, 6, 1), ("v2", 6, 6, 3)]
    assert stats[0]["interval"] is not None and stats[0]["interval"][0] < 2 / 6 < stats[0]["interval"][1]
    assert result.reuse_share() == pytest.approx(0.6)


def test_regressions_and_fixes_against_a_baseline(ws):
    result = run(ws, Rulebook(), spec="2,1")
    data = result.to_data(baseline=0)
    assert [(r["column"], r["case"]) for r in data["regressions"]] == [("v1", 0), ("v1", 1)]
    assert data["fixes"] == []
    flipped = result.to_data(baseline=1)
    assert [(r["column"], r["case"]) for r in flipped["fixes"]] == [("v2", 0), ("v2", 1)]
    assert flipped["regressions"] == []
    case = data["cases"][0]
    assert case["query"] == CASES[0].query and [r["passed"] for r in case["results"]] == [True, False]
    assert case["results"][1]["checks"][0]["reason"] == "does not contain “km”"


def test_cancelling_stops_at_once_and_keeps_what_finished(ws):
    seen = []
    result = run(ws, Rulebook(), repeats=3, progress=seen.append, cancelled=lambda: len(seen) >= 4)
    assert result.status == "cancelled"
    assert sum(c.n for col in result.cells for c in col) == 4
    assert seen[-1]["done"] == 4 and seen[-1]["total"] == 18 and seen[-1]["eta_s"] >= 0


def test_runs_are_stored_with_their_versions_and_listed_per_version(ws):
    store = EvalStore(ws.db)
    first = run(ws, Rulebook())
    store.save(first)
    second = runner.execute(first.plan, lambda _p: Rulebook())
    store.save(second)
    history = store.history(first.plan.document_id)
    assert list(history) == ["v1", "v2"]
    assert [(h["run_id"], h["passed"], h["total"]) for h in history["v2"]] == [
        (first.run_id, 3, 3), (second.run_id, 3, 3)]
    loaded = store.load(first.run_id)
    assert loaded.to_data()["columns"][0]["passed"] == first.to_data()["columns"][0]["passed"]
    assert loaded.cells[1][0].prompt == first.cells[1][0].prompt and "About 880 km." in loaded.cells[1][0].prompt
    assert loaded.plan.cases == CASES
    assert [r["id"] for r in store.runs(first.plan.document_id)] == [second.run_id, first.run_id]


def test_case_variables_fill_the_document_and_the_query(ws):
    engine = Rulebook()
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    doc.set_section("role", "You answer questions about {{region}}.")
    case = Task("How far is {{a}} from {{b}}?", [make_check("contains", "km")], vars={
        "region": "Norway", "a": "Oslo", "b": "Bergen"})
    p = runner.plan(ws, [runner.Variant("draft", doc)], [engine.info], [case])
    runner.execute(p, lambda _p: engine)
    messages = engine.calls[0][0]
    assert "about Norway." in messages[0]["content"]
    assert messages[-1]["content"] == "How far is Oslo from Bergen?"


def test_built_in_variables_fill_the_query_as_they_fill_the_prompt(ws):
    engine = Rulebook()
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    doc.set_section("role", "Today is {{date}}.")
    case = Task("Which day is {{date}}, and who is {{model}}?", [make_check("contains", "day")])
    runner.execute(runner.plan(ws, [runner.Variant("draft", doc)], [engine.info], [case]),
                   lambda _p: engine)
    system, question = engine.calls[0][0][0]["content"], engine.calls[0][0][-1]["content"]
    today = system.split("Today is ", 1)[1][:10]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", today)  # the same date in both, never "{{date}}"
    assert question == f"Which day is {today}, and who is {engine.info.name}?"


def test_bad_plans_are_refused_with_a_message(ws):
    doc_id = ws.prompts.active_id()
    with pytest.raises(WorkbenchError, match="no version 9"):
        runner.variants_for(ws, doc_id, "9")
    with pytest.raises(WorkbenchError, match="--versions"):
        runner.variants_for(ws, doc_id, "latest")
    variants = runner.variants_for(ws, doc_id, "draft")
    with pytest.raises(WorkbenchError, match="no cases"):
        runner.plan(ws, variants, [FakeEngine().info], [])
    with pytest.raises(WorkbenchError, match="repeat"):
        runner.plan(ws, variants, [FakeEngine().info], CASES, repeats=0)


def test_wilson_interval():
    low, high = runner.wilson(18, 24)
    assert 0.55 < low < 0.56 and 0.88 < high < 0.89
    assert runner.wilson(0, 0) == (0.0, 1.0)
    assert runner.wilson(5, 5)[1] == 1.0
