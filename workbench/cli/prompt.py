"""`workbench prompt ...`: the prompt documents, the active one's contents, its versions
and what a model gets."""

import json
import sys
from dataclasses import fields

from workbench.cli.common import add_mode, load_engine, open_workspace, show_rows
from workbench.errors import WorkbenchError
from workbench.prompt.document import MAX_LESSON_BUDGET, Example, PromptDocument

# The rules' one home is runtime.params (sampling) and prompt.document (the lesson budget);
# MAX_SEED stays importable from here for the callers that know it by this module.
from workbench.runtime.params import (
    MAX_SEED,  # noqa: F401
    PARAM_NAMES,
    SamplingParams,
    check_param,
    shown,
)


def register(sub) -> None:
    p = sub.add_parser("prompt", help="prompt documents: the active one, its versions, the library")
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

    a = ps.add_parser("add-example", help="add a few-shot example exchange; saves a version")
    a.add_argument("user", help="what the user says")
    a.add_argument("assistant", help="the ideal answer")
    a.set_defaults(func=cmd_add_example)

    a = ps.add_parser("remove-example", help="remove example N (1 is the first, as `show` "
                      "numbers them); saves a version")
    a.add_argument("number", type=int)
    a.set_defaults(func=cmd_remove_example)

    names = ", ".join(f.name for f in fields(SamplingParams))
    a = ps.add_parser("set-param", help=f"set a sampling parameter ({names}); saves a version",
                      description="VALUE is read as JSON when it parses (0.2, null, "
                      "'[\"\\nUser:\"]'), else as text. null is allowed for seed only "
                      "(a new random seed each run).")
    a.add_argument("name", help=f"one of {names}")
    a.add_argument("value")
    a.set_defaults(func=cmd_set_param)

    a = ps.add_parser("set-budget", help="tokens the pinned lessons may take in the system "
                      "prompt; saves a version")
    a.add_argument("tokens", type=int)
    a.set_defaults(func=cmd_set_budget)

    a = ps.add_parser("new", help="create a document with the default sections and make it "
                      "the active one")
    a.add_argument("name")
    a.set_defaults(func=cmd_new)

    a = ps.add_parser("list", help="the documents; * marks the active one")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_list)

    a = ps.add_parser("switch", help="make document ID the active one")
    a.add_argument("id", type=int)
    a.set_defaults(func=cmd_switch)

    a = ps.add_parser("rename", help="rename document ID (no version is made)")
    a.add_argument("id", type=int)
    a.add_argument("name")
    a.set_defaults(func=cmd_rename)

    a = ps.add_parser("duplicate", help='copy document ID\'s draft as a new document "NAME '
                      '(copy)"; the active document stays as it was')
    a.add_argument("id", type=int)
    a.set_defaults(func=cmd_duplicate)

    a = ps.add_parser("delete", help="delete document ID and all its versions (not the last "
                      "one; if it is active, the most recently edited other one becomes active)")
    a.add_argument("id", type=int)
    a.set_defaults(func=cmd_delete)

    a = ps.add_parser("trash", help="what was deleted in the window (prompts, conversations, "
                      "messages) and can still be restored, newest first; --empty removes it "
                      "all for good",
                      description="Deleted things stay restorable for 30 days (WORKBENCH_TRASH_DAYS "
                      "sets the number of days, 0 keeps them until the trash is emptied), then "
                      "are removed for good the next time the workbench opens.")
    a.add_argument("--json", action="store_true")
    a.add_argument("--empty", action="store_true", help="remove everything in the trash for good "
                   "(a prompt with its versions, runs and conversations; a conversation with its "
                   "messages and runs); this cannot be undone")
    a.set_defaults(func=cmd_trash)

    a = ps.add_parser("undelete", help="restore trash entry ID (see `workbench prompt trash`) "
                      "as it was")
    a.add_argument("id", type=int)
    a.set_defaults(func=cmd_undelete)

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
    add_mode(a)
    a.set_defaults(func=cmd_render)


def _active():
    ws = open_workspace()
    doc_id = ws.prompts.active_id()
    doc = ws.prompts.load_draft(doc_id)
    for note in doc.notes:  # what loading had to repair; the next saved version keeps the repair
        print(f"note: {note}", file=sys.stderr)
    return ws, doc_id, doc


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
    print("\n## sampling")
    for name, value in SamplingParams.from_dict(doc.params).to_dict().items():
        print(f"{name} = {json.dumps(value)}{'' if name in doc.params else ' (default)'}")
    print(f"\n## lessons\nbudget = {doc.lesson_budget} tokens · {doc.retrieval_k} retrieved "
          "per message")
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


def cmd_add_example(args) -> int:
    if not args.user.strip() or not args.assistant.strip():
        raise WorkbenchError("An example needs both a user message and an answer; "
                             "one of them is blank.")
    ws, doc_id, doc = _active()
    doc.examples.append(Example(args.user, args.assistant))
    return _save(ws, doc_id, doc, f"added example {len(doc.examples)}")


def cmd_remove_example(args) -> int:
    ws, doc_id, doc = _active()
    n = len(doc.examples)
    if not 1 <= args.number <= n:
        if n == 0:
            raise WorkbenchError(f"There is no example {args.number}: this document has no "
                                 "examples.")
        which = "1 example (number 1)" if n == 1 else f"{n} examples (numbers 1 to {n})"
        raise WorkbenchError(f"There is no example {args.number}: this document has {which}. "
                             "See them with `workbench prompt show`.")
    del doc.examples[args.number - 1]
    return _save(ws, doc_id, doc, f"removed example {args.number}")


def parse_param(name: str, text: str):
    """The value of sampling parameter NAME typed as text: JSON when it parses, else the
    text itself; WorkbenchError when NAME is unknown or the value is out of its range
    (the rules are runtime.params' schema)."""
    if name not in PARAM_NAMES:
        raise WorkbenchError(f"There is no sampling parameter {name!r}. "
                             f"The parameters are: {', '.join(PARAM_NAMES)}.")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = text
    if name == "stop" and isinstance(value, str):
        value = [value]  # one string is a one-item list
    return check_param(name, value, verb="is", quoted=shown(text))


def cmd_set_param(args) -> int:
    value = parse_param(args.name, args.value)
    ws, doc_id, doc = _active()
    doc.params[args.name] = value
    return _save(ws, doc_id, doc, f"set {args.name} to {json.dumps(value)}")


def cmd_set_budget(args) -> int:
    if not 1 <= args.tokens <= MAX_LESSON_BUDGET:
        raise WorkbenchError(f"The lesson budget is a number of tokens from 1 to "
                             f"{MAX_LESSON_BUDGET:,}; not {args.tokens}.")
    ws, doc_id, doc = _active()
    doc.lesson_budget = args.tokens
    return _save(ws, doc_id, doc, f"set lesson budget to {args.tokens}")


# -- the document library ---------------------------------------------------------


def cmd_new(args) -> int:
    from workbench.prompt.store import valid_name
    ws = open_workspace()
    doc_id = ws.prompts.create(PromptDocument.default(valid_name(args.name)))
    ws.prompts.set_active(doc_id)
    print(doc_id)
    print(f"Created document {doc_id} ({_name(ws, doc_id)!r}); it is now the active one.",
          file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    ws = open_workspace()
    active = ws.prompts.active_id()  # makes the default document on first use
    docs = [{**d, "active": d["id"] == active} for d in ws.prompts.documents()]
    return show_rows(docs, args.json,
                     lambda d: f"{'*' if d['active'] else ' '} {d['id']:<4} {d['name']}  "
                               f"({d['versions']} version{'' if d['versions'] == 1 else 's'}; "
                               f"updated {d['updated']})")


def _name(ws, doc_id: int) -> str:
    return ws.prompts.load_draft(doc_id).name


def cmd_switch(args) -> int:
    ws = open_workspace()
    ws.prompts.set_active(args.id)
    print(f"Document {args.id} ({_name(ws, args.id)!r}) is now the active one.", file=sys.stderr)
    return 0


def cmd_rename(args) -> int:
    ws = open_workspace()
    old = _name(ws, args.id)
    ws.prompts.rename(args.id, args.name)
    print(f"Document {args.id} renamed from {old!r} to {_name(ws, args.id)!r}.", file=sys.stderr)
    return 0


def cmd_duplicate(args) -> int:
    ws = open_workspace()
    copy_id = ws.prompts.duplicate(args.id)
    print(copy_id)
    print(f"Copied document {args.id} as document {copy_id} ({_name(ws, copy_id)!r}); "
          f"switch to it with `workbench prompt switch {copy_id}`.", file=sys.stderr)
    return 0


def cmd_delete(args) -> int:
    ws = open_workspace()
    name, versions = _name(ws, args.id), len(ws.prompts.versions(args.id))
    was_active = ws.prompts.current_id() == args.id
    active = ws.prompts.delete(args.id)
    print(f"Deleted document {args.id} ({name!r}) and its {versions} "
          f"version{'' if versions == 1 else 's'}.", file=sys.stderr)
    if was_active:
        print(f"Document {active} ({_name(ws, active)!r}) is now the active one.",
              file=sys.stderr)
    return 0


TRASH_KINDS = {"document": "prompt", "conversation": "conversation", "messages": "message"}


def cmd_trash(args) -> int:
    from dataclasses import asdict

    from workbench.chat.library import Library
    library = Library(open_workspace())
    if args.empty:
        purged = library.empty_trash()
        if args.json:
            print(json.dumps(asdict(purged), indent=2, ensure_ascii=False))
        print(f"Removed for good: {purged}." if purged.entries else "The trash was already empty.",
              file=sys.stderr)
        if purged.kept:
            print(f"Kept the prompt “{purged.kept}” in the trash: it is the only prompt left "
                  "(restore it, or create another prompt first).", file=sys.stderr)
        return 0
    entries = library.trash(limit=1000)
    show_rows(entries, args.json,
              lambda e: f"{e['id']:<5} {e['deleted']}  {TRASH_KINDS[e['kind']]:<12} {e['title']}",
              "The trash is empty.")
    if entries and not args.json:
        print(library.retention(), file=sys.stderr)
    return 0


def cmd_undelete(args) -> int:
    from workbench.chat.library import Library
    entry = Library(open_workspace()).restore(args.id)
    print(f"Restored the {TRASH_KINDS[entry['kind']]} “{entry['title']}”.", file=sys.stderr)
    return 0


def cmd_versions(args) -> int:
    ws, doc_id, _ = _active()
    for v in ws.prompts.versions(doc_id):
        print(f"v{v.number:<4} {v.created}  {v.note}")
    return 0


def cmd_diff(args) -> int:
    from workbench.workspace import render_document
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
    from workbench.runtime.generation import choose_mode, what_the_model_sees
    engine = load_engine(args.model)
    mode = choose_mode(engine.info, args.mode)
    c = ws.compose(doc, conversation, engine, mode=mode.name)
    text, n_tokens = what_the_model_sees(engine, mode.name, c.messages)
    sys.stdout.write(text)
    print(f"\n[{n_tokens:,} tokens · {mode.name} mode: {mode.reason}]", file=sys.stderr)
    return 0
