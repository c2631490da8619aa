"""Stored conversations as fine-tuning needs them: which answers the user accepted, and the
system prompt and few-shot turns each was generated under (from the run log), minus the lessons.

The point of the fine-tuning export is to move what the notebook taught into the weights, so
the lessons block and the lessons' demonstrations are taken out of the prompt the model saw.
"""

from workbench.errors import WorkbenchError
from workbench.prompt.document import PromptDocument
from workbench.share.exporters import TrainingConversation
from workbench.share.lessons_block import split_lessons


def _run_for(runs: list[dict], answer: str) -> dict | None:
    """The newest run whose output is this answer (an edited answer has none)."""
    answer = answer.strip()
    return next((r for r in runs if (r["output"] or "").strip() == answer and r["messages"]), None)


def _without_demos(shots: list[dict], demos: set[tuple[str, str]]) -> list[dict]:
    """The messages without the lessons' demonstration exchanges (as pinned lessons' or, headed
    by their rule, as retrieved lessons' turns: see prompt.compose.retrieved_turns)."""
    out, i = [], 0
    while i < len(shots):
        pair = shots[i:i + 2]
        if (len(pair) == 2 and pair[0]["role"] == "user" and pair[1]["role"] == "assistant"
                and (pair[0]["content"], pair[1]["content"]) in demos):
            i += 2
            continue
        out.append({"role": shots[i]["role"], "content": shots[i]["content"]})
        i += 1
    return out


def training_conversations(ws, current_system: str, doc: PromptDocument) -> list[TrainingConversation]:
    """Every stored conversation (the branch on screen) with its accepted flags and the prompt
    its last accepted answer was generated under; the current prompt stands in where the run
    log has no record (an edited answer, a conversation from before the log)."""
    out = []
    current_shots = [{"role": r, "content": c} for e in doc.examples
                     for r, c in (("user", e.user), ("assistant", e.assistant))]
    for row in ws.conversations.conversations():
        path = ws.conversations.path(row["id"])
        flags = ws.conversations.accepted(row["id"])
        turns = [{"role": m.role, "content": m.content, "accepted": flags.get(m.id)}
                 for m in path if m.role in ("user", "assistant")]
        accepted = [i for i, t in enumerate(turns) if t["role"] == "assistant" and t["accepted"]]
        run = None
        if accepted:
            run = _run_for(ws.runs.for_conversation(row["id"]), turns[accepted[-1]]["content"])
        if run is None:
            out.append(TrainingConversation(current_system, current_shots, turns, from_run=False))
            continue
        demos = set()
        for lesson_id in run["lesson_ids"] or []:
            try:
                lesson = ws.notebook.get(lesson_id).ref()
            except WorkbenchError:  # a lesson deleted since: nothing to take out
                continue
            if lesson.demo:
                demos.add(lesson.demo)
                demos.add((f"{lesson.text}\n\n{lesson.demo[0]}", lesson.demo[1]))
        # Retrieved lessons' exchanges stand just before the question; taken out first, the
        # conversation is the messages' tail again.
        messages = _without_demos(run["messages"], demos)
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        start = 1 if system else 0
        shots = messages[start:max(start, len(messages) - accepted[-1])]
        out.append(TrainingConversation(split_lessons(system)[0].rstrip(),
                                        _without_demos(shots, demos), turns))
    return out
