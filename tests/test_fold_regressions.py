"""Folding bugs found on real files, each pinned to the smallest code that showed it."""

from pathlib import Path

import libcst as cst
import torch

from archread.parsers import reduce_source
from archread.parsers.context import PassContext
from archread.parsers.passes.simplify import Simplify
from archread.parsers.source import Source

MODEL = """
import torch
from torch import nn


class M(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.kind = config.kind

    def forward(self, input_ids, output_attentions=None):
        fast = (
            self.kind == "sdpa"
            and input_ids.dim() == 2
            and not output_attentions
        )
        if fast:
            return self.proj(input_ids)
        return self.proj(input_ids) * 2
"""


def test_an_operand_left_by_a_fold_keeps_the_brackets_that_hold_its_lines():
    # 4.4x BERT: `(a == "sdpa"\n and b\n and not output_attentions)` folded to two bare lines, invalid Python
    code = reduce_source(Source(path=Path("modeling_m.py"), text=MODEL, model_type="m", release=None)).code
    compile(code, "reduced", "exec")
    assert "output_attentions" not in code and 'self.kind == "sdpa"' in code


def test_a_fold_reused_on_a_new_tree_does_not_take_a_freed_node_for_an_elif():
    # signatures reuses one Simplify over many rebuilt functions: a node freed with one tree can share its id
    # with a node of the next, and an `if` taken for an `elif` became a bare `else:` (nemotron_h, 5.x)
    ctx = PassContext()
    fold = Simplify(ctx)
    tree = cst.parse_module("if a:\n    x = 1\nif None is None:\n    y = 2\n")
    stmt = tree.body[1]
    truth = ctx.mark(cst.Name("None"), "signatures")
    stmt = stmt.with_changes(test=cst.Comparison(truth, [cst.ComparisonTarget(cst.Is(), ctx.mark(cst.Name("None"), "signatures"))]))
    tree = tree.with_changes(body=[tree.body[0], stmt])
    fold._elifs[id(stmt)] = cst.If(test=cst.Name("b"), body=stmt.body)  # a stale entry under the same id
    code = tree.visit(fold).code
    assert "else" not in code and "y = 2" in code


def test_a_deleted_parameter_that_is_always_none_leaves_no_del_none():
    # 5.x esmfold2: `del lm_hidden_states` of a parameter no caller passes became `del None`, invalid Python
    text = MODEL.replace("        fast = (", "        extra = extra if extra is not None else input_ids\n        del extra, input_ids2\n        fast = (")
    text = text.replace("def forward(self, input_ids, output_attentions=None):", "def forward(self, input_ids, extra=None, input_ids2=None):")
    text += "\n\nclass MForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.m = M(config)\n\n" \
            "    def forward(self, input_ids):\n        return self.m(input_ids)\n"
    code = reduce_source(Source(path=Path("modeling_m.py"), text=text, model_type="m", release=None)).code
    compile(code, "reduced", "exec")
    assert "del None" not in code and "input_ids2" not in code and "del extra\n" in code


SPLIT_CACHE = """
import torch
from torch import nn


def _split(past_key_values):
    if past_key_values is None:
        return None, None
    return past_key_values[0], past_key_values[1]


def _run(model, x, past_key_values, use_cache):
    past_key_values, extra = _split(past_key_values)
    if past_key_values is not None:
        x = x + past_key_values
    return model(x)


class MForCausalLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, input_ids, past_key_values=None, use_cache=None):
        return _run(model=self.proj, x=input_ids, past_key_values=past_key_values, use_cache=use_cache)
"""


def test_a_knocked_parameter_rebound_with_another_name_goes_with_the_callers_keyword():
    # LongLLaMA's `past_key_values, mem_caches = _split_past_key_values(past_key_values)`: the tuple store was taken
    # for a read of the value it came in with, so the parameter stayed while the call's keyword went (TypeError)
    code = reduce_source(Source(path=Path("modeling_m.py"), text=SPLIT_CACHE, model_type="m", release=None)).code
    assert "def _run(model, x):" in code and "_run(model=self.proj, x=input_ids)" in code


def test_a_class_named_like_a_head_without_a_forward_is_not_the_root():
    # 4.52.x multimodal files: `class KwargsForCausalLM(TypedDict)` was taken for the model and the rest went
    text = "from typing import TypedDict\n\n\nclass KwargsForCausalLM(TypedDict):\n    scale: float\n" + MODEL
    code = reduce_source(Source(path=Path("modeling_m.py"), text=text, model_type="m", release=None)).code
    assert "class M(Module)" in code and "KwargsForCausalLM" not in code


def test_remote_code_style_reduces_to_its_equations():
    # a folder as a model repo has it: absolute `transformers.` imports, einops, a fused kernel tried at import
    from archread.parsers import resolve

    result = reduce_source(resolve(str(Path(__file__).parent / "data" / "remote_foo")))
    code = result.code
    compile(code, "reduced", "exec")
    assert "fused_rms_norm" not in code and "try:" not in code  # the optional kernel's plain path
    # einops' rearrange is the prelude's own: the module stands alone, with nothing to install
    assert "from archread.prelude import Module, rearrange" in code and "einops" not in code
    assert "past_key_value" not in code and "def forward(self, input_ids=None):" in code
    assert "for layer in self.layers:\n            hidden_states = layer(hidden_states, mask)" in code


def _reduced(text: str) -> str:
    return reduce_source(Source(path=Path("modeling_m.py"), text=text, model_type="m", release=None)).code


VERSION_CHECK = """
import torch
{imports}
from torch import nn


class M(nn.Module):
    def forward(self, x):
        if {check}:
            return x
        return -x
"""


def test_a_packaging_check_of_torchs_version_reads_as_torchs_own_comparison():
    # MPT's triton fallback: `version.parse(torch.__version__) < version.parse('2.0.0')` left `version` undefined
    cases = [("from packaging import version", "version.parse(torch.__version__) < version.parse('2.0.0')"),
             ("from packaging import version as v", "v.Version('1.9') <= v.parse(torch.__version__)"),
             ("import packaging.version", "packaging.version.parse(torch.__version__) >= packaging.version.parse('2')"),
             ("import packaging as p", "p.version.parse(torch.__version__) < p.version.parse('2.0')"),
             ("from packaging.version import parse as V", "V(torch.__version__) < V('2.0')")]
    for imports, check in cases:
        code = _reduced(VERSION_CHECK.format(imports=imports, check=check))
        assert "torch.__version__" in code and "packaging" not in code and "parse" not in code, code
        namespace = {}
        exec(code, namespace)  # defined without packaging: torch's own version object compares
        assert namespace["M"]()(torch.ones(1)).item() in (1.0, -1.0)


def test_a_version_check_of_something_else_keeps_packaging_and_says_so():
    text = VERSION_CHECK.format(imports="from packaging import version", check="version.parse(x.version) < version.parse('2.0')")
    reduction = reduce_source(Source(path=Path("modeling_m.py"), text=text, model_type="m", release=None))
    assert "version.parse(x.version)" in reduction.code
    assert "unresolved name version (imported from packaging)" in reduction.warnings
