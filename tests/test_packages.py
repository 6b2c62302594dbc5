"""Packages remote code imports and nothing provides are brought into the original's folder, then imported."""

import sys

import pytest

from archread.errors import ArchreadError
from archread.runtime import packages
from archread.runtime.packages import MissingPackage, missing_module, with_packages


def test_a_missing_top_level_module_is_named_a_missing_submodule_is_not():
    with pytest.raises(ModuleNotFoundError) as absent:
        import archread_no_such_package.sub  # noqa: F401
    assert missing_module(absent.value) == "archread_no_such_package"
    with pytest.raises(ModuleNotFoundError) as renamed:
        import torch.no_such_submodule  # noqa: F401
    assert missing_module(renamed.value) is None  # torch is there: an old name, nothing to install


def test_each_missing_package_is_brought_and_the_import_tried_again(tmp_path, monkeypatch):
    brought = []

    def fake_bring(module, folder):  # what pip would leave in the folder
        brought.append(module)
        (folder / f"{module}.py").write_text("VALUE = 7\n")

    def attempt():
        try:
            import archread_test_brought
        except ModuleNotFoundError as exc:
            raise MissingPackage("needs it", missing_module(exc)) from None
        return archread_test_brought.VALUE

    monkeypatch.setattr(packages, "bring", fake_bring)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert with_packages(attempt, tmp_path) == 7 and brought == ["archread_test_brought"]
    sys.modules.pop("archread_test_brought", None)


def test_a_package_that_stays_missing_is_not_brought_twice(tmp_path, monkeypatch):
    monkeypatch.setattr(packages, "bring", lambda module, folder: None)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(ArchreadError, match="needs"):
        with_packages(lambda: (_ for _ in ()).throw(MissingPackage("needs x", "x")), tmp_path)


def test_guarded_imports_are_the_optional_third_party_ones(tmp_path):
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (tmp_path / "modeling_x.py").write_text(
        "import os\nimport torch\ntry:\n    from einops import rearrange\n    import flash_attn.ops\nexcept ImportError:\n"
        "    rearrange = None\ntry:\n    import helpers\nexcept ImportError:\n    pass\n")
    assert packages.guarded_imports(tmp_path) == {"einops", "flash_attn"}  # not the stdlib, not a sibling file


def test_a_wheel_built_for_another_torch_is_taken_out_and_named(tmp_path):
    info = tmp_path / "visionlib-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: visionlib\nRequires-Dist: torch (>=99.0)\nRequires-Dist: numpy\n")
    (info / "RECORD").write_text("visionlib/__init__.py,,\nvisionlib-1.0.dist-info/METADATA,,\n")
    (tmp_path / "visionlib").mkdir()
    (tmp_path / "visionlib" / "__init__.py").write_text("")
    with pytest.raises(ArchreadError, match="needs torch >=99.0"):
        packages._refuse_another_torch("visionlib", tmp_path)
    assert not (tmp_path / "visionlib").exists() and not info.exists()
    ok = tmp_path / "plain-1.0.dist-info"
    ok.mkdir()
    (ok / "METADATA").write_text("Name: plain\nRequires-Dist: torch\n")
    packages._refuse_another_torch("plain", tmp_path)  # no pin: it stays
    assert ok.exists()
