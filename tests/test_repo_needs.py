"""What a repo's code needs at import that no release can give (a file the repo lacks, a C++ extension it
compiles): verify says so in one line before installing or importing anything; the reduced module still
imports on its own and names the extension."""

import json
import shutil
from pathlib import Path

import pytest

from archread.cli import main
from archread.parsers import reduce_source, resolve
from archread.parsers.package_lenders import is_kernel
from archread.parsers.repo_needs import unmet_needs
from archread.parsers.undefined import undefined_names

RC_LLAMA = Path(__file__).parent / "data" / "remote_repos" / "rc_llama"
MODELING = RC_LLAMA / "modeling_rc_llama.py"


def _repo(tmp_path: Path, head: str = "", drop: str | None = None) -> Path:
    """rc_llama with `head` put before its code (after its imports), and one of its files left out."""
    repo = tmp_path / "repo"
    shutil.copytree(RC_LLAMA, repo)
    if drop:
        (repo / drop).unlink()
    text = MODELING.read_text()
    first_class = text.index("\nclass ")
    (repo / MODELING.name).write_text(text[:first_class] + "\n" + head + text[first_class:])
    return repo


def _verify_line(capsys, repo: Path) -> str:
    assert main(["verify", str(repo), "--trust-code"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_a_missing_configuration_file_is_one_line(capsys, tmp_path):
    repo = _repo(tmp_path, drop="configuration_rc_llama.py")
    (repo / "config.json").unlink()  # as a bare modeling snapshot has it: nothing else names the file
    err = _verify_line(capsys, repo)
    assert "imports .configuration_rc_llama" in err and "lacks configuration_rc_llama.py" in err
    assert "defaults were run" not in err  # said before anything ran


def test_a_missing_sibling_is_one_line(capsys, tmp_path):
    err = _verify_line(capsys, _repo(tmp_path, drop="layers.py"))
    assert "lacks layers.py (missing from the repo)" in err


def test_an_import_from_above_the_folder_is_one_line(capsys, tmp_path):
    """A folder cut out of a larger package (`from ...utils.torch_utils import skip_init`): the file is not on disk."""
    err = _verify_line(capsys, _repo(tmp_path, head="from ...utils.torch_utils import skip_init\n"))
    assert "imports ...utils.torch_utils from outside its own folder" in err and "missing from the repo" in err


def test_an_import_from_above_that_is_on_disk_is_no_need(tmp_path):
    repo = _repo(tmp_path / "pkg" / "models", head="from ..helpers import skip_init\n")
    (tmp_path / "pkg" / "models" / "helpers.py").write_text("def skip_init(cls, *a, **k):\n    return cls(*a, **k)\n")
    assert not [n for n in unmet_needs(repo, repo / MODELING.name) if "outside its own folder" in n]


EXTENSION = 'from torch.utils.cpp_extension import load\ngemm = load(name="gemm_cpp", sources=["gemm.cpp"])\n'


def test_a_cpp_extension_built_at_import_is_named_not_built(capsys, tmp_path):
    err = _verify_line(capsys, _repo(tmp_path, head=EXTENSION))
    assert "builds the custom C++ extension gemm_cpp from gemm.cpp" in err and "torch.utils.cpp_extension.load" in err


def test_the_reduced_module_names_the_extension_and_imports_alone(tmp_path):
    head = EXTENSION + "\n\ndef fused_linear(x, w):\n    return gemm.matmul(x, w.t())\n"
    repo = _repo(tmp_path, head=head)
    modeling = repo / MODELING.name
    head_call = "self.lm_head(self.model(input_ids, attention_mask))"
    assert head_call in modeling.read_text()
    modeling.write_text(modeling.read_text().replace(head_call, "fused_linear(self.model(input_ids, attention_mask), self.lm_head.weight)"))
    reduction = reduce_source(resolve(repo))
    assert 'gemm = custom_extension("gemm_cpp", ["gemm.cpp"])' in reduction.code
    assert "cpp_extension" not in reduction.code and not undefined_names(reduction.code)
    assert any("gemm_cpp" in w for w in reduction.warnings)
    namespace: dict = {}
    exec(compile(reduction.code, "reduced", "exec"), namespace)  # imports: nothing is compiled
    with pytest.raises(RuntimeError, match="gemm_cpp .*gemm.cpp.*computes matmul"):
        namespace["gemm"].matmul


@pytest.mark.parametrize("guarded", [
    "try:\n    from .fast_kernels import fused\nexcept ImportError:\n    fused = None\n",  # has its fallback
    "def lazy():\n    from .fast_kernels import fused\n    return fused\n",  # runs only if called
])
def test_imports_that_need_not_run_are_no_need(tmp_path, guarded):
    repo = _repo(tmp_path, head=guarded)
    assert unmet_needs(repo, repo / MODELING.name) == []


def test_a_complete_repo_has_no_unmet_need():
    assert unmet_needs(RC_LLAMA, MODELING) == []
    assert json.loads((RC_LLAMA / "config.json").read_text())["auto_map"]  # the test repo is the complete one


@pytest.mark.parametrize("text,kernel", [
    ("import triton\n", True),
    ("import triton.language as tl\n", True),
    ("from torch.utils import cpp_extension\n", True),
    ("from torch.utils.cpp_extension import load_inline\n", True),
    ("from mla_triton import triton_mla\nimport torch\n", False),  # a sibling whose name holds the word
    ("import torch\n", False),
])
def test_a_kernel_file_is_read_off_its_imports(tmp_path, text, kernel):
    (tmp_path / "attn.py").write_text(text)
    assert is_kernel(tmp_path / "attn.py") is kernel
