"""`--engine URL` on every command that runs a model, and `workbench models --engine URL`."""

import argparse
import json

ENGINE_HELP = ("a server to run the model on instead: http(s)://HOST:PORT[#MODEL] (llama-server, "
               "vLLM, Ollama, LM Studio or any OpenAI-compatible server); --model then names the "
               "server's model. Default: WORKBENCH_ENGINE")


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """--engine on `models` and on every subcommand (at any depth) that takes --model."""
    for name, sub in _subparsers(parser):
        options = {s for a in sub._actions for s in a.option_strings}
        if "--engine" not in options and ("--model" in options or name == "models"):
            sub.add_argument("--engine", metavar="URL", help=ENGINE_HELP)


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from _subparsers(sub)


def resolve_engine(args) -> None:
    """--engine URL [--model NAME] becomes the model the command loads: URL#NAME."""
    engine = getattr(args, "engine", None)
    if engine and hasattr(args, "model") and getattr(args, "command", "") != "models":
        from workbench.runtime.engines import with_model
        args.model = with_model(engine, args.model)


def cmd_models(args) -> int:
    """The models a server offers (its /v1/models), and what it offers besides."""
    from workbench.runtime.engines import open_engine
    from workbench.runtime.remote import split_spec
    base, _ = split_spec(args.engine)
    engine = open_engine(base)
    f = engine.features
    if args.json:
        print(json.dumps({"server": base, "flavour": f.flavour, "models": f.models,
                          "exact_tokens": engine.exact_tokens, "exact_render": engine.exact_render,
                          "n_ctx": engine.n_ctx}, indent=2))
        return 0
    from workbench.runtime.interface import exactness_note
    print(f"{base} ({f.flavour}), {len(f.models)} model(s); {exactness_note(engine)}.")
    for m in f.models:
        print(f"  {m}    (use --engine {base}#{m})")
    return 0
