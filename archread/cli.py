"""Command line: argument parsing, output formats, exit codes. Errors are one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from archread import __version__
from archread.errors import ArchreadError, one_line
from archread.ui.first_paint import pause_collection, resume_collection

COMMANDS = ("reduce", "diff", "lint", "verify", "run", "fit")
READER = """the reader (terminal UI):
  archread FILE|NAME [--against REF] [--config CFG]
      FILE: a modeling_*.py or a remote-code folder; NAME: a model type of the installed transformers
      (nemotron, gemma2); REF default llama. `archread FILE --help` for its options.

examples:
  archread nemotron                   the reader: nemotron's core equations against llama
  archread diff gemma2 --format json  the same differences for scripts
  archread verify qwen3_moe           run the reduction against the original, layer by layer"""


class Help(argparse.HelpFormatter):
    """Every option's default in its help, unless the help states it already or there is none to state."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text and action.option_strings:
            text += f" (default {action.default})"
        return text


class _raw_epilog(Help, argparse.RawDescriptionHelpFormatter):
    """The top-level help: the reader's usage and the examples as written."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archread", description="Read a new LLM architecture: reduce, diff, verify.",
                                     epilog=READER, formatter_class=_raw_epilog)
    parser.add_argument("--version", action="version", version=f"archread {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    reduce = sub.add_parser("reduce", formatter_class=Help, help="the reduced Python of a modeling file")
    reduce.add_argument("source", help="modeling_*.py, a folder holding one, or a model type (llama, nemotron)")
    reduce.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    reduce.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    reduce.add_argument("--stats", action="store_true", help="lines removed per pass, original vs reduced size")
    reduce.add_argument("--config", type=Path, help="a checkpoint's config.json (or its folder): fold the branches it decides")
    reduce.add_argument("--root", metavar="NAME", help="remote code: the model class to keep, where the code holds several")

    diff = sub.add_parser("diff", formatter_class=Help, help="components aligned with a reference, and the facts that differ")
    diff.add_argument("source")
    diff.add_argument("--against", default="llama", help="reference file or model type (default llama)")
    diff.add_argument("--config", type=Path, help="a checkpoint's config.json: its reading (branches folded) and its values in the facts")
    diff.add_argument("--format", default="text", choices=["text", "markdown", "json", "html"])
    diff.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    diff.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")

    lint = sub.add_parser("lint", formatter_class=Help, help="config (and weight) values that silently change what a model computes")
    lint.add_argument("target", type=Path, nargs="+",
                      help="config.json files, checkpoint folders, or folders of configs (each *.json in it)")
    lint.add_argument("--weights", action="store_true", help="also read the *.safetensors in the folder")
    lint.add_argument("--format", default="text", choices=["text", "json"])

    verify = sub.add_parser("verify", formatter_class=Help, help="run the reduced model and the original on the same weights, layer by layer")
    verify.add_argument("source")
    verify.add_argument("--config", type=Path, help="a checkpoint's config.json: its reading, built from it (shrunk without --weights)")
    verify.add_argument("--weights", type=Path, help="checkpoint folder with *.safetensors")
    verify.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    verify.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    verify.add_argument("--format", default="text", choices=["text", "json"])
    verify.add_argument("--trust-code", action="store_true", help="allow running a modeling file outside transformers")
    verify.add_argument("--root", metavar="NAME", help="remote code: the model class to verify, where the code holds several")

    run = sub.add_parser("run", formatter_class=Help, help="a real checkpoint through the reduced model on archread's kernels, vs the original")
    run.add_argument("checkpoint", help="checkpoint folder, HF cache folder, or org/name in the local HF cache")
    run.add_argument("--modeling", help="modeling file to reduce (default: the installed transformers' for model_type)")
    run.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    run.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    run.add_argument("--tokens", type=int, default=128, help="sequence length of the comparison (default 128)")
    run.add_argument("--generate", type=int, default=8, help="greedy tokens to continue with both models (default 8)")
    run.add_argument("--no-kernels", action="store_true", help="run the reduced model in plain torch")
    run.add_argument("--bench", action="store_true", help="4,096-token prefill: throughput and peak memory vs the original")
    run.add_argument("--stream", action="store_true", help="one decoder layer's weights on the device at a time")
    run.add_argument("--tp", type=int, default=1, metavar="N",
                     help="tensor parallel over N ranks of torch.distributed (spawned, or torchrun's)")
    run.add_argument("--format", default="text", choices=["text", "json"])
    run.add_argument("--plot", type=Path, help="write the log error per layer as a PNG")
    run.add_argument("--force", action="store_true", help="overwrite the --plot file if it exists")
    run.add_argument("--trust-code", action="store_true", help="allow running a modeling file outside transformers")
    fit = sub.add_parser("fit", formatter_class=Help, help="which architecture a folder of safetensors weights is, from the headers alone")
    fit.add_argument("checkpoint", type=Path, help="folder with *.safetensors (or a sharded index)")
    fit.add_argument("--config", type=Path, help="a config.json whose values the fit takes where shapes cannot tell")
    fit.add_argument("--top", type=int, default=5, help="candidates to report (default 5)")
    fit.add_argument("--format", default="text", choices=["text", "json"])
    fit.add_argument("-o", "--output", type=Path, help="write config.json, the renaming and the reduced modeling file here")
    fit.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    for command in sub.choices.values():  # a choice's options say what they are, so their defaults show too
        for action in command._actions:
            if action.help is None and action.choices:
                action.help = "one of " + ", ".join(map(str, action.choices))
    return parser


def _fit(args) -> int:
    from archread.fit.rank import fit, to_text

    if args.top < 1:
        raise ArchreadError("--top must be ≥ 1")
    if args.output is not None and args.output.exists() and not args.force:
        raise ArchreadError(f"{args.output}: exists; pass --force to overwrite")
    report = fit(args.checkpoint, config=args.config, top=args.top,
                 progress=lambda m: print(m, file=sys.stderr, flush=True))
    if args.output is not None:
        from archread.fit.output import write_folder

        write_folder(report, args.output)
    print(json.dumps(report.to_json(), indent=2) if args.format == "json" else to_text(report))
    return 0


def _reduce(args) -> int:
    from archread.parsers import reduce_source, resolve

    source = resolve(args.source, args.root)
    config = None
    if args.config is not None:
        from archread.runtime.config_values import config_values

        config = config_values(args.config, source)
    result = reduce_source(source, config)
    _write(result.code, args.output, args.force)
    if args.stats:
        err = sys.stderr
        lines, nonblank, reduced = result.file_lines, result.original_lines, result.reduced_lines
        print(f"{result.source.path}: {lines} lines ({nonblank} non-blank) → {reduced} non-blank lines "
              f"({reduced / max(lines, 1):.0%} of the file, {reduced / max(nonblank, 1):.0%} of its non-blank lines) "
              f"in {result.seconds * 1000:.0f} ms", file=err)
        for name, lines in sorted(result.removed.items(), key=lambda kv: -kv[1]):
            if lines:
                print(f"  {name:<20} -{lines}", file=err)
        for warning in result.warnings:
            print(f"  warning: {warning}", file=err)
    return 0


def _write(text: str, output: Path | None, force: bool) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    if output.exists() and not force:
        raise ArchreadError(f"{output}: exists; pass --force to overwrite")
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchreadError(f"{output}: cannot write ({exc.strerror})") from None


def _diff(args) -> int:
    from archread.diff import diff_models
    from archread.diff.render import RENDER
    from archread.parsers import resolve

    model, reference = _readings(resolve(args.source), resolve(args.against), args.config)
    _write(RENDER[args.format](diff_models(model, reference, args.config)), args.output, args.force)
    return 0


def _readings(source, reference, config: Path | None) -> list:
    """The model's and the reference's reductions, side by side in child processes; the model's for the
    checkpoint configuration `config` when one is given (folded here, never cached: the cache is by source)."""
    from archread.parsers.cache import collect, prefetch

    if config is None:
        return collect(prefetch(source, reference), source, reference)
    from archread.runtime.config_values import reduce_for

    children = prefetch(reference)
    return [reduce_for(source, config), *collect(children, reference)]


def _lint_targets(targets: list[Path]) -> list[Path]:
    """Each target as the config files it names: a file; a checkpoint folder's config.json; else every *.json of
    a folder of configs. A folder with neither is named as it is (load_config says what is missing)."""
    out = []
    for target in targets:
        if target.is_dir() and not (target / "config.json").is_file():
            out += sorted(target.glob("*.json")) or [target]
        else:
            out.append(target)
    return out


def _lint(args) -> int:
    """Every config named, one after another: an unreadable one is a line on stderr and exit 2 at the end, never
    the end of the batch."""
    from archread.parsers.lint import SEVERITIES, lint_config, load_config

    results, failed, configs = [], False, _lint_targets(args.target)
    for target in configs:
        try:
            path, cfg = load_config(target)
            findings = lint_config(cfg)
            if args.weights:
                from archread.runtime.lint_weights import lint_weights

                findings += lint_weights(path.parent, cfg)
        except ArchreadError as exc:
            print(f"archread: {exc}", file=sys.stderr)
            failed = True
            continue
        findings.sort(key=lambda f: SEVERITIES.index(f.severity))
        results.append((path, findings))
    if args.format == "json":
        reports = [{"config": str(path), "findings": [f.to_json() for f in findings]} for path, findings in results]
        if reports:
            print(json.dumps(reports[0] if len(configs) == 1 else reports, indent=2))
    else:
        for path, findings in results:
            print(f"{path}: {len(findings)} finding{'s' * (len(findings) != 1)}")
            for f in findings:
                print(f"  {f.severity:<8} {f.code:<22} {f.message}\n{'':<34}why: {f.why}\n{'':<34}fix: {f.fix}")
    if failed:
        return 2
    return 1 if any(f.severity in ("error", "warning") for _, findings in results for f in findings) else 0


def _verify(args) -> int:
    from archread.runtime.verify import verify

    report = verify(args.source, config=args.config, weights=args.weights, device=args.device, dtype=args.dtype,
                    trust_code=args.trust_code, root=args.root)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.to_text())
    return 0 if report.match else 1


def _run(args) -> int:
    from archread.runtime.run import run

    if args.plot is not None and args.plot.exists() and not args.force:
        raise ArchreadError(f"{args.plot}: exists; pass --force to overwrite")
    if args.tokens < 2 or args.generate < 0:
        raise ArchreadError("--tokens must be ≥ 2 and --generate ≥ 0")
    report = run(args.checkpoint, modeling=args.modeling, device=args.device, dtype=args.dtype,
                 trust_code=args.trust_code, stream=args.stream, bench=args.bench, seq=args.tokens,
                 new_tokens=args.generate, kernels=not args.no_kernels, tp=args.tp)
    from archread.runtime.tp import rank

    if args.tp > 1 and rank() != 0:  # under torchrun every rank has the report: one prints it
        return 0 if report.verify.match else 1
    if args.plot is not None:
        from archread.runtime.plot import error_plot

        error_plot(report.verify, args.plot)
    print(json.dumps(report.to_json(), indent=2) if args.format == "json" else report.to_text())
    return 0 if report.verify.match else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv = ["ui", *argv]
    if argv and argv[0] == "ui":
        return _ui(argv[1:])
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        return {"reduce": _reduce, "diff": _diff, "lint": _lint, "verify": _verify, "run": _run,
                "fit": _fit}[args.command](args)
    except ArchreadError as exc:
        print(f"archread: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # what a model or release archread never met raised: still one line, not a traceback
        print(f"archread: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 2


def _ui(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="archread", description="Open the reader for a modeling file.",
                                     formatter_class=Help)
    parser.add_argument("source", help="modeling_*.py, a remote-code folder, or a model type (nemotron, gemma2)")
    parser.add_argument("--against", default="llama", help="reference: a model type or a modeling file (default llama)")
    parser.add_argument("--config", type=Path, help="a checkpoint's config.json: read the model as it configures it")
    args = parser.parse_args(argv)
    pause_collection()  # until the first paint, when the app resumes it: see archread/ui/first_paint.py
    try:
        app = build_app(args.source, args.against, args.config)
    except ArchreadError as exc:
        print(f"archread: {exc}", file=sys.stderr)
        return 2
    try:
        app.run()
    finally:
        resume_collection()  # if it never painted
    if app.failure:
        print(f"archread: {app.failure}", file=sys.stderr)
        return 2
    return 0


def build_app(source: str, against: str, config: Path | None = None):
    """The reader for source against a reference. Both cached: the reader itself is the first screen.
    Otherwise both reduce (in child processes) while the UI imports and paints a loading screen."""
    from archread.parsers import resolve
    from archread.parsers.cache import collect, is_cached, prefetch

    notice = ""
    if config is None and _weights_only(Path(source)):
        source, config, notice = _fitted(Path(source))
    sources = resolve(source), resolve(against)
    if config is not None and not config.exists():
        raise ArchreadError(f"{config}: no such file or folder")
    if config is None and all(map(is_cached, sources)):
        ready = collect([], *sources)
        from archread.ui.app import ArchreadApp

        return ArchreadApp(*ready, notice=notice)
    children = prefetch(*sources) if config is None else []
    from archread.ui.app import ArchreadApp

    def pending():
        return collect(children, *sources) if config is None else _readings(*sources, config)

    what = f"{sources[0].label}{' as ' + config.name if config else ''} against {sources[1].label}"
    return ArchreadApp(pending=pending, what=what, config=config, notice=notice)


def _weights_only(folder: Path) -> bool:
    """A folder of safetensors weights with no modeling code to read."""
    return folder.is_dir() and not any(folder.glob("*.py")) and (
        any(folder.glob("*.safetensors")) or any(folder.glob("*.safetensors.index.json")))


def _fitted(folder: Path) -> tuple[str, Path, str]:
    """(the best fit's modeling file, its fitted config.json in a scratch folder, the line that says so)."""
    import tempfile

    from archread.fit.output import fitted_config
    from archread.fit.rank import fit

    report = fit(folder, top=3)
    best = report.candidates[0]
    config = Path(tempfile.mkdtemp(prefix="archread-fit-")) / "config.json"
    config.write_text(json.dumps(fitted_config(best), indent=2), encoding="utf-8")
    others = ", ".join(f"{c.model_type} {c.score:.3f}" for c in report.candidates[1:])
    notice = (f"{folder.name} has no modeling code: its tensors fit {best.model_type} (score {best.score:.3f}"
              f"{'; matched by structure' if report.by_structure else ''}){'; next: ' + others if others else ''}")
    return best.entry["path"], config, notice


if __name__ == "__main__":
    sys.exit(main())
