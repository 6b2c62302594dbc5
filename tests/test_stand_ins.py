"""A package remote code imports unconditionally but that cannot be installed here is stood in for: the original
runs, and the stand-in can never reach its numbers (a call while computing, any use as a value, raises); an import
the repo guards with `try:` still fails, so the code keeps its own fallback."""

import importlib
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
import torch

from archread.runtime import packages, stand_ins
from archread.runtime.stand_ins import StandInUsed
from archread.runtime.verify import verify

RC_LLAMA = Path(__file__).parent / "data" / "remote_repos" / "rc_llama"
ABSENT = "archread_absent_vision"  # on no index: what a CUDA-only torchvision is to this machine


def _importing_absent(tmp_path, name: str, alias: str, anchor: str, added: str) -> Path:
    """rc_llama that imports the absent package as `alias` and runs `added` after the line `anchor`."""
    repo = tmp_path / name
    shutil.copytree(RC_LLAMA, repo)
    modeling = repo / "modeling_rc_llama.py"
    text = modeling.read_text()
    assert anchor in text
    text = text.replace("import torch\n", f"import torch\nimport {ABSENT} as {alias}\n", 1)
    modeling.write_text(text.replace(anchor, anchor + added))
    return repo


def _logging_at_init(tmp_path) -> Path:
    """rc_llama whose weight initialisation reports to a package this machine cannot install (a logger's)."""
    return _importing_absent(tmp_path, "rc_standin", "tracker", "    def _init_weights(self, module):\n",
                             "        tracker.watch(module, log='all')\n")


@pytest.fixture(autouse=True)
def _forget_stand_ins():
    yield
    for name in [m for m in sys.modules if m.split(".")[0] == ABSENT]:
        del sys.modules[name]


@pytest.fixture
def no_wheel(monkeypatch):
    def bring(module, folder):
        raise packages.PackageUnavailable(f"the remote code imports {module}, which has no wheel for this machine")
    monkeypatch.setattr(packages, "bring", bring)


def test_an_uninstallable_package_the_building_calls_is_stood_in_for_and_the_report_says_so(tmp_path, no_wheel):
    report = verify(_logging_at_init(tmp_path), trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    stood = report.setup["stand_ins"][ABSENT]
    assert "no wheel" in stood["why"] and f"{ABSENT}.watch" in stood["built_with"]
    assert f"stand-in: {ABSENT}" in report.to_text()


def test_the_reduced_module_that_keeps_such_an_import_gets_the_same_stand_in(tmp_path, no_wheel):
    # a vision tower's preprocessing built in __init__: the reading keeps it
    repo = _importing_absent(tmp_path, "rc_tower", "vision", "        self.norm = RcRMSNorm(config.hidden_size, config.rms_norm_eps)\n",
                             "        self.preprocess = vision.Compose([vision.Resize(4)])\n")
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()
    assert f"{ABSENT}.Compose" in report.setup["stand_ins"][ABSENT]["built_with"]


def _module(tmp_path, body: str):
    repo = tmp_path / "rc_uses"
    repo.mkdir()
    (repo / "uses.py").write_text(body)
    sys.path.insert(0, str(repo))
    try:
        stand_ins.install({ABSENT: "no wheel here"}, repo)
        sys.modules.pop("uses", None)
        return importlib.import_module("uses")
    finally:
        sys.path.remove(str(repo))


def test_a_call_while_computing_or_a_use_as_a_value_raises(tmp_path):
    uses = _module(tmp_path, f"import {ABSENT}.transforms as T\nnormalize = T.Normalize(0.5)\n")
    with stand_ins.computing(), pytest.raises(StandInUsed, match=f"calls {ABSENT}.transforms.Normalize"):
        uses.T.Normalize(0.5)
    with pytest.raises(StandInUsed):
        torch.ones(2) * uses.normalize
    with pytest.raises(StandInUsed):
        bool(uses.normalize)
    with pytest.raises(StandInUsed):
        "bicubic" == uses.T.InterpolationMode.BICUBIC  # noqa: B015 - a branch it would decide unseen
    assert uses.T.Normalize != uses.T.Resize and uses.T.Normalize is not None
    assert not isinstance(torch.ones(1), uses.T.Normalize)  # a class: isinstance against it is just False


def test_an_import_the_repo_guards_still_fails_so_its_fallback_runs(tmp_path):
    uses = _module(tmp_path, f"try:\n    import {ABSENT} as fast\nexcept ImportError:\n    fast = None\nimport {ABSENT} as slow\n")
    assert uses.fast is None and uses.slow is not None
    del sys.modules[ABSENT]
    assert importlib.util.find_spec(ABSENT) is None  # nor does anything outside the repo see it (transformers' probes)
