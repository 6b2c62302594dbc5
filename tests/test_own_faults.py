"""Failures that are the original code's own, said as what the code does: a test left at module level that fails
at import (the file and line), a configuration field the code reads that nothing defines; and, where no release
runs a repo, the reason given is the release that got furthest, not the oldest one's import error."""

from pathlib import Path

import pytest
from transformers import PretrainedConfig

from archread.errors import ArchreadError
from archread.parsers import resolve
from archread.runtime import verify as verify_module
from archread.runtime.config_values import config_values
from archread.runtime.original import find_original
from archread.runtime.own_faults import import_fault, unset_field
from archread.runtime.release import ReleaseUnavailable
from archread.runtime.verify import verify

FLAT = Path(__file__).parent / "data" / "remote_repos" / "rc_flat"


def _repo(tmp_path: Path, name: str, tail: str) -> Path:
    """rc_flat renamed, with `tail` appended to its modeling file."""
    repo = tmp_path / f"{name}_checkout"
    repo.mkdir()
    for path in FLAT.iterdir():
        if path.suffix in (".py", ".json"):
            text = path.read_text().replace("rc_flat", name).replace("RcFlat", name.title().replace("_", ""))
            (repo / path.name.replace("rc_flat", name)).write_text(text)
    modeling = repo / f"modeling_{name}.py"
    modeling.write_text(modeling.read_text() + tail)
    return repo


def test_a_test_left_at_module_level_is_named_by_file_and_line(tmp_path):
    repo = _repo(tmp_path, "rc_fault", "\nif 1:\n    c = open('/archread_absent_dir/aaa').read()\n")
    line = len((repo / "modeling_rc_fault.py").read_text().splitlines())
    with pytest.raises(ArchreadError) as info:
        find_original(resolve(repo), "RcFaultForCausalLM")
    assert f"modeling_rc_fault.py does not import: modeling_rc_fault.py:{line} runs `c = open('/archread_absent_dir/aaa')" \
           ".read()` at import, which fails (FileNotFoundError:" in str(info.value)


def test_an_import_that_fails_is_said_as_before(tmp_path):
    repo = _repo(tmp_path, "rc_badimport", "\nfrom transformers.archread_absent_module import thing\n")
    with pytest.raises(ArchreadError) as info:
        find_original(resolve(repo), "RcBadimportForCausalLM")
    assert "does not import: ModuleNotFoundError" in str(info.value) and "at import, which fails" not in str(info.value)


def test_a_fault_outside_the_repo_is_not_the_repos(tmp_path):
    try:
        exec(compile("x = 1 / 0\n", str(tmp_path / "elsewhere" / "m.py"), "exec"), {})
    except ZeroDivisionError as exc:
        assert import_fault(exc, tmp_path / "repo") is None


class _PickConfig(PretrainedConfig):
    model_type = "archread_pick"


def test_a_field_no_configuration_defines_is_named():
    config = _PickConfig()
    try:
        config.pick_idx
    except AttributeError as exc:
        assert unset_field(exc, None) == ("the original reads config.pick_idx, which _PickConfig does not define and no "
                                          "config.json sets it (--config with a config.json that does)")
        assert "and config.json does not set it" in unset_field(exc, Path("repo/config.json"))


def test_another_objects_missing_attribute_is_no_configuration_field():
    try:
        object().pick_idx
    except AttributeError as exc:
        assert unset_field(exc, None) is None


def test_the_reason_is_the_release_that_got_furthest(monkeypatch):
    def fake(reduction, version, trust_code, config):
        if version == "4.40.0":
            raise ArchreadError("the original under transformers 4.40.0 does not run: the original reads config.x")
        raise ReleaseUnavailable(f"the original under transformers {version} does not run: does not import")

    monkeypatch.setattr(verify_module, "cached_releases", lambda exclude=None, also=(): ["4.48.3", "4.40.0", "4.31.0"])
    monkeypatch.setattr(verify_module, "verify_release", fake)
    with pytest.raises(ArchreadError) as info:
        verify_module._under_a_cached_release(None, True, None, "the installed cannot")
    assert str(info.value) == ("no transformers release runs the original: the installed cannot; 4.40.0: the original "
                               "under transformers 4.40.0 does not run: the original reads config.x")


def test_a_field_only_the_checkpoint_sets_verifies_with_config(tmp_path):
    # MiniCPM3 triton-mla's `[MHA, MLA, TritonMLA][config.eager_idx]`: its configuration class has no such field
    repo = _repo(tmp_path, "rc_pick", "")
    modeling = repo / "modeling_rc_pick.py"
    modeling.write_text(modeling.read_text().replace("self.attn = RcAttention(config)", "self.attn = [RcAttention][config.pick_idx](config)"))
    (tmp_path / "pick.json").write_text('{"pick_idx": 0, "vocab_size": 96}')
    assert config_values(tmp_path / "pick.json", resolve(repo))["pick_idx"] == 0  # not transformers' class: the repo's
    report = verify(repo, config=tmp_path / "pick.json", trust_code=True)
    assert report.match, report.to_text()
