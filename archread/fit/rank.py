"""archread fit: every candidate against a checkpoint's headers, best first."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from archread.errors import ArchreadError
from archread.fit.headers import Header, read_headers
from archread.fit.layers import Tree, split_tree
from archread.fit.match import Candidate, Fit, fit_by_name, forms

NAMES_FIT = 0.5  # below this share of names in common with every candidate, match by structure instead


@dataclass
class FitReport:
    folder: Path
    header: Header
    candidates: list[Fit]
    by_structure: bool = False
    given: dict = field(default_factory=dict)  # values a --config file gave

    def to_json(self) -> dict:
        return {"candidates": [c.to_json() for c in self.candidates]}


def _config_file(path: Path | None) -> dict:
    if path is None:
        return {}
    path = path / "config.json" if path.is_dir() else path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArchreadError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise ArchreadError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArchreadError(f"{path}: not a configuration (a JSON object)")
    return data


def check_language_model(tree: Tree) -> None:
    """A decoder-only LM has a token embedding (a 2-D tensor outside the block) and a repeated block."""
    if tree.prefix is None or tree.count < 1:
        raise ArchreadError("not a language-model checkpoint: no repeated block of numbered layers in the tensor names")
    if not any(len(s) == 2 for s in tree.outside.values()):
        raise ArchreadError("not a language-model checkpoint: no 2-D tensor outside the layers for a token embedding")


def _name_share(mine: set, cand: Candidate) -> float:
    theirs = cand.normalised
    return len(mine & theirs) / max(1, len(mine | theirs))


def _by_name(ck: Tree, candidates: list, shares: dict, top: int) -> list[Fit]:
    """Fits of the candidates that share names, most shared first; once `top` are done, one sharing under half
    the best share is left out (its names leave it below those already fitted)."""
    ordered = sorted((c for c in candidates if shares[id(c)] > 0), key=lambda c: -shares[id(c)])
    fits = []
    for c in ordered:
        if len(fits) >= 3 * top and shares[id(c)] < 0.5 * shares[id(ordered[0])]:
            break
        fits.append(fit_by_name(ck, c))
    return fits


def _apply_given(fit: Fit, given: dict) -> None:
    """A --config file's values: where it names a field the fit solved, a disagreement is noted."""
    for key, value in given.items():
        if key in fit.config and key != "model_type" and fit.config[key] != value:
            fit.notes.append(f"{key}: the shapes give {fit.config[key]}, --config says {value}")
        elif key not in fit.config:
            fit.config[key] = value


def fit(folder: Path, config: Path | None = None, top: int = 5, progress=None) -> FitReport:
    from archread.fit.catalogue import load

    header = read_headers(Path(folder))
    ck = split_tree(header.shapes)
    check_language_model(ck)
    given = _config_file(config)
    entries = load(progress=progress)
    if not entries:
        raise ArchreadError("no candidate of the installed transformers has a signature (see archread.fit.catalogue)")
    candidates = [Candidate(form) for e in entries for form in forms(e)]
    if given.get("model_type"):
        candidates = [c for c in candidates if c.entry["model_type"] == given["model_type"]] or candidates
    mine = set(ck.normalised())
    shares = {id(c): _name_share(mine, c) for c in candidates}
    by_structure = max(shares.values()) < NAMES_FIT
    if by_structure:
        from archread.fit.structure import fit_by_structure

        fits = [f for f in (fit_by_structure(ck, c, header.shapes) for c in candidates) if f is not None]
    else:
        fits = _by_name(ck, candidates, shares, top)
    if not fits:
        raise ArchreadError(f"{folder}: no decoder-only LM of the installed transformers fits these tensors")
    # equal trees: the renaming that maps words most consistently (structure mode), then the priors; then the
    # candidate with the fewest configuration fields, the simplest that explains the
    # tensors (a dense checkpoint fits a MoE candidate whose tiny form has no expert layer, too)
    fits.sort(key=lambda f: (-round(f.score, 9), f.conflicts, -f.prior, len(f.entry["defaults"]), f.model_type))
    seen: set = set()  # a candidate's better form only
    fits = [f for f in fits if not (f.model_type in seen or seen.add(f.model_type))]
    for f in fits[:top]:
        _apply_given(f, given)
    return FitReport(Path(folder), header, fits[:top], by_structure, given)


def to_text(report: FitReport) -> str:
    h = report.header
    lines = [f"{report.folder}: {len(h.shapes)} tensors in {len(h.files)} file{'s' * (len(h.files) != 1)}, "
             f"{h.nbytes / 1e9:.2f} GB of data (headers read only)"
             + ("; no candidate's names fit, matched by structure" if report.by_structure else "")]
    for rank, c in enumerate(report.candidates, 1):
        lines.append(f"{rank}. {c.model_type:<24} score {c.score:.3f}  "
                     f"missing {len(c.missing)}  unexpected {len(c.unexpected)}  mismatched {len(c.mismatched)}")
        shown = {k: (f"[{len(v)} per layer]" if isinstance(v, (list, dict)) and len(v) > 6 else v)
                 for k, v in c.config.items() if k != "model_type"}
        lines.append("   config " + ", ".join(f"{k}={v}" for k, v in shown.items()))
        if c.open_fields:
            lines.append("   not told by the shapes (the defaults' pull decided): " + ", ".join(c.open_fields))
        if c.tied:
            lines.append("   tied to the embedding (absent from the checkpoint): " + ", ".join(c.tied))
        for title, items in (("missing", c.missing), ("unexpected", c.unexpected), ("mismatched", c.mismatched)):
            for item in items[:3]:
                lines.append(f"   {title}: {item}")
            if len(items) > 3:
                lines.append(f"   {title}: … and {len(items) - 3} more")
        lines += [f"   note: {n}" for n in c.notes]
    if report.by_structure and report.candidates and report.candidates[0].renaming is not None:
        from archread.fit.structure import renaming_text

        lines.append(f"renaming under which {report.candidates[0].model_type} loads with strict=True:")
        lines += renaming_text(report.candidates[0])
    return "\n".join(lines)
