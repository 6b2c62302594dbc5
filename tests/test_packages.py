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


def test_a_wheel_built_for_another_torch_is_taken_out_and_its_pin_returned(tmp_path):
    info = tmp_path / "visionlib-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: visionlib\nRequires-Dist: torch (>=99.0)\nRequires-Dist: numpy\n")
    (info / "RECORD").write_text("visionlib/__init__.py,,\nvisionlib-1.0.dist-info/METADATA,,\n")
    (tmp_path / "visionlib").mkdir()
    (tmp_path / "visionlib" / "__init__.py").write_text("")
    assert packages._take_out_another_torch("visionlib", tmp_path) == ">=99.0"
    assert not (tmp_path / "visionlib").exists() and not info.exists()
    ok = tmp_path / "plain-1.0.dist-info"
    ok.mkdir()
    (ok / "METADATA").write_text("Name: plain\nRequires-Dist: torch\n")
    assert packages._take_out_another_torch("plain", tmp_path) is None  # no pin: it stays
    assert ok.exists()


def _wheel(folder, name, version, torch_requirement, extra=None):
    """A wheel of one module whose metadata requires torch as given (extra: more files, path → bytes)."""
    import zipfile

    info = f"{name}-{version}.dist-info"
    files = {**(extra or {}), f"{name}/__init__.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: torch{torch_requirement}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: archread-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


def test_the_release_that_admits_this_torch_replaces_a_wheel_pinned_to_another(tmp_path, monkeypatch):
    # torchvision's newest wheel pins the next torch; the one pinned to this torch is brought instead
    ours = packages._torch_version()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "archread_pinlib", "1.0", f"=={ours}")
    _wheel(wheels, "archread_pinlib", "2.0", "==99.0")
    _wheel(wheels, "archread_nolib", "1.0", "==99.0")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    target = tmp_path / "site"
    packages.bring("archread_pinlib", target)
    assert (target / "archread_pinlib" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    with pytest.raises(packages.PackageUnavailable, match=r"whose wheel needs torch ==99.0 \(this is torch .*no release of archread-nolib"):
        packages.bring("archread_nolib", target)
    assert not (target / "archread_nolib").exists()


def test_a_wheel_whose_extension_links_a_torch_library_this_torch_lacks_is_named(tmp_path, monkeypatch):
    # PyPI's torchvision for a torch release is a CUDA build: on a CPU torch its _C.so needs libtorch_cuda.so
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    table = b"\0libc10.so\0libtorch_archread_absent.so\0"  # what an ELF dynamic string table holds
    _wheel(wheels, "archread_cudalib", "1.0", "", {"archread_cudalib/_C.so": b"\x7fELF" + table})
    _wheel(wheels, "archread_cpulib", "1.0", "", {"archread_cpulib/_C.so": b"\x7fELF\0libc10.so\0libtorch.so\0"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    target = tmp_path / "site"
    with pytest.raises(packages.PackageUnavailable, match="links libtorch_archread_absent.so, which this torch lacks"):
        packages.bring("archread_cudalib", target)
    assert not (target / "archread_cudalib").exists() and not list(target.glob("archread_cudalib-*"))
    packages.bring("archread_cpulib", target)  # the libraries it links are this torch's own: it stays
    assert (target / "archread_cpulib" / "_C.so").is_file()


def test_a_package_that_compiles_an_extension_when_imported_is_named(tmp_path, monkeypatch):
    from archread.runtime.packages import extension_built_at_import

    (tmp_path / "kernpkg" / "ops").mkdir(parents=True)
    (tmp_path / "kernpkg" / "__init__.py").write_text("from .ops import fused\n")
    (tmp_path / "kernpkg" / "ops" / "__init__.py").write_text(
        "from torch.utils.cpp_extension import load\nfused = load(name='fused', sources=['fused.cu'])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("CUDA_HOME", raising=False)
    try:
        import kernpkg  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - whatever the builder raises here (no CUDA, no ninja)
        said = extension_built_at_import(exc)
    else:
        pytest.skip("this machine built the extension")
    assert said is not None and said.startswith("kernpkg compiles a C++/CUDA extension"), said
    assert extension_built_at_import(ImportError("no module named x")) is None


def test_what_a_run_that_gives_up_brought_is_taken_out_again(tmp_path, monkeypatch):
    """A chain left half-installed (a dependency's dependency missing) would break every later original there."""
    (tmp_path / "kept_before.py").write_text("X = 1\n")
    chain = iter(["first_link", "second_link", "second_link"])

    def fake_bring(module, folder):
        (folder / module).mkdir()

    def attempt():
        raise MissingPackage("needs it", next(chain), "first_link")  # the repo's own import began the chain

    monkeypatch.setattr(packages, "bring", fake_bring)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(MissingPackage):
        with_packages(attempt, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept_before.py"]
