"""`workbench tests import|list|export`: the active prompt document's stored test sets."""

import sys
from pathlib import Path

from workbench.cli.common import open_workspace, show_rows

FORMAT_CHOICES = ("jsonl", "csv", "promptfoo")


def register(sub) -> None:
    p = sub.add_parser("tests", help="test sets of the active prompt document: import, list, export")
    tsub = p.add_subparsers(dest="tests_command", required=True)
    q = tsub.add_parser("import", help="store a file's cases as a test set (JSONL, CSV, promptfoo YAML)")
    q.add_argument("file")
    q.add_argument("--name", required=True)
    q.add_argument("--format", choices=FORMAT_CHOICES, help="default: from the file name")
    q.add_argument("--replace", action="store_true", help="replace the cases of a set of that name")
    q.set_defaults(func=cmd_import)
    q = tsub.add_parser("list", help="the test sets, with their number of cases")
    q.add_argument("--all", action="store_true", help="every prompt document's sets")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)
    q = tsub.add_parser("export", help="write a test set to a file (format from its name)")
    q.add_argument("name")
    q.add_argument("file")
    q.add_argument("--format", choices=FORMAT_CHOICES)
    q.set_defaults(func=cmd_export)


def cmd_import(args) -> int:
    from workbench.evals.sets import TestSetStore, read_set_file
    tasks = read_set_file(args.file, args.format)  # everything is read before anything is written
    ws = open_workspace()
    store, doc_id = TestSetStore(ws.db), ws.prompts.active_id()
    existing = next((s for s in store.sets(doc_id) if s["name"] == args.name.strip()), None)
    if existing and args.replace:
        store.replace_cases(existing["id"], tasks)
        set_id = existing["id"]
    else:
        set_id = store.create(doc_id, args.name, tasks)
    print(f"Stored {len(tasks)} cases from {args.file} as test set {args.name.strip()!r} "
          f"(id {set_id}) of prompt document {doc_id}.", file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    from workbench.evals.sets import TestSetStore
    ws = open_workspace()
    rows = TestSetStore(ws.db).sets(None if args.all else ws.prompts.active_id())
    return show_rows(rows, args.json, lambda r: f"{r['name']}  {r['cases']} cases  (document "
                     f"{r['document_id']}, updated {r['updated'][:16].replace('T', ' ')})",
                     empty="No test sets yet: `workbench tests import FILE --name NAME`.")


def cmd_export(args) -> int:
    from workbench.evals.sets import TestSetStore, detect_format, write_set_text
    ws = open_workspace()
    store = TestSetStore(ws.db)
    found = store.find(args.name, ws.prompts.active_id())
    tasks = store.tasks(found["id"])
    Path(args.file).write_text(write_set_text(tasks, args.format or detect_format(args.file)),
                               encoding="utf-8")
    print(f"Wrote {len(tasks)} cases of {found['name']!r} to {args.file}.", file=sys.stderr)
    return 0
