"""Run in a subprocess under another transformers release (PYTHONPATH puts it first): build the original named by
a spec on a tiny configuration with random weights, run it on the test tokens and on a padded batch of them, and
write what verify compares as safetensors.

    python -m archread.runtime.original_runner SPEC_JSON OUT_DIR
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from importlib import metadata
from pathlib import Path

_HUB = {"transformers", "huggingface-hub", "tokenizers"}  # what the release brings its own of


def _hide_what_leans_on_another_hub() -> None:
    """Packages of this environment that require the hub, transformers or tokenizers but that the release did not
    bring (transformers 5.25 pulls in `kernels`, which imports names 4.52's hub lacks): the release's optional
    integrations would import them against its own, older hub. They are marked absent (`sys.modules[name] =
    None`: `find_spec` then says None and an import fails), so the release runs as if they were not installed."""
    release = Path(importlib.util.find_spec("transformers").origin).resolve().parents[1]
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "").lower())
        if name in _HUB or name == "archread" or Path(dist.locate_file("")).resolve() == release:
            continue
        needs = {re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower().replace("_", "-")
                 for r in dist.requires or () if "extra ==" not in r}
        if needs & _HUB:
            for top in (dist.read_text("top_level.txt") or "").split() or [name.replace("-", "_")]:
                sys.modules.setdefault(top, None)


_hide_what_leans_on_another_hub()

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from archread.errors import ArchreadError  # noqa: E402
from archread.parsers.source import resolve  # noqa: E402
from archread.runtime import stand_ins  # noqa: E402
from archread.runtime.code_sizes import code_texts, literal_divisors, literal_padding_ids, literal_sizes  # noqa: E402
from archread.runtime.compare import padding_mask, real_token_logits, run_original_with_taps, watched  # noqa: E402
from archread.runtime.cuda_paths import asks_for_cuda, kernel_only_name  # noqa: E402
from archread.runtime.finite_weights import finite_or_unit_scale  # noqa: E402
from archread.runtime.original import configuration, find_original  # noqa: E402
from archread.runtime.own_faults import unset_field  # noqa: E402
from archread.runtime.packages import MissingPackage, PackageUnavailable  # noqa: E402
from archread.runtime.reading_values import on_runnable_values, on_torch_path  # noqa: E402
from archread.runtime.release import CANNOT_IMPORT, MISSING_PACKAGE, NEEDS_CUDA, UNAVAILABLE  # noqa: E402
from archread.runtime.second_try import tiny_then_own_widths  # noqa: E402
from archread.runtime.test_input import (  # noqa: E402
    candidate_inputs,
    first_that_runs,
    literal_ids,
    looked_up,
    needs_more_than_tokens,
)
from archread.runtime.tiny import build_tiny, shrink, test_tokens  # noqa: E402

_PLAIN = (int, float, str, bool, type(None), list, tuple, dict)


def main(spec: dict, out: Path) -> None:
    repo = Path(spec["path"]) if Path(spec["path"]).is_dir() else None
    if repo is not None:
        stand_ins.install(spec.get("stand_ins", {}), repo)
    try:
        original = find_original(resolve(spec.get("file") or spec["path"]), spec["root"])
    except MissingPackage as exc:  # the parent brings it into the release's folder and runs this again
        (out / "missing.txt").write_text(f"{exc.module} {exc.imported_by or ''}")
        print(f"archread: {exc}", file=sys.stderr)
        sys.exit(MISSING_PACKAGE)
    except PackageUnavailable as exc:  # no release cures it
        print(f"archread: {exc}", file=sys.stderr)
        sys.exit(UNAVAILABLE)
    except ArchreadError as exc:
        print(f"archread: {exc}", file=sys.stderr)
        sys.exit(CANNOT_IMPORT)
    config = configuration(original.model_type, Path(spec["config"]) if spec.get("config") else None, original.config_class)
    config = on_runnable_values(on_torch_path(config, spec.get("torch_path")), spec.get("repaired"))
    source = resolve(spec.get("file") or spec["path"])  # the modeling file read, where the folder holds several
    lookups = looked_up(source.text)

    def run(tiny):
        model, cfg = build_tiny(original.model_class, tiny)
        model = model.float()
        with stand_ins.computing():
            tokens = first_that_runs(model, candidate_inputs(cfg, lookups, (2, test_tokens())))
            rescaled = finite_or_unit_scale(model, tokens)
            names = watched(model)
            return (model, cfg, tokens, names, rescaled, *run_original_with_taps(model, tokens, names))

    try:
        texts = code_texts(source.text, repo)  # read once: sizes and ids the code writes as literals
        divisors, ids = literal_divisors(texts), literal_ids(lookups) | literal_padding_ids(texts)
        tiny = shrink(config, literal_sizes(source.text), spec.get("assumed"), ids, divisors)
        model, cfg, tokens, names, rescaled, logits, taps, whole = tiny_then_own_widths(run, tiny, config)
    except ArchreadError as exc:  # it runs, but gives nothing to compare
        print(f"archread: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        unset = unset_field(exc, Path(spec["config"]) if spec.get("config") else None)
        if unset is not None:  # no release cures it: said as what the code reads
            print(f"archread: {unset}", file=sys.stderr)
            sys.exit(1)
        beyond = needs_more_than_tokens(original.model_class)
        if beyond is not None and not asks_for_cuda(exc):
            print(f"archread: {type(exc).__name__}: {exc}; {beyond}", file=sys.stderr)
            sys.exit(1)
        if not asks_for_cuda(exc):
            raise
        why = kernel_only_name(exc)
        what = f"it reads {why}" if why else f"{type(exc).__name__}: {exc}"
        print(f"archread: the original needs CUDA, which this machine lacks ({what})", file=sys.stderr)
        sys.exit(NEEDS_CUDA)
    mask = padding_mask(tokens)
    fresh = torch.contiguous_format  # a copy of its own, laid out plainly: safetensors takes neither views nor strides
    extra, padded_note = {}, None
    try:
        with stand_ins.computing():
            extra = {"mask": mask, "padded_logits": real_token_logits(model, tokens, mask).clone(memory_format=fresh)}
    except Exception as exc:  # noqa: BLE001 - an original that refuses padding: said in the report
        padded_note = f"padded batch not checked: the original rejects it ({type(exc).__name__})"
    save_file({k: v.clone().contiguous() for k, v in model.state_dict().items()}, out / "weights.safetensors")
    if whole is not None:  # the reduced model is run with it too
        extra["whole_mask"] = whole
    save_file({"tokens": tokens, "logits": logits.clone(memory_format=fresh), **extra,
               **{f"tap:{k}": v.clone(memory_format=fresh) for k, v in taps.items()}},
              out / "taps.safetensors")
    fields = {**_derived(cfg), **cfg.to_dict(), "_archread_names": names, "_archread_origin": original.origin,
              "_archread_padded": padded_note, "_archread_stand_ins": stand_ins.stood_in(repo) if repo is not None else {},
              "_archread_weights": rescaled}
    (out / "config.json").write_text(json.dumps(fields, default=str))


def _derived(cfg) -> dict:
    """What the code may read besides the fields: attribute_map aliases (hidden_size → n_embd), properties
    (FalconConfig.rotary) and plain class attributes, private ones too (5.25 Emu3's `attention_bias = False`,
    Lfm3's `_rope_type_labels`: not fields)."""
    derived = {}
    for name in getattr(cfg, "attribute_map", {}):
        try:
            derived[name] = getattr(cfg, name)
        except AttributeError:
            pass
    for name in dir(type(cfg)):
        if name.startswith("__") or not isinstance(getattr(type(cfg), name, None), (property, *_PLAIN)):
            continue
        try:
            value = getattr(cfg, name)
        except Exception:  # noqa: BLE001 - a property that needs more than the config has
            continue
        if isinstance(value, _PLAIN):
            derived[name] = value
    return derived


if __name__ == "__main__":
    main(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
