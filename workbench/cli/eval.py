"""`workbench eval`: a test set run across prompt versions and models, printed as a matrix."""

import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path

from workbench.cli.common import add_mode
from workbench.errors import WorkbenchError


def register(sub) -> None:
    p = sub.add_parser("eval", help="run a test set across prompt versions and models; "
                       "print the matrix and each column's pass rate")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--tasks", help="a test set file: JSONL (the learn format), CSV or promptfoo YAML")
    source.add_argument("--set", help="a stored test set (see `workbench tests list`)")
    source.add_argument("--history", action="store_true",
                        help="list the stored runs' scores per prompt version instead of running")
    p.add_argument("--versions", help="comma-separated version numbers and/or draft (default: draft)")
    p.add_argument("--models", help="comma-separated GGUF files (default: the default chat model)")
    p.add_argument("--repeat", type=int, default=1, help="runs per case and column, seeds S, S+1, ...")
    p.add_argument("--seed", type=int, default=None, help="seed of the first repeat (default 0)")
    p.add_argument("--temperature", type=float, default=None, help="instead of each version's own")
    p.add_argument("--max-tokens", type=int, default=None, help="instead of each version's own")
    p.add_argument("--split", choices=["all", "train", "test"], default="all",
                   help="only the cases of this split (default: all)")
    p.add_argument("--judge", help="GGUF file that grades `judge` checks (default: each column's model)")
    add_mode(p)
    p.add_argument("--ctx", type=int, default=None, help="context size in tokens")
    p.add_argument("--baseline", help="the column others are compared with: its label (draft, v1, "
                   "'v1 · MODEL') or number from 1 (default: the first)")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a column fails a case the baseline passes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)


def model_path(name: str) -> str:
    """A model given by path, or by file name in the models folder."""
    from workbench.runtime.models import models_dir
    path = Path(name).expanduser()
    if not path.exists() and (models_dir() / name).exists():
        path = models_dir() / name
    return str(path)


def cmd_eval(args) -> int:
    from workbench.evals.results import EvalStore
    from workbench.workspace import Workspace
    ws = Workspace.open()
    doc_id = ws.prompts.active_id()
    if args.history:
        return show_history(EvalStore(ws.db), doc_id, args.json)
    from workbench.evals import runner
    from workbench.evals.sets import TestSetStore, read_set_file
    from workbench.runtime.models import default_model_path
    from workbench.runtime.params import check_param
    if args.set:
        found = TestSetStore(ws.db).find(args.set, doc_id)
        cases, set_id, set_name = TestSetStore(ws.db).tasks(found["id"]), found["id"], found["name"]
    else:
        cases, set_id, set_name = read_set_file(args.tasks), None, Path(args.tasks).name
    if args.split != "all":
        cases = [c for c in cases if c.split == args.split]
    overrides = {name: check_param(name, getattr(args, name), label="--" + name.replace("_", "-"))
                 for name in ("temperature", "max_tokens") if getattr(args, name) is not None}
    variants = runner.variants_for(ws, doc_id, args.versions)
    if not 1 <= args.repeat <= 100:
        raise WorkbenchError("--repeat is a number of repeats from 1 to 100.")
    models = [model_path(m.strip()) for m in args.models.split(",") if m.strip()] if args.models \
        else [str(default_model_path("chat"))]
    plan = runner.plan(ws, variants, models, cases,
                       repeats=args.repeat, seed=0 if args.seed is None else args.seed, mode=args.mode,
                       overrides=overrides, judge_model=model_path(args.judge) if args.judge else None,
                       document_id=doc_id, set_id=set_id, set_name=set_name)
    baseline = baseline_index(plan.columns, args.baseline)
    engines = runner.EngineCache(n_ctx=args.ctx)
    tty = sys.stderr.isatty()
    print(f"Evaluating {len(cases)} cases x {len(plan.columns)} columns x {args.repeat} "
          f"repeat(s)…", file=sys.stderr)
    with _interruptible() as stop:
        try:
            result = runner.execute(plan, engines, progress=lambda p: _progress(p, tty),
                                    cancelled=stop.is_set)
        finally:
            engines.close()
    if tty:
        print(file=sys.stderr)
    try:
        EvalStore(ws.db).save(result)
    except WorkbenchError as e:  # the results are still shown
        print(f"workbench: the results were not stored: {e}", file=sys.stderr)
    data = result.to_data(baseline)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from workbench.evals.report import matrix_text
        sys.stdout.write(matrix_text(data))
    stored = f"Stored as evaluation run {result.run_id}" if result.run_id else "Not stored"
    print(f"{stored} ({result.seconds:.1f} s, {result.reuse_share():.0%} of prompt tokens reused "
          "from the cache).", file=sys.stderr)
    if result.status == "cancelled":
        print("Stopped (Ctrl+C): the cells that finished were stored.", file=sys.stderr)
        return 130
    if args.fail_on_regression and data["regressions"]:
        print(f"{len(data['regressions'])} regression(s) against {data['baseline']}.", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _interruptible():
    """The first Ctrl+C stops the evaluation after the current token (what finished is kept);
    a second one interrupts at once."""
    stop = threading.Event()

    def on_interrupt(_signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread: Ctrl+C cannot reach it anyway
        yield stop
        return
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def baseline_index(columns, choice: str | None) -> int:
    if not choice:
        return 0
    labels = [c.label for c in columns]
    if choice in labels:
        return labels.index(choice)
    by_variant = [j for j, c in enumerate(columns) if c.variant == choice]
    if by_variant:
        return by_variant[0]
    if choice.isdigit() and 1 <= int(choice) <= len(columns):
        return int(choice) - 1
    raise WorkbenchError(f"--baseline {choice!r} is not a column; the columns are "
                         f"{', '.join(labels)} (or their numbers from 1).")


LOG_EVERY_S = 10.0  # progress lines in a log (no terminal): the first cell, then this often
_last_line = [0.0]


def _progress(p: dict, tty: bool) -> None:
    left = int(p["eta_s"])
    line = f"{p['done']}/{p['total']} cells · {p['column']} · about {left // 60}:{left % 60:02d} left"
    if tty:
        print(f"\r{line} ", end="", file=sys.stderr, flush=True)
        return
    now = time.monotonic()
    if p["done"] == 1 or now - _last_line[0] >= LOG_EVERY_S:
        _last_line[0] = now
        print(line, file=sys.stderr, flush=True)


def show_history(store, doc_id: int, as_json: bool) -> int:
    history = store.history(doc_id)
    if as_json:
        print(json.dumps(history, indent=2, ensure_ascii=False))
        return 0
    if not history:
        print("No evaluation runs of this prompt document yet (`workbench eval --tasks FILE`).",
              file=sys.stderr)
    for version, rows in history.items():
        print(version)
        for r in rows:
            print(f"  run {r['run_id']:<4} {r['created'][:16].replace('T', ' ')}  {r['passed']}/{r['total']} "
                  f"({r['rate']:.0%})  {r['model_name']}  {r['set_name']}{'  (learn)' if r['kind'] == 'learn' else ''}")
    return 0
