"""`workbench export` and `workbench import`: prompts to and from other tools."""

import sys
from pathlib import Path

from workbench.cli.common import add_mode, load_engine


def register(sub) -> None:
    p = sub.add_parser("export", help="export the active prompt for another tool")
    p.add_argument("--format", help="see --list")
    p.add_argument("--list", action="store_true", help="list the formats")
    p.add_argument("--out", help="write here instead of stdout")
    p.add_argument("--model", help="GGUF file, to render the exact prompt (llama.cpp /completion)")
    add_mode(p)
    p.add_argument("--conversation", type=int, help="include this conversation's messages")
    p.add_argument("--query", help="end with this user message (a /completion prompt needs one)")
    p.add_argument("--tasks", help="a task set (JSONL) to turn into promptfoo tests")
    p.add_argument("--server", help="server address for curl and promptfoo "
                   "(default http://127.0.0.1:8080)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="import a prompt file as a new prompt document")
    p.add_argument("file")
    p.add_argument("--format", help="openai, anthropic, ollama, llm, lmstudio, markdown "
                   "(default: guessed)")
    p.set_defaults(func=cmd_import)


def cmd_export(args) -> int:
    from workbench.share.exporters import FORMATS, export
    if args.list or not args.format:
        for f in FORMATS.values():
            print(f"{f.name:<20} {f.description}")
        return 0 if args.list else 2
    from workbench.evals.tasks import load_tasks
    from workbench.share.builder import build_export_input
    from workbench.workspace import Workspace
    ws = Workspace.open()
    doc = ws.prompts.load_draft(ws.prompts.active_id())
    engine = None
    if args.model or args.format in ("llamacpp-completion", "curl-llamacpp"):
        engine = load_engine(args.model)
    tasks = load_tasks(args.tasks) if args.tasks else []
    result = export(args.format, build_export_input(ws, doc, engine, args.conversation, tasks,
                                                    args.mode, args.server, args.query))
    for w in result.warnings:
        print(f"note: {w}", file=sys.stderr)
    if args.out:
        Path(args.out).write_text(result.text, encoding="utf-8")
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(result.text)
    return 0


def cmd_import(args) -> int:
    from workbench.errors import ImportFormatError
    from workbench.share.importers import read_import_file
    from workbench.share.intake import import_into
    from workbench.workspace import Workspace
    text = read_import_file(args.file)
    ws = Workspace.open()
    try:
        result = import_into(ws, text, args.format, Path(args.file).name)
    except ImportFormatError as e:
        if args.format or "Choose the format" not in str(e):
            raise
        raise ImportFormatError(f"{e} Pass --format NAME (see --help).") from None
    for note in result.warnings:
        print(f"note: {note}", file=sys.stderr)
    ws.prompts.set_active(result.document_id)
    print(f"Imported {args.file} as prompt document {result.document_id} ({result.document.name}); "
          "it is now active.", file=sys.stderr)
    return 0
