"""`workbench learn`, `rate`, `reflect`: system prompt learning from the command line."""

import sys
from pathlib import Path

from workbench.cli.common import add_mode, load_engine


def register(sub) -> None:
    p = sub.add_parser("learn", help="learn lessons from a task set's train split; "
                       "report the test split's pass rate before and after")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--tasks", help="a test set file: JSONL (query, checks, optional ideal and "
                        "split), CSV or promptfoo YAML")
    source.add_argument("--set", help="a stored test set (see `workbench tests list`)")
    p.add_argument("--model", help="GGUF file (default: the default chat model)")
    add_mode(p)
    p.add_argument("--teacher", help="GGUF file or server URL (URL#model) of a model that phrases "
                   "each convention's rule (default: none; rules are built from the failing "
                   "questions and their check)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--auto-accept", action="store_true",
                   help="put new lessons in the notebook without review")
    p.add_argument("--holdout", type=float, help="fraction held out as the test split "
                   "(default: the tasks' own 'split' fields)")
    p.add_argument("--no-reflect", action="store_true",
                   help="never ask the teacher to phrase rules (rules come from the groups' checks)")
    p.add_argument("--placement", choices=["auto", "pinned", "retrieved"], default="auto",
                   help="how lessons are tried and kept: pinned in the system prompt, retrieved per "
                   "question, or auto (pinned while they fit the lesson budget)")
    p.add_argument("--report", help="write REPORT.md and REPORT.json (default: "
                   "reports/learn-DATE-TIME in the data folder, never the current folder)")
    p.set_defaults(func=cmd_learn)

    p = sub.add_parser("rate", help="rate a logged run; its lessons' tallies move")
    p.add_argument("run", type=int)
    p.add_argument("rating", choices=["good", "bad", "none"])
    p.add_argument("--comment", default="")
    p.set_defaults(func=cmd_rate)

    p = sub.add_parser("reflect", help="ask the model for lessons from a badly rated run")
    p.add_argument("run", type=int)
    p.add_argument("--model", help="GGUF file (default: the run's own model)")
    p.set_defaults(func=cmd_reflect)


def _default_report() -> Path:
    from datetime import datetime

    from workbench.db import data_home
    folder = data_home() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"learn-{datetime.now():%Y%m%d-%H%M%S}"


def cmd_learn(args) -> int:
    from workbench.evals.learn import Learner
    from workbench.evals.sets import TestSetStore, read_set_file
    from workbench.runtime.generation import choose_mode
    from workbench.workspace import Workspace
    ws = Workspace.open()
    doc_id = ws.prompts.active_id()
    if args.set:
        found = TestSetStore(ws.db).find(args.set, doc_id)
        tasks, source = TestSetStore(ws.db).tasks(found["id"]), found["name"]
    else:
        tasks, source = read_set_file(args.tasks), Path(args.tasks).name
    engine = load_engine(args.model)
    doc = ws.prompts.load_draft(doc_id)
    mode = choose_mode(engine.info, args.mode)
    teacher = load_engine(args.teacher) if args.teacher else None
    teacher_mode = choose_mode(teacher.info).name if teacher else None
    print(f"Learning with {engine.info.name} ({mode.name} mode), {args.rounds} round(s)"
          + (f", taught by {teacher.info.name}" if teacher else "") + "…", file=sys.stderr)
    learner = Learner(ws, engine, mode.name, doc, reflect_with_model=not args.no_reflect,
                      document_id=doc_id, set_name=source, teacher=teacher, teacher_mode=teacher_mode,
                      placement=args.placement)
    stages: list[str] = []

    def progress(d: dict) -> None:
        if not stages or stages[-1] != d["stage"]:
            stages.append(d["stage"])
            print(f"… {d['stage']}", file=sys.stderr)

    report = learner.learn(tasks, args.rounds, args.auto_accept, args.holdout, source, progress)
    base = args.report or str(_default_report())
    Path(f"{base}.md").write_text(report.to_markdown(), encoding="utf-8")
    Path(f"{base}.json").write_text(report.to_json(), encoding="utf-8")
    sys.stdout.write(report.to_markdown())
    print(f"Report written to {base}.md and {base}.json", file=sys.stderr)
    return 0


def cmd_rate(args) -> int:
    from workbench.notebook.rating import rate_run
    from workbench.workspace import Workspace
    ws = Workspace.open()
    rate_run(ws, args.run, {"good": 1, "bad": -1, "none": 0}[args.rating], args.comment)
    lessons = ws.runs.get(args.run)["lesson_ids"] or []
    print(f"Run {args.run} rated {args.rating}; tallies moved for lessons "
          f"{', '.join(f'#{i}' for i in lessons) or '(none in its prompt)'}.", file=sys.stderr)
    return 0


def cmd_reflect(args) -> int:
    from workbench.notebook.proposals import ProposalStore
    from workbench.notebook.reflection import reflect, situation_from_rating
    from workbench.runtime.generation import choose_mode
    from workbench.runtime.models import models_dir
    from workbench.workspace import Workspace
    ws = Workspace.open()
    run = ws.runs.get(args.run)
    question = next((m["content"] for m in reversed(run["messages"]) if m["role"] == "user"), "")
    model = args.model or str(models_dir() / Path(run["model_file"]).name)
    engine = load_engine(model)
    r = reflect(engine, choose_mode(engine.info).name, ws.notebook,
                situation_from_rating(question, run["output"], run["comment"] or ""))
    store = ProposalStore(ws.db, ws.notebook)
    if r.problem:
        print(f"The model's reflection was {r.problem}.", file=sys.stderr)
    for p in r.proposals:
        if p.acceptable:
            pid = store.add(p, "rating", args.run)
            print(f"proposal {pid}: {p.rule}  [{p.describe()}]")
        else:
            print(f"refused: {p.rule!r}: {p.verdict}", file=sys.stderr)
    return 0
