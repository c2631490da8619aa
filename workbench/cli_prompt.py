"""`workbench prompt ...`: the active prompt document, its versions and what a model gets."""

import json
import sys

from .errors import WorkbenchError


def register(sub) -> None:
    p = sub.add_parser("prompt", help="the active prompt document")
    ps = p.add_subparsers(dest="prompt_command", required=True)

    a = ps.add_parser("show", help="the document: sections, examples, variables")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_show)

    a = ps.add_parser("set-section", help="set (or add) a section's text; saves a version")
    a.add_argument("name")
    a.add_argument("text")
    a.add_argument("--disable", action="store_true")
    a.set_defaults(func=cmd_set_section)

    a = ps.add_parser("set-var", help="set a {{variable}}'s value; saves a version")
    a.add_argument("name")
    a.add_argument("value")
    a.set_defaults(func=cmd_set_var)

    a = ps.add_parser("versions", help="list saved versions")
    a.set_defaults(func=cmd_versions)

    a = ps.add_parser("diff", help="unified diff of two versions' rendered prompts")
    a.add_argument("a", type=int)
    a.add_argument("b", type=int)
    a.set_defaults(func=cmd_diff)

    a = ps.add_parser("restore", help="make an old version the newest")
    a.add_argument("version", type=int)
    a.set_defaults(func=cmd_restore)

    a = ps.add_parser("render", help="the exact messages a model would get")
    a.add_argument("--query", help="a user message (relevant lessons are retrieved for it)")
    a.add_argument("--raw", action="store_true",
                   help="the exact text after the chat template or URIAL, special tokens shown")
    a.add_argument("--model", help="GGUF file for --raw (default: the default chat model)")
    a.add_argument("--mode", default="auto", choices=["auto", "chat", "urial", "raw"])
    a.set_defaults(func=cmd_render)


def _active():
    from .workspace import Workspace
    ws = Workspace.open()
    doc_id = ws.prompts.active_id()
    return ws, doc_id, ws.prompts.load_draft(doc_id)


def cmd_show(args) -> int:
    ws, doc_id, doc = _active()
    if args.json:
        print(doc.to_json())
        return 0
    latest = ws.prompts.latest(doc_id)
    print(f"{doc.name} (document {doc_id}, version {latest.number if latest else 0})")
    for s in doc.sections:
        state = "" if s.enabled else " (disabled)"
        print(f"\n## {s.name}{state}\n{s.text or '(empty)'}")
    for i, ex in enumerate(doc.examples, 1):
        print(f"\n## example {i}\nUser: {ex.user}\nAssistant: {ex.assistant}")
    if doc.variables:
        print("\n## variables\n" + "\n".join(f"{k} = {v}" for k, v in doc.variables.items()))
    return 0


def _save(ws, doc_id, doc, note: str) -> int:
    before = ws.prompts.latest(doc_id)
    v = ws.prompts.save_version(doc_id, doc, note=note)
    if before and v.number == before.number:
        print(f"No change; still version {v.number}.", file=sys.stderr)
    else:
        print(f"Saved version {v.number}.", file=sys.stderr)
    return 0


def cmd_set_section(args) -> int:
    ws, doc_id, doc = _active()
    doc.set_section(args.name, args.text)
    doc.section(args.name).enabled = not args.disable
    return _save(ws, doc_id, doc, f"set section {args.name}")


def cmd_set_var(args) -> int:
    ws, doc_id, doc = _active()
    doc.variables[args.name] = args.value
    return _save(ws, doc_id, doc, f"set variable {args.name}")


def cmd_versions(args) -> int:
    ws, doc_id, _ = _active()
    for v in ws.prompts.versions(doc_id):
        print(f"v{v.number:<4} {v.created}  {v.note}")
    return 0


def cmd_diff(args) -> int:
    from .workspace import render_document
    ws, doc_id, _ = _active()
    sys.stdout.write(ws.prompts.diff(doc_id, args.a, args.b, render_document) or "(no difference)\n")
    return 0


def cmd_restore(args) -> int:
    ws, doc_id, _ = _active()
    v = ws.prompts.restore(doc_id, args.version)
    print(f"Version {args.version} restored as version {v.number}.", file=sys.stderr)
    return 0


def cmd_render(args) -> int:
    ws, doc_id, doc = _active()
    conversation = [{"role": "user", "content": args.query}] if args.query else []
    if args.raw:
        return _render_raw(ws, doc, conversation, args)
    c = ws.compose(doc, conversation)
    print(json.dumps(c.messages, indent=2, ensure_ascii=False))
    if c.unknown_variables:
        raise WorkbenchError("Unknown variables (left as written): "
                             + ", ".join("{{%s}}" % v for v in c.unknown_variables)
                             + ". Set them with `workbench prompt set-var NAME VALUE`.")
    return 0


def _render_raw(ws, doc, conversation, args) -> int:
    from .engine import Engine, LoadOptions
    from .generation import choose_mode, what_the_model_sees
    from .models import default_model_path
    engine = Engine()
    engine.load(args.model or default_model_path("chat"), LoadOptions(n_ctx=None))
    mode = choose_mode(engine.info, args.mode)
    c = ws.compose(doc, conversation, engine)
    text, n_tokens = what_the_model_sees(engine, mode.name, c.messages)
    sys.stdout.write(text)
    print(f"\n[{n_tokens:,} tokens · {mode.name} mode: {mode.reason}]", file=sys.stderr)
    return 0
