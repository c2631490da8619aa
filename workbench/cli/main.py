"""The `workbench` command: the workbench's operations without a window."""

import argparse
import json
import sys
from pathlib import Path

from workbench.cli import chat, learn, lessons, prompt, records, share
from workbench.errors import WorkbenchError
from workbench.logs import report_unexpected
from workbench.runtime.models import human_size, list_models, models_dir


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with command="run", only what `workbench run` takes (the other commands'
    parsers cost the window ~40 ms of its start)."""
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the GGUF models found")
    p.add_argument("--models-dir", action="append", type=Path, default=[],
                   help="another folder to look in (repeatable)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("run", help="open the workbench window")
    p.set_defaults(func=cmd_run)
    if command == "run":
        return parser
    from workbench.cli import eval as eval_cmd  # evaluations: `eval`, `tests`
    from workbench.cli import testsets
    for group in (chat, lessons, prompt, share, learn, records, eval_cmd, testsets):
        group.register(sub)
    from workbench.cli import cache as cache_cmd  # `cache`: prompt snapshots on disk
    cache_cmd.register(sub)
    from workbench.cli.remote import add_engine_flags  # --engine URL wherever --model is
    add_engine_flags(parser)
    return parser


def cmd_models(args) -> int:
    if getattr(args, "engine", None):  # a server's models
        from workbench.cli.remote import cmd_models as server_models
        return server_models(args)
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


def cmd_run(args) -> int:
    from workbench.app import main as run_app
    return run_app()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else argv
    return build_parser("run" if argv[:1] == ["run"] else None).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from workbench.cli.remote import resolve_engine
    resolve_engine(args)
    # The error boundary: a message the user can act on, one line, never a traceback
    # (an unexpected one goes to the log with its traceback).
    try:
        return args.func(args)
    except WorkbenchError as e:
        message = str(e)
    except KeyboardInterrupt:
        return 130
    except UnicodeEncodeError as e:
        message = (f"The text given has bytes that are not valid UTF-8 ({e.object[e.start:e.end]!r}), "
                   "so it cannot be stored or shown; write it as UTF-8 text.")
    except Exception as e:  # noqa: BLE001 - this is the boundary
        message = report_unexpected(e, f"`workbench {args.command}`")
    try:
        print(f"workbench: {message}", file=sys.stderr)
    except UnicodeEncodeError:
        print(f"workbench: {message!a}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
