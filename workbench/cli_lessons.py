"""`workbench lessons ...`: the notebook from the command line."""

import json
import sys
from pathlib import Path

from .errors import WorkbenchError
from .notebook import HIGHLIGHT, Lesson


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

    a = ls.add_parser("export", help="write the notebook to FILE (.json or .md), - for stdout")
    a.add_argument("file")
    a.add_argument("--format", choices=["json", "markdown"])
    a.set_defaults(func=cmd_export)

    a = ls.add_parser("import", help="add lessons from FILE (.json or .md)")
    a.add_argument("file")
    a.add_argument("--format", choices=["json", "markdown"])
    a.set_defaults(func=cmd_import)


def _workspace():
    from .workspace import Workspace
    return Workspace.open()


def _line(l: Lesson) -> str:
    flags = ["pinned" if l.pinned else "retrieved"]
    if l.status != "active":
        flags.append(l.status)
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
    if args.json:
        print(json.dumps([l.to_dict() for l in lessons], indent=2, ensure_ascii=False))
    else:
        for l in lessons:
            print(_line(l))
    return 0


def cmd_search(args) -> int:
    hits = _workspace().notebook.search(args.query, status=None if args.all else "active",
                                        tag=args.tag)
    if args.json:
        print(json.dumps([{**h.lesson.to_dict(), "snippet": h.snippet, "rank": h.rank}
                          for h in hits], indent=2, ensure_ascii=False))
        return 0
    if not hits:
        print("No lessons match.", file=sys.stderr)
    for h in hits:
        print(f"#{h.lesson.id:<4} {h.snippet}")
    return 0


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
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise WorkbenchError(f"Cannot read {args.file}: {e}") from e
    nb = _workspace().notebook
    fmt = _format(args.file, args.format)
    added = nb.import_json(text) if fmt == "json" else nb.import_markdown(text)
    print(f"Imported {len(added)} lessons (near duplicates of existing ones are skipped).",
          file=sys.stderr)
    return 0
