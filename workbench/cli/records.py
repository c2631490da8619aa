"""`workbench conversations` and `workbench runs`: what was said and what was run."""

import argparse
import json
import sys

from workbench.cli.common import open_workspace, show_rows

PREVIEW_CHARS = 60
RATINGS = {1: "+1 good", -1: "-1 bad", None: "none"}


def register(sub) -> None:
    """Add the `conversations` and `runs` command groups."""
    p = sub.add_parser("conversations", help="the stored conversations")
    cs = p.add_subparsers(dest="conversations_command", required=True)

    a = cs.add_parser("list", help="conversations, most recently updated first")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_conversations_list)

    a = cs.add_parser("search", help="full-text search of every message, best first")
    a.add_argument("query")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_conversations_search)

    a = cs.add_parser("show", help="a conversation's messages on the branch on screen")
    a.add_argument("id", type=int)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_conversations_show)

    p = sub.add_parser("runs", help="the run log: every generation, as it was made")
    rs = p.add_subparsers(dest="runs_command", required=True)

    a = rs.add_parser("list", help="runs, newest first")
    a.add_argument("--limit", type=_positive, default=20, metavar="N",
                   help="at most N runs (default 20)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_runs_list)

    a = rs.add_parser("show", help="a run in full: model, parameters, stats, prompt, output")
    a.add_argument("id", type=int)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_runs_show)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"it is 1 or more, not {n}")
    return n


def _dump(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The first non-blank line of text, cut to limit characters."""
    line = next((l.strip() for l in (text or "").splitlines() if l.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


# -- conversations ----------------------------------------------------------------


def cmd_conversations_list(args) -> int:
    def line(c):
        branches = (f", {c['all_messages']} with other branches"
                    if c["all_messages"] != c["messages"] else "")
        return (f"{c['id']:<5} {c['created']}  {c['messages']} message"
                f"{'' if c['messages'] == 1 else 's'}{branches}  {c['title']}")

    return show_rows(open_workspace().conversations.summaries(), args.json, line,
                     "No conversations yet. `workbench chat` stores one each time.")


def cmd_conversations_search(args) -> int:
    return show_rows(open_workspace().conversations.search(args.query), args.json,
                     lambda h: f"conversation {h['conversation_id']:<4} message {h['id']:<5} "
                               f"{h['role']}: {' '.join(h['snippet'].split())}",
                     "No messages match.")


def cmd_conversations_show(args) -> int:
    store = open_workspace().conversations
    row = store.get(args.id)
    path = store.path(args.id)
    if args.json:
        _dump({**row, "messages": [{"id": m.id, **m.as_chat()} for m in path]})
        return 0
    print(f"{row['title']} (conversation {row['id']}, {row['created']})", file=sys.stderr)
    if not path:
        print("It has no messages.", file=sys.stderr)
    for m in path:
        print(f"{m.role}: {m.content}")
    return 0


# -- runs -------------------------------------------------------------------------


def cmd_runs_list(args) -> int:
    runs = open_workspace().runs.recent(args.limit)
    fields = ("id", "created", "model_name", "model_file", "mode", "document_id",
              "conversation_id", "rating", "comment", "output")
    return show_rows(runs, args.json,
                     lambda r: f"{r['id']:<5} {r['created']}  {r['model_name']}  {r['mode']:<5} "
                               f"{ {1: '+1', -1: '-1'}.get(r['rating'], '  ')}  "
                               f"{_one_line(r['output']) or '(no output)'}",
                     "No runs yet. `workbench chat` logs each one.",
                     data=[{k: r[k] for k in fields} for r in runs])


def cmd_runs_show(args) -> int:
    ws = open_workspace()
    r = ws.runs.get(args.id)
    version = ws.prompts.version_by_id(r["version_id"]) if r["version_id"] else None
    if args.json:
        _dump({**r, "version_number": version.number if version else None})
        return 0
    if r["document_id"] is None:
        prompt = "none recorded"
    elif r["version_id"] is None:
        prompt = f"document {r['document_id']}, an unsaved draft"
    elif version is None:
        prompt = f"document {r['document_id']}, a version since deleted"
    else:
        prompt = f"document {r['document_id']}, version {version.number}"
    lines = [
        f"run {r['id']} · {r['created']}",
        f"model: {r['model_name']} ({r['model_file']}, sha256 {r['model_sha256'] or 'unknown'})",
        f"mode: {r['mode']}",
        f"prompt: {prompt}"
        + (f" · conversation {r['conversation_id']}" if r["conversation_id"] else ""),
        f"lessons: {', '.join(f'#{i}' for i in r['lesson_ids'] or []) or 'none'}",
        f"rating: {RATINGS.get(r['rating'], r['rating'])}"
        + (f" — {r['comment']}" if r["comment"] else ""),
        f"params: {json.dumps(r['params'], ensure_ascii=False)}",
        f"stats: {json.dumps(r['stats'], ensure_ascii=False)}",
        "", "## rendered prompt", r["rendered_prompt"] or "",
        "", "## output", r["output"] or "",
    ]
    print("\n".join(lines))
    return 0
