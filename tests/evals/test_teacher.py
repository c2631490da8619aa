"""`learn --teacher`: another model (here a server) reflects on the student's failures."""

from tests.servers import hostile_server
from workbench.evals.learn import Learner
from workbench.evals.tasks import parse_tasks
from workbench.runtime.engines import open_engine

TASK = parse_tasks('{"query": "How far is Rome from Milan?", "contains": "km", '
                   '"ideal": "About 480 km."}')[0]


def test_the_teacher_not_the_student_is_asked_to_reflect(ws, chat_engine):
    with hostile_server("ok") as server:  # answers every chat with "Hello there": no lesson JSON
        teacher = open_engine(f"{server.url}#hostile-model")
        doc = ws.prompts.load_draft(ws.prompts.active_id())
        learner = Learner(ws, chat_engine, "chat", doc, teacher=teacher, teacher_mode="chat")
        proposal = learner.propose(TASK, "Quite far.")
    asked = [b for b in server.bodies if "messages" in b]
    assert asked, "the teacher got no request"
    sent = " ".join(m["content"] for m in asked[-1]["messages"])
    assert "How far is Rome from Milan?" in sent and "Quite far." in sent
    # Its reply was no lesson, so the rule comes from the task's check, with the reason noted.
    assert "km" in proposal.rule and proposal.demo == ("How far is Rome from Milan?", "About 480 km.")
    assert any("not usable" in n for n in learner.notes)


def test_without_a_teacher_the_student_reflects(ws, chat_engine):
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    learner = Learner(ws, chat_engine, "chat", doc)
    assert learner.teacher is chat_engine and learner.teacher_mode == "chat"
