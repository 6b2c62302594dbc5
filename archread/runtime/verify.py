"""archread verify: the reduced model against the original, on the same weights and tokens."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from archread.errors import ArchreadError, one_line
from archread.parsers import reduce_source, resolve
from archread.parsers.language_model import language_model
from archread.parsers.lender_tree import release_source
from archread.parsers.remote import chosen_root, code_root, parse_file
from archread.parsers.repo_needs import unmet_needs
from archread.runtime import stand_ins
from archread.runtime.build import reduced_model
from archread.runtime.code_sizes import code_texts, literal_divisors, literal_padding_ids, literal_sizes
from archread.runtime.compare import (
    WHOLE_MASK,
    eager,
    error,
    padding_mask,
    real_token_logits,
    run_original_with_taps,
    run_with_taps,
    watched,
)
from archread.runtime.config_values import config_values
from archread.runtime.cuda_paths import asks_for_cuda
from archread.runtime.finite_weights import finite_or_unit_scale
from archread.runtime.framework_member import OriginalLacksMember, missing_framework_member
from archread.runtime.original import (
    configuration,
    find_original,
    installed_release,
    repo_config,
    repo_folder,
    repo_release,
)
from archread.runtime.own_faults import unset_field
from archread.runtime.packages import MissingPackage, PackageUnavailable, bring_guarded, with_packages
from archread.runtime.reading_values import on_runnable_values, on_torch_path
from archread.runtime.release import (
    ReleaseUnavailable,
    cached_releases,
    missing_name,
    packages_here,
    release_defines,
    release_site,
)
from archread.runtime.report import VerifyReport, has, judge, setup_of
from archread.runtime.second_try import tiny_then_own_widths
from archread.runtime.test_input import (
    candidate_inputs,
    first_that_runs,
    literal_ids,
    looked_up,
    needs_more_than_tokens,
    vocabulary,
)
from archread.runtime.text_view import text_view
from archread.runtime.tiny import build_tiny, shrink, test_tokens
from archread.runtime.verify_release import verify_release
from archread.runtime.weights import as_declared, load_into, load_weights

_CACHED_TRIES = 3  # releases tried for remote code that names none and the installed transformers cannot run
_LADDER = ("4.48.3", "4.41.2")  # tried even where not yet installed: the releases the tests install anyway
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def verify(ref, config: Path | None = None, weights: Path | None = None, device: str = "cpu",
           dtype: str = "float32", trust_code: bool = False, reduction=None, root: str | None = None) -> VerifyReport:
    try:
        return _verify_ref(ref, config, weights, device, dtype, trust_code, reduction, root)
    except RepoIncomplete:  # said before anything ran: no defaults were run
        raise
    except ArchreadError as exc:
        folder = repo_folder(reduction.source if reduction is not None else resolve(ref, root)) if trust_code else None
        if folder is None or config is not None or weights is not None or (folder / "config.json").is_file():
            raise
        raise ArchreadError(f"{exc} (the repo has no config.json, so its configuration class's defaults were run; "
                            "--config CONFIG_JSON runs a checkpoint's)") from None


def _verify_ref(ref, config, weights, device, dtype, trust_code, reduction, root) -> VerifyReport:
    if reduction is None:  # with a checkpoint's configuration, the reading checked is the one specialised to it
        source = resolve(ref, root)
        if trust_code and weights is None:
            _named_release_at_hand(source)
        reduction = reduce_source(source, config_values(config, source) if config is not None else None)
    source = reduction.source
    folder = repo_folder(source)
    if folder is not None and not trust_code:
        raise ArchreadError(f"{source.path}: outside the installed transformers; pass --trust-code to run it")
    language = language_model(source.remote) if source.remote is not None and config is None and weights is None else None
    if language is not None:  # a VLM's text path: its language model, verified as a repo of its own
        with text_view(folder, language) as view:
            report = _verify_ref(view, None, None, device, dtype, trust_code, None, None)
        report.reference += f"; {language.why}"
        return report
    needs = unmet_needs(folder, source.path) if folder is not None else []
    if needs:  # no release or package meets them: said before any is installed or tried
        raise RepoIncomplete(f"{folder}: the original cannot run: {'; '.join(needs)}")
    if folder is not None and len(reduction.roots) != 1:
        reduction = _one_root(reduction, config)
    report = _verify(reduction, folder, config, weights, device, dtype, trust_code)
    held = report.setup.get("config", {})
    read_with = [why for field, (_, value, why) in reduction.repaired.items() if held.get(field) == value]
    if read_with:  # both models were built with those values: the verdict holds for them
        report.setup["read_with"] = "; ".join(read_with)
    return report


def _verify(reduction, folder, config, weights, device, dtype, trust_code) -> VerifyReport:
    source = reduction.source
    if device == "cuda" and not torch.cuda.is_available():
        raise ArchreadError("no CUDA GPU here; use --device cpu")
    wanted = repo_release(folder) if folder is not None else source.release
    fallback = named = None
    if wanted and wanted != installed_release() and weights is None:
        if device != "cpu" or dtype != "float32":
            raise ArchreadError(f"a transformers {wanted} original is compared in float32 on the CPU (--device cpu --dtype float32)")
        try:
            report = verify_release(reduction, wanted, trust_code, config)
            named_raw = repo_config(folder).get("transformers_version") if folder is not None else wanted
            if named_raw != wanted:  # never published: said, with the release that ran
                report.reference += f"; config.json names {named_raw}, a development build of {wanted}"
            return report
        except ReleaseUnavailable as exc:
            if folder is None:  # transformers' own file of another era: only its release runs it
                raise ArchreadError(str(exc)) from None
            named, fallback = str(exc), f"{exc}; ran under the installed {installed_release()}"
    try:
        original, cfg, state, original_spec = _original_here(source, reduction, folder, config, weights)
    except OriginalFails as exc:
        if folder is None or weights is not None or device != "cpu" or dtype != "float32" or (wanted and not fallback):
            raise
        # the release config.json names, where it was tried, says more than the installed one's import error
        why = named or f"the installed {installed_release()} cannot run it: {exc}"
        return _under_a_cached_release(reduction, trust_code, config, why, wanted if named else None)
    original_cls = original_spec.model_class
    reduced = reduced_model(reduction, cfg, folder)
    tied = load_into(reduced, as_declared(reduced, state) if weights is None else state)
    reference = f"{original_cls.__name__} ({original_spec.origin}{'; ' + fallback if fallback else ''})"
    try:
        with stand_ins.computing():  # a stand-in the original calls from here on would reach its outputs
            tokens = first_that_runs(original, candidate_inputs(cfg, looked_up(source.text), (2, test_tokens())))
            rescaled = finite_or_unit_scale(original, tokens) if weights is None else None
            if rescaled:  # the reduced model takes the second draw too
                tied = load_into(reduced, {k: v.clone() for k, v in original.state_dict().items()})
            report = compare_models(reduced, original, cfg, source.label, reference, device, dtype, tied, tokens)
        report.setup.update({"weights": rescaled} if rescaled else {})
        report.setup.update({"stand_ins": stand_ins.stood_in(folder)} if folder is not None and stand_ins.stood_in(folder) else {})
        return report
    except OriginalLacksMember as exc:  # a member the installed release removed: older ones, as for an import
        if folder is None or weights is not None or device != "cpu" or dtype != "float32" or wanted:
            raise
        why = f"the installed {installed_release()} lacks {exc.member}, which the original calls"
        return _under_a_cached_release(reduction, trust_code, config, why)


def _named_release_at_hand(source) -> None:
    """Install the release remote code's config.json names before reading it, as running its original will: the
    transformers classes the code subclasses are read from that release's source."""
    folder = repo_folder(source)
    wanted = repo_release(folder) if folder is not None else None
    if wanted and wanted != installed_release() and release_source(wanted) is None:
        try:
            release_site(wanted)
        except ArchreadError:
            pass  # the reading takes the installed classes and says so; running the original says why it cannot


def compare_models(reduced, original, cfg, label, reference, device, dtype, tied, tokens=None, before_reduced=None) -> VerifyReport:
    """Original in float32 (the truth), the original in `dtype` (its own error), then the reduced model; each on
    the tokens and on a padded batch of them. `before_reduced(model)` runs once the reduced model is on the
    device (kernel binding)."""
    if tokens is None:
        generator = torch.Generator().manual_seed(0)
        tokens = torch.randint(0, vocabulary(cfg), (2, test_tokens()), generator=generator)
    tokens = tokens.to(device)
    mask = padding_mask(tokens) if tokens.shape[0] > 1 else None
    names = [n for n in watched(reduced) if has(original, n)]
    try:
        want_logits, want, whole = run_original_with_taps(original.to(device=device, dtype=torch.float32), tokens, names)
    except ArchreadError as exc:
        raise ArchreadError(f"the original does not run: {exc}") from None
    except Exception as exc:
        if asks_for_cuda(exc):  # a GPU-only path, in-process: the configuration given chose it
            raise ArchreadError(f"the original needs CUDA, which this machine lacks ({type(exc).__name__}: {one_line(exc)})") from None
        member = missing_framework_member(exc, original)
        if member is not None:  # a release change may cure it: the caller decides whether to try one
            raise OriginalLacksMember(f"the original does not run: {type(exc).__name__}: {one_line(exc)}", member) from None
        beyond = needs_more_than_tokens(original)
        raise ArchreadError(f"the original does not run: {type(exc).__name__}: {one_line(exc)}"
                            + (f"; {beyond}" if beyond else "")) from None
    padded, note = [], None
    if mask is not None:
        try:
            padded.append(real_token_logits(original, tokens, mask))
        except Exception as exc:  # an original that refuses padding is no fault of the reading
            note = f"padded batch not checked: the original rejects it ({type(exc).__name__}: {one_line(exc)})"
    low = DTYPES[dtype]
    baseline = []
    base_padded = None
    if low is not torch.float32:
        base_logits, base = run_with_taps(original.to(device=device, dtype=low), tokens, names, whole)
        baseline = [error(n, base[n], want[n]) for n in names if n in base and n in want] + [error("logits", base_logits, want_logits)]
        base_padded = real_token_logits(original, tokens, mask) if padded else None
    reduced.to(device=device, dtype=low)
    if before_reduced is not None:
        before_reduced(reduced)
    try:
        got_logits, got = run_with_taps(reduced, tokens, names, whole)
        if padded:
            padded.insert(0, real_token_logits(reduced, tokens, mask))
    except Exception as exc:
        raise ArchreadError(f"the reduced model does not run: {type(exc).__name__}: {one_line(exc)}") from None
    setup = setup_of(cfg, tokens, mask)
    if whole is not None:
        setup["mask"] = WHOLE_MASK
    return judge(label, reference, dtype, device, names, (got_logits, got), (want_logits, want), baseline, tied,
                 padded=(*padded, base_padded) if padded else note, setup=setup)


def _one_root(reduction, config):
    """A repo whose reading keeps several model classes (no config.json, no LM-head suffix): the one the code
    shows (the PreTrainedModel subclass with an LM head the others serve), else the candidates named."""
    source = reduction.source
    try:
        root = code_root(parse_file(source.path), source.path)
    except ArchreadError as exc:
        raise ArchreadError(f"{exc}; pass --root NAME to choose one") from None
    source = dataclasses.replace(source, remote=chosen_root(source.path, root, source.remote))
    return reduce_source(source, config_values(config, source) if config is not None else None)


class RepoIncomplete(ArchreadError):
    """The repo lacks what its code needs at import (a sibling file, a compiled extension): said before it runs."""


class OriginalFails(ArchreadError):
    """The original cannot be imported or built here (an old transformers name, a configuration it rejects)."""


def _original_here(source, reduction, folder, config, weights):
    """(the original built here, its configuration, its state dict, where it came from) under this transformers."""
    try:
        # the installed release's packages for remote code sit beside the pip-installed releases
        packages = packages_here()
        if folder is not None:
            bring_guarded(folder, packages)
        original_spec = with_packages(lambda: find_original(source, reduction.roots[0]), packages, folder)
        own = folder / "config.json" if folder is not None and (folder / "config.json").is_file() else None
        cfg = configuration(original_spec.model_type, config or (weights / "config.json" if weights else None) or own,
                            original_spec.config_class)
        cfg = on_runnable_values(on_torch_path(cfg, reduction.torch_path), reduction.repaired)
        full = cfg  # for a second try at its own widths
        if weights is None:  # random weights: the configuration's choices, at a few dozen wide
            try:
                texts = code_texts(source.text, folder)
                ids = literal_ids(looked_up(source.text)) | literal_padding_ids(texts)
                cfg = shrink(cfg, literal_sizes(source.text), reduction.assumed, ids, literal_divisors(texts))
            except Exception as exc:  # its class validates sizes together (Dory: input + recurrent + output layers)
                raise ArchreadError(f"the {type(cfg).__name__} class rejects archread's tiny configuration "
                                    f"({type(exc).__name__}: {one_line(exc)}); pass --config with a small one") from None
        eager(cfg)
        original_cls = original_spec.model_class
        torch.manual_seed(0)
        try:
            if weights is None:  # random weights: the original's own state dict, as its module tree names it
                original, cfg = tiny_then_own_widths(lambda c: build_tiny(original_cls, c), cfg, full)
                state = {k: v.clone() for k, v in original.state_dict().items()}
            else:
                original = original_cls.from_pretrained(weights, config=cfg, local_files_only=True).eval()
                state = load_weights(weights)
        except ArchreadError:
            raise
        except Exception as exc:
            unset = unset_field(exc, config or own)
            raise ArchreadError(unset or f"the original {original_cls.__name__} does not run with this config: {type(exc).__name__}: {one_line(exc)}") from None
        return original, cfg, state, original_spec
    except (MissingPackage, PackageUnavailable):  # no release changes what this machine's wheels are
        raise
    except ArchreadError as exc:
        raise OriginalFails(str(exc)) from None


def _under_a_cached_release(reduction, trust_code, config, why: str, done: str | None = None) -> VerifyReport:
    """Remote code that names no release the installed one can run: the releases already installed for other
    originals are tried, newest first (not `done`, tried already), and the report says which ran and why."""
    tried, imported = [], []
    candidates = [v for v in cached_releases(exclude=installed_release(), also=_LADDER) if v != done]
    lacking = missing_name(why)
    if lacking:  # a transformers name the code imports: the releases whose source defines it go first
        candidates.sort(key=lambda v: not release_defines(v, *lacking))
    for version in candidates[:_CACHED_TRIES]:
        try:
            report = verify_release(reduction, version, trust_code, config)
        except PackageUnavailable:
            raise
        except ArchreadError as exc:
            tried.append(f"{version}: {exc}")
            if not isinstance(exc, ReleaseUnavailable):  # it imported, then failed: further than an import error
                imported.append(tried[-1])
            continue
        report.reference += f"; {why}"
        return report
    # the newest release that got furthest: an older one's import error (no cache_utils in 4.31) hides why
    # the code itself fails
    best = (imported or tried[:1] or ["none other installed"])[0]
    raise ArchreadError(f"no transformers release runs the original: {why}; {best}")
