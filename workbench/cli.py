"""The `workbench` command: the workbench's operations without a window."""

import argparse
import json
import sys
from pathlib import Path

from . import cli_learn, cli_lessons, cli_prompt, cli_share
from .errors import WorkbenchError
from .models import default_model_path, human_size, list_models, models_dir


def _add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="GGUF file (default: the default chat model in models/)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--ctx", type=int, default=None, help="context size in tokens")
    p.add_argument("--gpu-layers", default="auto", help="auto, all, none or a number")
    p.add_argument("--stats", action="store_true", help="print the run's stats to stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the GGUF models found")
    p.add_argument("--models-dir", action="append", type=Path, default=[],
                   help="another folder to look in (repeatable)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("chat", help="chat with a model: one answer, or interactive without MESSAGE")
    p.add_argument("message", nargs="?")
    p.add_argument("--system", help="system prompt (default: the active prompt document)")
    p.add_argument("--mode", default="auto", choices=["auto", "chat", "urial", "raw"],
                   help="auto: the chat template if the model has one, else URIAL")
    p.add_argument("--samples", type=int, default=1,
                   help="N answers to MESSAGE, each printed, then the majority final answer")
    p.add_argument("--answer-regex", help="how to find a sample's final answer "
                   "(default: its last number, else its last line)")
    _add_sampling(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("complete", help="raw continuation of a text")
    p.add_argument("text")
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    _add_sampling(p)
    p.set_defaults(func=cmd_complete)
    p = sub.add_parser("run", help="open the workbench window")
    p.set_defaults(func=cmd_run)
    cli_lessons.register(sub)
    cli_prompt.register(sub)
    cli_share.register(sub)
    cli_learn.register(sub)
    return parser


def cmd_models(args) -> int:
    dirs = [models_dir(), *args.models_dir]
    listing = list_models(*dirs)
    if args.json:
        print(json.dumps({"models": [i.to_dict() for i in listing.infos],
                          "errors": listing.errors}, indent=2))
        return 0
    if not listing.infos:
        print(f"No GGUF models in {', '.join(map(str, dirs))}. Run `make setup` or copy a .gguf there.")
    for i in listing.infos:
        print(f"{Path(i.path).name}\n  {i.name} · {i.architecture} {i.size_label} · "
              f"{i.quantization} · {human_size(i.file_size)} · ctx {i.context_length:,} · "
              f"{i.kind}{' (chat template found)' if i.kind == 'chat' else ' (no chat template)'}")
    for path, why in listing.errors.items():
        print(f"{Path(path).name}: unreadable: {why}", file=sys.stderr)
    return 0


def _engine_for(args):
    # Imported here so `workbench models` and `--help` do not load llama.cpp.
    from .engine import Engine, LoadOptions
    engine = Engine()
    path = args.model or default_model_path("chat")
    result = engine.load(path, LoadOptions(n_ctx=args.ctx, n_gpu_layers=args.gpu_layers))
    if result.notice:
        print(result.notice, file=sys.stderr)
    return engine


def _params(args, saved: dict | None = None):
    """Sampling parameters: defaults, then the document's saved ones, then the flags."""
    from .engine import SamplingParams
    p = SamplingParams.from_dict(saved or {})
    for name in ("temperature", "seed", "max_tokens"):
        if getattr(args, name, None) is not None:
            setattr(p, name, getattr(args, name))
    return p


def _print_stream(stream, show_stats: bool) -> str:
    """Write text pieces to stdout as they come; return the whole text."""
    from .engine import RunStats
    text = []
    for item in stream:
        if isinstance(item, RunStats):
            if show_stats:
                print(json.dumps(item.to_dict()), file=sys.stderr)
        else:
            text.append(item)
            sys.stdout.write(item)
            sys.stdout.flush()
    sys.stdout.write("\n")
    return "".join(text)


def cmd_chat(args) -> int:
    from .chat_session import ChatSession
    from .workspace import Workspace
    engine = _engine_for(args)
    session = ChatSession(Workspace.open(), engine, system_override=args.system, mode=args.mode)
    mode = session.mode
    print(f"[{mode.name} mode: {mode.reason}]", file=sys.stderr)
    params = _params(args, session.document.params)
    if args.samples > 1:
        if args.message is None:
            raise WorkbenchError("--samples needs a MESSAGE.")
        return _vote(session, args, params)
    if args.message is not None:
        _print_stream(session.ask(args.message, params), args.stats)
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
            _print_stream(session.ask(line, params), args.stats)
        except KeyboardInterrupt:
            engine.cancel()
            print("\n[stopped]", file=sys.stderr)
    return 0


def _vote(session, args, params) -> int:
    """Self-consistency: N samples (seeds seed, seed+1, ...), each logged, then the vote."""
    from dataclasses import replace

    from .consistency import vote
    from .engine import RunStats
    from .generation import stream
    c = session.compose(args.message)
    texts = []
    for i in range(args.samples):
        p = replace(params, seed=None if params.seed is None else params.seed + i)
        items = list(stream(session.engine, session.mode.name, c.messages, p))
        text = "".join(x for x in items if not isinstance(x, RunStats)).strip()
        session.log_run(c, p, text, items[-1])
        texts.append(text)
    result = vote(texts, args.answer_regex)
    for i, (text, answer) in enumerate(zip(texts, result.answers), 1):
        mark = "  <- majority" if result.is_majority(i - 1) else ""
        print(f"--- sample {i} (final answer: {answer or 'none found'}){mark}\n{text}")
    print(f"=== vote: {result.winner or 'no answer found'} ({result.count}/{args.samples})")
    return 0


def cmd_complete(args) -> int:
    engine = _engine_for(args)
    _print_stream(engine.stream_completion(args.text, _params(args), args.stop), args.stats)
    return 0


def cmd_run(args) -> int:
    from .app import main as run_app
    return run_app()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
