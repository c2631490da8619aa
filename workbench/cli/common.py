"""What the command groups share: options, loading a model, sampling from flags, streaming out."""

import argparse
import json
import sys

from workbench.runtime.generation import MODE_CHOICES
from workbench.runtime.params import LoadOptions, RunStats, SamplingParams, check_param


def add_mode(p: argparse.ArgumentParser, help: str | None = None) -> None:
    p.add_argument("--mode", default="auto", choices=MODE_CHOICES,
                   help=help or "auto: the chat template if the model has one, else URIAL")


def add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="GGUF file (default: the default chat model in models/)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--ctx", type=int, default=None, help="context size in tokens")
    p.add_argument("--gpu-layers", default="auto", help="auto, all, none or a number")
    p.add_argument("--stats", action="store_true", help="print the run's stats to stderr")


def load_engine(path: str | None = None, options: LoadOptions | None = None):
    """An Engine with the model at path (default: the default chat model) loaded; imported
    here so commands that run no model never load llama.cpp. path may be a server's URL
    (URL#model: a remote engine); WORKBENCH_ENGINE is the default."""
    from workbench.runtime.engines import default_spec, is_remote, open_engine
    path = path or default_spec()
    if is_remote(path):
        engine = open_engine(path, options)
        print(engine.load_result.notice, file=sys.stderr)
        return engine
    from workbench.cli.cache import disk_cache
    from workbench.runtime.engine import Engine
    from workbench.runtime.models import default_model_path
    engine = Engine(disk_cache())  # prompt snapshots on disk: the next process starts at once
    result = engine.load(path or default_model_path("chat"), options)
    if result.notice:
        print(result.notice, file=sys.stderr)
    return engine


def engine_from_flags(args):
    return load_engine(args.model, LoadOptions(n_ctx=args.ctx, n_gpu_layers=args.gpu_layers))


def sampling_params(args, saved: dict | None = None) -> SamplingParams:
    """Sampling parameters: defaults, then the document's saved ones, then the flags."""
    p = SamplingParams.from_dict(saved or {})
    for name in ("temperature", "seed", "max_tokens"):
        if getattr(args, name, None) is not None:
            flag = "--" + name.replace("_", "-")
            setattr(p, name, check_param(name, getattr(args, name), label=flag))
    return p


def print_stream(stream, show_stats: bool) -> str:
    """Write text pieces to stdout as they come; return the whole text."""
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


def show_rows(rows: list, as_json: bool, line, empty: str = "", data=None) -> int:
    """Rows one line each (line(row)), or as JSON (data, default the rows); `empty` says so
    on stderr when there are none."""
    if as_json:
        print(json.dumps(rows if data is None else data, indent=2, ensure_ascii=False))
        return 0
    if not rows and empty:
        print(empty, file=sys.stderr)
    for row in rows:
        print(line(row))
    return 0


def open_workspace():
    from workbench.workspace import Workspace
    return Workspace.open()
