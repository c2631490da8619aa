"""The evaluation runner with the real chat model: the judge check's grade and reason are stored."""

from workbench.evals import runner
from workbench.evals.checks import make_check
from workbench.evals.results import EvalStore
from workbench.evals.tasks import Task


def test_a_judge_grades_with_a_reason_and_both_are_stored(ws, chat_engine):
    case = Task("How far is it from Rome to Milan?",
                [make_check("contains", "km"), make_check("judge", "The answer states a distance.")])
    doc_id = ws.prompts.active_id()
    variants = runner.variants_for(ws, doc_id, "draft")
    p = runner.plan(ws, variants, [chat_engine.info.path], [case], mode="chat",
                    overrides={"temperature": 0, "max_tokens": 40, "repeat_penalty": 1.0}, document_id=doc_id)
    result = runner.execute(p, lambda _path: chat_engine)
    (attempt,) = result.cells[0][0].attempts
    contains, judged = attempt.verdicts
    assert contains.kind == "contains" and judged.kind == "judge"
    # The grammar holds the 135M judge to {"pass", "reason"}: a grade and a reason of its own.
    assert judged.reason.startswith("judge: ") and len(judged.reason) > len("judge: ")
    assert "could not be read" not in judged.reason and "not graded" not in judged.reason
    assert attempt.passed == (contains.passed and judged.passed)
    print("judge:", judged.passed, judged.reason, "| answer:", attempt.output)
    run_id = EvalStore(ws.db).save(result)
    stored = EvalStore(ws.db).load(run_id).cells[0][0].attempts[0].verdicts[1]
    assert (stored.passed, stored.reason) == (judged.passed, judged.reason)
