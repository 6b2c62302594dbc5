"""What remote code's own files hold that a reduced module must keep or fold to stand alone: a plain dataclass the
model builds with arguments (its decorator and fields), the framework's base read through the package
(`transformers.PreTrainedModel`, under a class of the code's own named `PreTrainedModel`), the configuration's
import tried from the package and then from beside the file, and a module-level flag that guards a kernel the
code never imports."""

import shutil
from pathlib import Path

import pytest

from archread.parsers import reduce_source, resolve
from archread.parsers.undefined import undefined_names
from archread.runtime.verify import verify

RC_LLAMA = Path(__file__).parent / "data" / "remote_repos" / "rc_llama"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _with_dataclass(repo: Path) -> None:
    """layers.py (a sibling the reduction inlines) builds its MLP's output scale from a dataclass."""
    layers = repo / "layers.py"
    _edit(layers, "import torch\n", "from dataclasses import dataclass\n\nimport torch\n")
    _edit(layers, "class RcMLP(nn.Module):\n",
          "@dataclass\nclass RcScale:\n    factor: float\n    shift: float = 0.0\n\n\nclass RcMLP(nn.Module):\n")
    _edit(layers, "        self.down = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)\n",
          "        self.down = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)\n"
          "        self.scale = RcScale(factor=0.5, shift=0.25)\n")
    _edit(layers, "        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))\n",
          "        return self.down(nn.functional.silu(self.gate(x)) * self.up(x)) * self.scale.factor + self.scale.shift\n")


def _with_dotted_base(repo: Path, base: str) -> None:
    """The code's own base class is named `PreTrainedModel` and built on the framework's, read through the package."""
    modeling = repo / "modeling_rc_llama.py"
    _edit(modeling, "from transformers import PreTrainedModel\n", "import transformers\n")
    _edit(modeling, "class RcPreTrainedModel(PreTrainedModel):", f"class PreTrainedModel({base}):")
    _edit(modeling, "class RcLlamaModel(RcPreTrainedModel):", "class RcLlamaModel(PreTrainedModel):")
    _edit(modeling, "class RcLlamaForCausalLM(RcPreTrainedModel):", "class RcLlamaForCausalLM(PreTrainedModel):")


def _with_fallbacks(repo: Path) -> None:
    """The configuration imported from the package, else from beside the file; an NPU flag folded by hand
    (`if False:`) guarding a kernel whose import is commented out."""
    modeling = repo / "modeling_rc_llama.py"
    _edit(modeling, "from .configuration_rc_llama import RcLlamaConfig\n",
          "try:\n    from .configuration_rc_llama import RcLlamaConfig\nexcept ImportError:\n"
          "    from configuration_rc_llama import RcLlamaConfig\n\n"
          "# import npu_ops\nif False:\n    FUSED_BLOCK = True\nelse:\n    FUSED_BLOCK = False\n")
    _edit(modeling, "    def forward(self, x, mask):\n        x = x + self.attn(",
          "    def forward(self, x, mask):\n        if FUSED_BLOCK and not self.training:\n"
          "            return npu_ops.fused_block(x, mask)\n        x = x + self.attn(")


def _repo(tmp_path: Path, *edits) -> Path:
    repo = tmp_path / "rc_llama"
    shutil.copytree(RC_LLAMA, repo)
    for edit in edits:
        edit(repo)
    return repo


def _standalone(repo: Path) -> str:
    code = reduce_source(resolve(str(repo))).code
    assert undefined_names(code) == [], code
    exec(compile(code, "reduced", "exec"), {"__name__": "reduced"})  # imports on its own
    return code


def test_a_dataclass_the_model_builds_keeps_its_decorator_and_fields(tmp_path):
    code = _standalone(_repo(tmp_path, _with_dataclass))
    assert "from dataclasses import dataclass\n" in code
    assert "@dataclass\nclass RcScale:\n    factor: float\n    shift: float = 0.0\n" in code
    assert "RcScale(factor=0.5, shift=0.25)" in code


@pytest.mark.parametrize("base", ["transformers.PreTrainedModel", "transformers.modeling_utils.PreTrainedModel"])
def test_the_frameworks_base_read_through_the_package_is_glue_like_an_imported_one(tmp_path, base):
    code = _standalone(_repo(tmp_path, lambda repo: _with_dotted_base(repo, base)))
    assert "transformers" not in code and "PreTrainedModel" not in code
    assert "class RcLlamaModel(Module):" in code and "class RcLlamaForCausalLM(Module):" in code


def test_a_configuration_import_fallback_and_a_module_flag_fold_away(tmp_path):
    code = _standalone(_repo(tmp_path, _with_fallbacks))
    assert "try:" not in code and "configuration_rc_llama" not in code
    assert "FUSED_BLOCK" not in code and "npu_ops" not in code


def test_the_reduced_model_matches_the_original_with_all_three(tmp_path):
    repo = _repo(tmp_path, _with_dataclass, _with_fallbacks,
                 lambda repo: _with_dotted_base(repo, "transformers.PreTrainedModel"))
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()
