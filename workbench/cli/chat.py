"""`workbench chat` and `workbench complete`: answers from a model, streamed."""

import sys
from dataclasses import replace

from workbench.cli.common import (
    add_mode,
    add_sampling,
    engine_from_flags,
    open_workspace,
    print_stream,
    sampling_params,
)
from workbench.errors import WorkbenchError
from workbench.runtime.params import sample_seed


def register(sub) -> None:
    p = sub.add_parser("chat", help="chat with a model: one answer, or interactive without MESSAGE")
    p.add_argument("message", nargs="?")
    p.add_argument("--system", help="system prompt (default: the active prompt document)")
    add_mode(p)
    p.add_argument("--samples", type=int, default=1,
                   help="N answers to MESSAGE, each printed, then the majority final answer")
    p.add_argument("--answer-regex", help="how to find a sample's final answer "
                   "(default: its last number, else its last line)")
    add_sampling(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("complete", help="raw continuation of a text")
    p.add_argument("text")
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    add_sampling(p)
    p.set_defaults(func=cmd_complete)


def cmd_chat(args) -> int:
    from workbench.chat.session import ChatSession
    engine = engine_from_flags(args)
    session = ChatSession(open_workspace(), engine, system_override=args.system, mode=args.mode)
    mode = session.mode
    print(f"[{mode.name} mode: {mode.reason}]", file=sys.stderr)
    for note in session.document.notes:
        print(f"note: {note}", file=sys.stderr)
    params = sampling_params(args, session.document.params)
    if args.samples > 1:
        if args.message is None:
            raise WorkbenchError("--samples needs a MESSAGE.")
        return _vote(session, args, params)
    if args.message is not None:
        print_stream(session.ask(args.message, params, _waiting), args.stats)
        _unreviewed(session)
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Chatting with {engine.info.name}. Empty line or Ctrl+D to quit.", file=sys.stderr)
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        if not line.strip():
            break
        try:
            print_stream(session.ask(line, params, _waiting), args.stats)
            _unreviewed(session)
        except KeyboardInterrupt:
            engine.cancel()
            print("\n[stopped]", file=sys.stderr)
        except WorkbenchError as e:  # e.g. the context is full: say so, keep chatting
            print(f"\nworkbench: {e}", file=sys.stderr)
    return 0


def _unreviewed(session) -> None:
    """A command-line answer is stored as it came, not chosen: fine-tuning does not train on it."""
    path = session.ws.conversations.path(session.conversation_id) if session.conversation_id else []
    if path and path[-1].role == "assistant":
        session.ws.conversations.set_accepted(path[-1].id, False)


def _waiting(e) -> None:
    print(f"workbench: {e} Keeping the answer and trying again…", file=sys.stderr)


def _vote(session, args, params) -> int:
    """Self-consistency: N samples (seeds seed, seed+1, ...), each logged, then the vote."""
    from workbench.chat.consistency import vote
    from workbench.runtime.generation import collect, stream
    c = session.compose(args.message)
    texts = []
    for i in range(args.samples):
        p = replace(params, seed=sample_seed(params.seed, i))
        text, stats = collect(stream(session.engine, session.mode.name, c.messages, p))
        session.log_run(c, p, text.strip(), stats)
        texts.append(text.strip())
    result = vote(texts, args.answer_regex)
    for i, (text, answer) in enumerate(zip(texts, result.answers), 1):
        mark = "  <- majority" if result.is_majority(i - 1) else ""
        print(f"--- sample {i} (final answer: {answer or 'none found'}){mark}\n{text}")
    print(f"=== vote: {result.winner or 'no answer found'} ({result.count}/{args.samples})")
    return 0


def cmd_complete(args) -> int:
    engine = engine_from_flags(args)
    print_stream(engine.stream_completion(args.text, sampling_params(args), args.stop), args.stats)
    return 0
