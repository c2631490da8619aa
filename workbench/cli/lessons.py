"""`workbench lessons ...`: the notebook from the command line."""

import sys
from pathlib import Path

from workbench.cli.common import load_engine, show_rows
from workbench.errors import WorkbenchError
from workbench.files import read_user_file
from workbench.notebook.lessons import Lesson


def register(sub) -> None:
    p = sub.add_parser("lessons", help="the notebook of lessons")
    ls = p.add_subparsers(dest="lessons_command", required=True)

    a = ls.add_parser("add", help="add a lesson")
    a.add_argument("text")
    a.add_argument("--tag", action="append", default=[])
    a.add_argument("--pin", action="store_true", help="always in the system prompt")
    a.add_argument("--force", action="store_true", help="add even if a near duplicate exists")
    a.add_argument("--merge", action="store_true",
                   help="if a near duplicate exists, merge into it (this text wins)")
    a.set_defaults(func=cmd_add)

    a = ls.add_parser("list", help="list lessons")
    a.add_argument("--all", action="store_true", help="include retired lessons")
    a.add_argument("--tag")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_list)

    a = ls.add_parser("search", help="full-text search, best first")
    a.add_argument("query")
    a.add_argument("--tag")
    a.add_argument("--all", action="store_true", help="include retired lessons")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_search)

    a = ls.add_parser("edit", help="change a lesson's text")
    a.add_argument("id", type=int)
    a.add_argument("text")
    a.set_defaults(func=cmd_edit)

    for name, pinned in (("pin", True), ("unpin", False)):
        a = ls.add_parser(name, help=f"{name} a lesson")
        a.add_argument("id", type=int)
        a.set_defaults(func=cmd_pin, pinned=pinned)

    a = ls.add_parser("retire", help="retire a lesson (kept, no longer used)")
    a.add_argument("id", type=int)
    a.add_argument("--reason", default="")
    a.set_defaults(func=cmd_retire)

    a = ls.add_parser("merge", help="fold the second lesson into the first")
    a.add_argument("keep", type=int)
    a.add_argument("other", type=int)
    a.add_argument("--text", help="the merged lesson's text (default: the first's)")
    a.set_defaults(func=cmd_merge)

    a = ls.add_parser("history", help="a lesson's changes")
    a.add_argument("id", type=int)
    a.set_defaults(func=cmd_history)

    a = ls.add_parser("proposals", help="proposed lessons waiting for review")
    a.set_defaults(func=cmd_proposals)

    a = ls.add_parser("accept", help="accept a proposal into the notebook")
    a.add_argument("id", type=int)
    a.add_argument("--text", help="your rewording of the rule")
    a.add_argument("--retrieved", action="store_true", help="retrieved-only (default: the placement "
                   "learning measured, else pinned)")
    a.set_defaults(func=cmd_accept)

    a = ls.add_parser("reject", help="reject a proposal")
    a.add_argument("id", type=int)
    a.set_defaults(func=cmd_reject)

    a = ls.add_parser("undo", help="undo the newest change to the notebook (or change ID)")
    a.add_argument("event", type=int, nargs="?")
    a.set_defaults(func=cmd_undo)

    a = ls.add_parser("teach", help="a correction becomes a lesson with a demonstration")
    a.add_argument("--query", required=True, help="the question")
    a.add_argument("--answer", required=True, help="what the model answered")
    a.add_argument("--corrected", required=True, help="the ideal answer")
    a.add_argument("--rule", help="the rule in your words (else the model proposes one)")
    a.add_argument("--model", help="GGUF file for proposing the rule")
    a.set_defaults(func=cmd_teach)

    a = ls.add_parser("export", help="write the notebook to FILE (.json or .md), - for stdout")
    a.add_argument("file")
    a.add_argument("--format", choices=["json", "markdown"])
    a.set_defaults(func=cmd_export)

    a = ls.add_parser("import", help="add lessons from FILE (.json or .md)")
    a.add_argument("file")
    a.add_argument("--format", choices=["json", "markdown"])
    a.set_defaults(func=cmd_import)


def _workspace():
    from workbench.workspace import Workspace
    return Workspace.open()


def _line(l: Lesson) -> str:
    flags = ["pinned" if l.pinned else "retrieved"]
    if l.status != "active":
        flags.append(l.status)
    if l.flagged:
        flags.append("FLAGGED: hurt more than it helped")
    if l.demo_query:
        flags.append("with demonstration")
    tags = " ".join(f"#{t}" for t in l.tags)
    return (f"#{l.id:<4} {l.text}  {tags}  [{', '.join(flags)}; {l.source}; "
            f"+{l.helpful}/-{l.harmful}]").replace("  ]", " ]")


def cmd_add(args) -> int:
    nb = _workspace().notebook
    result = nb.add(args.text, tags=args.tag, pinned=args.pin, force=args.force)
    if result.lesson is None and args.merge:
        d = result.duplicate_of
        new = nb.add(args.text, tags=args.tag, pinned=args.pin, force=True).lesson
        print(_line(nb.merge(d.id, new.id, text=new.text)))
        return 0
    if result.lesson is None:
        d = result.duplicate_of
        print(f"Not added: this nearly duplicates lesson #{d.id} ({result.similarity:.0%} alike):\n"
              f"  {d.text}\nAdd --merge to merge it into #{d.id} (your wording wins), "
              "or --force to add it anyway.", file=sys.stderr)
        return 3
    print(_line(result.lesson))
    return 0


def cmd_list(args) -> int:
    lessons = _workspace().notebook.lessons(None if args.all else "active", args.tag)
    return show_rows(lessons, args.json, _line, data=[l.to_dict() for l in lessons])


def cmd_search(args) -> int:
    hits = _workspace().notebook.search(args.query, status=None if args.all else "active",
                                        tag=args.tag)
    return show_rows(hits, args.json, lambda h: f"#{h.lesson.id:<4} {h.snippet}", "No lessons match.",
                     data=[{**h.lesson.to_dict(), "snippet": h.snippet, "rank": h.rank} for h in hits])


def cmd_edit(args) -> int:
    print(_line(_workspace().notebook.edit(args.id, text=args.text)))
    return 0


def cmd_pin(args) -> int:
    print(_line(_workspace().notebook.set_pinned(args.id, args.pinned)))
    return 0


def cmd_retire(args) -> int:
    print(_line(_workspace().notebook.retire(args.id, reason=args.reason)))
    return 0


def cmd_merge(args) -> int:
    print(_line(_workspace().notebook.merge(args.keep, args.other, text=args.text)))
    return 0


def cmd_history(args) -> int:
    for e in _workspace().notebook.history(args.id):
        after = e["after"] or {}
        print(f"{e['created']}  {e['action']:<10} {after.get('text', '')!r}"
              f"{'  — ' + e['reason'] if e['reason'] else ''}")
    return 0


def _format(path: str, given: str | None) -> str:
    if given:
        return given
    return "markdown" if path.endswith((".md", ".markdown")) else "json"


def cmd_export(args) -> int:
    nb = _workspace().notebook
    fmt = _format(args.file, args.format)
    text = nb.export_json() if fmt == "json" else nb.export_markdown()
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"Wrote {len(nb.lessons(None))} lessons to {args.file}", file=sys.stderr)
    return 0


def cmd_import(args) -> int:
    """Add the lessons of FILE in one transaction, telling progress on stderr."""
    from workbench.notebook.lessons import PROGRESS_EVERY
    text = read_user_file(args.file, stdin_dash=True)
    nb = _workspace().notebook
    fmt = _format(args.file, args.format)

    def progress(done: int, total: int) -> None:
        if total >= PROGRESS_EVERY:  # a small file is done before progress could matter
            print(f"  {done:,} of {total:,} lessons checked", file=sys.stderr, flush=True)

    read = nb.import_json if fmt == "json" else nb.import_markdown
    added = read(text, progress=progress)
    print(f"Imported {len(added)} lessons (near duplicates of existing ones are skipped).",
          file=sys.stderr)
    return 0


def _proposals(ws):
    from workbench.notebook.proposals import ProposalStore
    return ProposalStore(ws.db, ws.notebook)


def cmd_proposals(args) -> int:
    ws = _workspace()
    pending = _proposals(ws).pending()
    if not pending:
        print("No proposals wait for review.", file=sys.stderr)
    for p in pending:
        related = f" (related to lesson #{p.related_id})" if p.related_id else ""
        demo = f"\n        demonstration: {p.demo[0]!r} -> {p.demo[1]!r}" if p.demo else ""
        print(f"{p.id:<6} [{p.verdict}{related}; from {p.origin}] {p.rule}\n        why: {p.reason}{demo}")
    return 0


def cmd_accept(args) -> int:
    ws = _workspace()
    # Without --retrieved the placement learning measured stands (pinned unless it said retrieved).
    print(_line(_proposals(ws).accept(args.id, rule=args.text, pinned=False if args.retrieved else None)))
    return 0


def cmd_reject(args) -> int:
    _proposals(_workspace()).reject(args.id)
    print(f"Proposal {args.id} rejected.", file=sys.stderr)
    return 0


def cmd_undo(args) -> int:
    print(_line(_workspace().notebook.undo(args.event)))
    return 0


def cmd_teach(args) -> int:
    """The corrected answer is the demonstration; the rule is yours or the model's."""
    from workbench.notebook.teach import proposed_rule, teach
    ws = _workspace()
    rule = args.rule
    if not rule:
        from workbench.notebook.reflection import reflect, situation_from_correction
        from workbench.runtime.generation import choose_mode
        engine = load_engine(args.model)
        r = reflect(engine, choose_mode(engine.info).name, ws.notebook,
                    situation_from_correction(args.query, args.answer, args.corrected),
                    (args.query, args.corrected))
        rule, why = proposed_rule(r)
        if rule is None:
            raise WorkbenchError(f"The model proposed no usable rule ({why}). "
                                 "Write one with --rule \"When …, …\".")
    store = _proposals(ws)
    pid = teach(store, args.query, rule, args.corrected, author="user" if args.rule else "model")
    print(f"proposal {pid}: {rule}  [{store.get(pid).verdict}] — accept with "
          f"`workbench lessons accept {pid}`")
    return 0
