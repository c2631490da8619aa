"""`workbench cache`: the prompt snapshots kept on disk (what is stored, its cap, clearing it)."""

import json
from datetime import datetime

from workbench.errors import WorkbenchError
from workbench.runtime.models import human_size
from workbench.runtime.prompt_cache import MAX_MB_ENV, DiskCache, cache_folder, max_mb, set_max_mb


def register(sub) -> None:
    """Add the `cache` command group."""
    p = sub.add_parser("cache", help="prompt snapshots kept on disk so prompts start at once")
    cs = p.add_subparsers(dest="cache_command", required=True)
    a = cs.add_parser("info", help="the cache folder, its snapshots and its size cap")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_info)
    a = cs.add_parser("clear", help="remove every snapshot")
    a.set_defaults(func=cmd_clear)
    a = cs.add_parser("set-max", help="the size cap in MB (oldest snapshots go first past it)")
    a.add_argument("mb", type=_megabytes)
    a.set_defaults(func=cmd_set_max)


def _megabytes(text: str) -> int:
    import argparse
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"the cap is a whole number of MB (0 keeps nothing), not {text!r}")
    return int(text)


def disk_cache() -> DiskCache:
    """The cache the CLI's engines use: model hashes come from the run log's table (a model file
    is read once per size and mtime, then remembered)."""
    runs = None

    def model_sha256(path: str) -> str:
        nonlocal runs
        from workbench.chat.runs import file_sha256
        if runs is None:
            from workbench.cli.common import open_workspace
            runs = open_workspace().runs
        try:
            return runs.model_sha256(path)
        except WorkbenchError:  # a read-only or busy database still lets the cache work
            return file_sha256(path)

    return DiskCache(cache_folder(), model_sha256)


def cmd_info(args) -> int:
    info = DiskCache(cache_folder()).info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['folder']}\n{info['files']} snapshot(s), {human_size(info['bytes'])} of "
          f"{human_size(info['max_bytes'])} (cap: `workbench cache set-max MB` or {MAX_MB_ENV})")
    for row in info["snapshots"]:
        used = datetime.fromtimestamp(row["last_used"]).strftime("%Y-%m-%d %H:%M")
        print(f"  {row['tokens']:>7,} tokens  {human_size(row['bytes']):>9}  {row['model']}  "
              f"last used {used}")
    return 0


def cmd_clear(args) -> int:
    n = DiskCache(cache_folder()).clear()
    print(f"Removed {n} snapshot(s).")
    return 0


def cmd_set_max(args) -> int:
    set_max_mb(cache_folder(), args.mb)
    cache = DiskCache(cache_folder())
    removed = cache.evict()
    note = f" (overridden by {MAX_MB_ENV})" if max_mb(cache_folder()) != args.mb else ""
    print(f"Cache cap set to {args.mb:,} MB{note}; {len(removed)} file(s) removed to fit.")
    return 0
