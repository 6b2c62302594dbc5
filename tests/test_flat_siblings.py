"""A flat repo run from its own folder (no __init__.py): its files import each other by bare name, one of them the
modeling file itself (`from modeling_x import *` in a sibling the modeling file imports: a circular import that
works only when both sides are the one module), and a kernel sibling (triton) the model calls on one path only."""

from pathlib import Path

from archread.parsers import reduce_source, resolve
from archread.parsers.undefined import undefined_names
from archread.runtime.original import find_original
from archread.runtime.repo_alias import sibling_names
from archread.runtime.verify import verify

FLAT = Path(__file__).parent / "data" / "remote_repos" / "rc_flat"

SIBLING = '''from modeling_rc_loop import *


class RcLoopAttention(RcAttention):
    def forward(self, x, mask):
        return 2 * super().forward(x, mask)
'''


def _loop_repo(tmp_path: Path) -> Path:
    """rc_flat renamed rc_loop, its blocks' attention a subclass from a sibling that imports the modeling file back."""
    repo = tmp_path / "loop_checkout"
    repo.mkdir(parents=True)
    for path in FLAT.iterdir():
        if path.suffix in (".py", ".json"):
            text = path.read_text().replace("rc_flat", "rc_loop").replace("RcFlat", "RcLoop")
            (repo / path.name.replace("rc_flat", "rc_loop")).write_text(text)
    modeling = repo / "modeling_rc_loop.py"
    text = modeling.read_text().replace("\n\nclass RcBlock(", "\n\nfrom rc_loop_attention import RcLoopAttention\n\n\nclass RcBlock(")
    modeling.write_text(text.replace("self.attn = RcAttention(config)", "self.attn = RcLoopAttention(config)"))
    (repo / "rc_loop_attention.py").write_text(SIBLING)
    return repo


def test_the_files_a_flat_repo_imports_by_bare_name_are_its_own(tmp_path):
    repo = _loop_repo(tmp_path)
    (repo / "json.py").write_text("X = 1\n")  # a standard module's name: Python's own comes first
    (repo / "torch.py").write_text("X = 1\n")  # an installed package's: it comes first on sys.path
    (repo / "rc_loop_attention.py").write_text("import json\nimport torch\n" + SIBLING)
    assert sibling_names(repo) == {"configuration_rc_loop", "rc_loop_layers", "rc_loop_quant", "rc_loop_attention",
                                   "modeling_rc_loop"}


def test_a_sibling_that_imports_the_modeling_file_back_gets_the_same_module(tmp_path):
    repo = _loop_repo(tmp_path)
    original = find_original(resolve(repo), "RcLoopForCausalLM")  # a second copy of the file re-ran it: ImportError
    module = __import__(original.model_class.__module__, fromlist=["RcLoopAttention"])
    assert module.RcLoopAttention.__mro__[1] is module.RcAttention
    assert original.config_class is module.RcLoopConfig  # the class the modeling file builds with is archread's


def test_a_flat_repo_with_a_circular_sibling_verifies(tmp_path):
    report = verify(_loop_repo(tmp_path), trust_code=True)
    assert report.match, report.to_text()


def test_a_kernel_sibling_is_imported_where_its_path_calls_it(tmp_path):
    repo = _loop_repo(tmp_path)
    (repo / "rc_loop_kernel.py").write_text("import torch\nimport triton\n\n\ndef fast_scale(x):\n    return 2 * x\n")
    (repo / "rc_loop_attention.py").write_text(
        "from modeling_rc_loop import *\nfrom rc_loop_kernel import fast_scale\n\n\n"
        "class RcLoopAttention(RcAttention):\n    def forward(self, x, mask):\n        return fast_scale(super().forward(x, mask))\n")
    reduction = reduce_source(resolve(repo))
    top = [line for line in reduction.code.splitlines() if line.startswith(("import ", "from "))]
    assert not any("rc_loop_kernel" in line for line in top), reduction.code
    assert "        from rc_loop_kernel import fast_scale\n" in reduction.code
    assert not undefined_names(reduction.code)
    assert any("rc_loop_kernel, a kernel module of the repo" in w and "RcLoopAttention.forward calls it" in w
               for w in reduction.warnings), reduction.warnings


def test_a_kernel_name_read_at_module_level_keeps_its_import_there(tmp_path):
    repo = _loop_repo(tmp_path)
    (repo / "rc_loop_kernel.py").write_text("import triton\n\n\ndef fast_scale(x):\n    return 2 * x\n")
    (repo / "rc_loop_attention.py").write_text(
        "from modeling_rc_loop import *\nfrom rc_loop_kernel import fast_scale\n\nSCALES = {'fast': fast_scale}\n\n\n"
        "class RcLoopAttention(RcAttention):\n    def forward(self, x, mask):\n        return SCALES['fast'](super().forward(x, mask))\n")
    reduction = reduce_source(resolve(repo))
    assert "\nfrom rc_loop_kernel import fast_scale\n" in reduction.code, reduction.code



def test_two_repos_with_files_of_one_name_each_get_their_own(tmp_path):
    first, second = _loop_repo(tmp_path / "a"), _loop_repo(tmp_path / "b")
    for repo in (first, second):
        module = __import__(find_original(resolve(repo), "RcLoopForCausalLM").model_class.__module__, fromlist=["x"])
        package = module.__name__.rpartition(".")[0]
        assert module.RcLoopAttention.__module__ == f"{package}.rc_loop_attention"  # not the first repo's copy


def test_a_kernel_the_model_is_built_from_keeps_its_import_at_the_top(tmp_path):
    repo = _loop_repo(tmp_path)
    (repo / "rc_loop_kernel.py").write_text("import torch\nimport triton\n\n\nclass FastScale(torch.nn.Module):\n"
                                            "    def forward(self, x):\n        return 2 * x\n")
    (repo / "rc_loop_attention.py").write_text(
        "from modeling_rc_loop import *\nfrom rc_loop_kernel import FastScale\n\n\n"
        "class RcLoopAttention(RcAttention):\n    def __init__(self, config):\n        super().__init__(config)\n"
        "        self.scale = FastScale()\n\n    def forward(self, x, mask):\n        return self.scale(super().forward(x, mask))\n")
    reduction = reduce_source(resolve(repo))
    assert "\nfrom rc_loop_kernel import FastScale\n" in reduction.code, reduction.code  # every build needs it
