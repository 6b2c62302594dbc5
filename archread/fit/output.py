"""`fit -o OUT`: a folder for `archread run` from the best candidate: config.json, the renaming map, the
reduced modeling file, and what the shapes cannot tell, as facts to check with the candidate's defaults."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from archread.errors import ArchreadError
from archread.fit.rank import FitReport

# configuration fields no tensor shape depends on, by the words in their names
_UNSEEN = (("eps",), ("epsilon",), ("rope",), ("theta",), ("scaling",), ("tie_word",), ("act",), ("activation",),
           ("softcap",), ("multiplier",), ("window",), ("partial_rotary",), ("rotary_pct",))


def facts_to_check(fit) -> dict:
    """field -> the candidate's default, for the fields that decide the math but no shape."""
    defaults = fit.entry["defaults"]
    out = {}
    for key, value in defaults.items():
        words = key.lower()
        if any(all(w in words for w in every) for every in _UNSEEN) and "fact" not in words:
            out[key] = value
    if "tie_word_embeddings" in fit.config:
        out["tie_word_embeddings"] = f"{fit.config['tie_word_embeddings']} (the head is "\
            f"{'absent: tied, or left out by the writer' if fit.tied else 'present: untied'})"
    return out


def fitted_config(fit) -> dict:
    """The candidate's defaults with the fitted values: a config.json its configuration class reads."""
    config = {k: v for k, v in fit.entry["defaults"].items() if k not in ("architectures", "transformers_version")}
    layers = fit.config.get(fit.entry.get("layer_key") or "", None)
    default_layers = fit.entry["defaults"].get(fit.entry.get("layer_key") or "")
    if layers is not None and type(default_layers) is int:  # per-layer lists follow the new layer count
        for key, value in list(config.items()):
            if isinstance(value, list) and len(value) == default_layers and value:
                config[key] = [value[i % len(value)] for i in range(layers)]
    config.update(fit.config)
    config["architectures"] = [fit.entry["root"]]
    return config


def write_folder(report: FitReport, out: Path) -> None:
    if not report.candidates:
        raise ArchreadError("no candidate to write")
    best = report.candidates[0]
    from archread.parsers import resolve
    from archread.parsers.cache import reduce_cached

    code = reduce_cached(resolve(Path(best.entry["path"]))).code
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    try:
        out.mkdir(parents=True)
        (out / "config.json").write_text(json.dumps(fitted_config(best), indent=2) + "\n", encoding="utf-8")
        name = re.sub(r"\W", "_", best.model_type)
        (out / f"modeling_{name}.py").write_text(code, encoding="utf-8")
        from archread.fit.structure import renaming_json

        renaming = renaming_json(best) if best.renaming else {n: n for n in report.header.shapes}
        (out / "renaming.json").write_text(json.dumps(renaming, indent=2) + "\n", encoding="utf-8")
        check = {"candidate": best.model_type, "score": round(best.score, 4),
                 "not_told_by_shapes": facts_to_check(best), "set_from_defaults": best.open_fields,
                 "notes": best.notes}
        (out / "facts_to_check.json").write_text(json.dumps(check, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ArchreadError(f"{out}: cannot write ({exc.strerror})") from None
