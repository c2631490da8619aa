"""`learn --teacher`: another model (here a server) phrases a convention's rule from its failures."""

from tests.servers import hostile_server
from workbench.evals.conventions import group
from workbench.evals.learn import Learner
from workbench.evals.tasks import parse_tasks
from workbench.runtime.engines import open_engine

TASKS = parse_tasks('{"query": "How far is Rome from Milan?", "contains": "km", "ideal": "About 480 km."}\n'
                    '{"query": "How far is Oslo from Bergen?", "contains": "km", "ideal": "About 300 km."}')


def test_the_teacher_not_the_student_is_asked_to_phrase_the_rule(ws, chat_engine):
    with hostile_server("ok") as server:  # answers every chat with "Hello there": no lesson JSON
        teacher = open_engine(f"{server.url}#hostile-model")
        doc = ws.prompts.load_draft(ws.prompts.active_id())
        learner = Learner(ws, chat_engine, "chat", doc, teacher=teacher, teacher_mode="chat")
        (conv,) = group(TASKS)
        rule, author = learner.phrase(conv, [(TASKS[0], "Quite far."), (TASKS[1], "Very far.")], TASKS)
    asked = [b for b in server.bodies if "messages" in b]
    assert asked, "the teacher got no request"
    sent = " ".join(m["content"] for m in asked[-1]["messages"])
    # The group's failures, each with the answer given, not one question.
    assert "How far is Rome from Milan?" in sent and "Quite far." in sent and "Very far." in sent
    # Its reply was no lesson, so the rule is built from the group, with the reason noted.
    assert (rule, author) == (conv.rule(), "tasks") and "km" in rule and "Rome" not in rule
    assert any("not usable" in n for n in learner.notes)


def test_without_a_teacher_rules_are_built_from_the_group(ws, chat_engine):
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    learner = Learner(ws, chat_engine, "chat", doc)
    assert learner.teacher is None
    (conv,) = group(TASKS)
    assert learner.phrase(conv, [(TASKS[0], "Quite far.")], TASKS) == (
        "When asked “How far is … from …?”, include “km” in the answer.", "tasks")
