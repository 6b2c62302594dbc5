"""Code taken from other models' files: modular files, remote code built on transformers' layers."""

import importlib.util
from pathlib import Path

import pytest
import torch

from archread.parsers import reduce_source, resolve
from archread.parsers.source import transformers_root
from archread.runtime.build import build_model
from archread.runtime.verify import verify

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("model", ["olmo2", "qwen3", "gemma2", "helium"])
def test_a_modular_file_reads_as_the_model_generated_from_it(model):
    # olmo2: `del self.input_layernorm`, two lenders; qwen3: built on qwen2 and llama; gemma2: on gemma;
    # helium: `HeliumModel(HeliumPreTrainedModel, LlamaModel)`, the lent parent second
    path = transformers_root() / "models" / model / f"modular_{model}.py"
    reduction = reduce_source(resolve(path))
    assert "modeling_" not in reduction.code  # nothing left to import from the lenders
    report = verify(path, reduction=reduction)
    assert report.match, report.to_text()
    assert report.logits.max_abs <= 1e-5


def test_remote_code_on_llama_layers_stands_alone_and_computes_the_same():
    reduction = reduce_source(resolve(DATA / "remote_bar"))
    code = reduction.code
    assert "transformers" not in code and "class LlamaDecoderLayer(Module)" in code
    # the repo's own rotate_half would shadow Llama's at module level: Llama's keeps its reading under its own name
    assert "rotate_half_llama(q)" in code
    from transformers import LlamaConfig

    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2)
    config._attn_implementation = "eager"
    spec = importlib.util.spec_from_file_location("modeling_bar", DATA / "remote_bar" / "modeling_bar.py")
    original = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(original)  # the test runs the repo's code; archread only read it
    torch.manual_seed(0)
    model = original.BarForCausalLM(config).eval()
    reduced = build_model(reduction, config)
    reduced.load_state_dict(model.state_dict(), strict=True)
    ids = torch.randint(0, 64, (2, 7))
    with torch.no_grad():
        assert torch.allclose(reduced(input_ids=ids), model(ids), atol=1e-5)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "transformers"
    for name, text in {"__init__.py": "__version__ = '9.0.0'\n", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


LENDER = (
    "import torch\nfrom torch import nn\n\n\ndef helper(x):\n    return x * 2\n\n\n"
    "class AMLP(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n        self.proj = nn.Linear(n, n)\n\n"
    "    def forward(self, x):\n        return helper(self.proj(x))\n\n\n"
    "class AModel(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n        self.mlp = AMLP(n)\n\n"
    "    def forward(self, x):\n        return self.mlp(x)\n"
)
BORROWER = (
    "import torch\nfrom torch import nn\nfrom ..a.modeling_a import AModel\n\n\ndef helper(x):\n    return x + 1\n\n\n"
    "class BMLP(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n        self.proj = nn.Linear(n, n)\n\n"
    "    def forward(self, x):\n        return helper(self.proj(x))\n\n\n"
    "class BModel(AModel):\n    pass\n\n\n"
    "class BForCausalLM(nn.Module):\n    def __init__(self, n):\n        super().__init__()\n        self.model = BModel(n)\n\n"
    "    def forward(self, x):\n        return self.model(x) + helper(x)\n"
)


def test_a_name_both_files_define_keeps_each_files_reading(tmp_path):
    # Python runs a.AMLP with a's helper, whatever b defines under that name
    root = _tree(tmp_path, {"models/a/modeling_a.py": LENDER, "models/b/modeling_b.py": BORROWER})
    code = reduce_source(resolve(root / "models" / "b" / "modeling_b.py")).code
    assert "def helper_a(x):\n    return x * 2" in code and "return helper_a(self.proj(x))" in code
    assert "def helper(x):\n    return x + 1" in code and "from ..a" not in code


def test_in_a_modular_file_the_modules_own_classes_take_their_roles(tmp_path):
    # the modular converter's reading: AModel's `AMLP(n)` becomes the module's BMLP, a's helper gives way to b's
    root = _tree(tmp_path, {"models/a/modeling_a.py": LENDER, "models/b/modular_b.py": BORROWER})
    code = reduce_source(resolve(root / "models" / "b" / "modular_b.py")).code
    assert "self.mlp = BMLP(n)" in code and "helper_a" not in code and "return x * 2" not in code
    assert "class BModel(AModel):" in code


def test_a_lender_that_is_not_there_is_named(tmp_path):
    root = _tree(tmp_path, {"models/b/modeling_b.py": BORROWER})
    result = reduce_source(resolve(root / "models" / "b" / "modeling_b.py"))
    assert "unresolved name AModel (imported from ..a.modeling_a)" in result.warnings


def test_a_cached_reading_is_stale_once_a_file_it_read_from_changes(tmp_path, monkeypatch):
    from archread.parsers.cache import reduce_cached

    monkeypatch.setenv("ARCHREAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ARCHREAD_NO_CACHE", raising=False)
    root = _tree(tmp_path, {"models/a/modeling_a.py": LENDER, "models/b/modeling_b.py": BORROWER})
    source = resolve(root / "models" / "b" / "modeling_b.py")
    assert "return x * 2" in reduce_cached(source).code
    (root / "models" / "a" / "modeling_a.py").write_text(LENDER.replace("x * 2", "x * 3"))
    assert "return x * 3" in reduce_cached(source).code


def test_a_modular_childs_init_is_the_parents_with_its_own_lines_in_place(tmp_path):
    # the converter's `super().__init__`: the parent's `self.dim = config.a` becomes the child's, where it was
    # (the parent's next line reads it); the parent's local the child sets again goes too (config.n may not exist)
    lender = ("from torch import nn\n\n\nclass AMLP(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
              "        n = config.n\n        self.dim = config.a\n        self.proj = nn.Linear(self.dim, n)\n\n"
              "    def forward(self, x):\n        return self.proj(x)\n")
    child = ("from torch import nn\nfrom ..a.modeling_a import AMLP\n\n\nclass BMLP(AMLP):\n    def __init__(self, config):\n"
             "        super().__init__(config)\n        n = 2\n        self.dim = config.b\n\n\n"
             "class BForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
             "        self.mlp = BMLP(config)\n\n    def forward(self, x):\n        return self.mlp(x)\n")
    root = _tree(tmp_path, {"models/a/modeling_a.py": lender, "models/b/modular_b.py": child})
    code = reduce_source(resolve(root / "models" / "b" / "modular_b.py")).code
    init = code[code.index("class BMLP"):code.index("class BForCausalLM")]
    assert "config.a" not in init and "config.n" not in init
    assert init.index("config.b") < init.index("nn.Linear(")


def test_the_prefixes_a_modular_file_swaps_are_read_off_its_classes():
    from archread.parsers.libcst_patches import parse_module
    from archread.parsers.modular import prefixes

    module = parse_module("class DiffLlamaDecoderLayer(LlamaDecoderLayer):\n    pass\n\n\n"
                          "class Olmo2Attention(OlmoAttention):\n    pass\n\n\nclass Qwen2MoeMLP(Qwen2MLP):\n    pass\n")
    found = prefixes(module, {"LlamaDecoderLayer", "OlmoAttention", "Qwen2MLP"})
    assert found == {"Llama": "DiffLlama", "Qwen2": "Qwen2Moe", "Olmo": "Olmo2"}


def test_a_model_named_with_a_backend_word_is_not_a_backend():
    # FlexOlmo's attention subclasses Olmo2's: a model's class, not a FlexAttention backend of it
    text = ("from torch import nn\n\n\nclass OlmoAttention(nn.Module):\n    def forward(self, x):\n        return x\n\n\n"
            "class FlexOlmoAttention(OlmoAttention):\n    def forward(self, x):\n        return 2 * x\n\n\n"
            "class FlexOlmoForCausalLM(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.attn = FlexOlmoAttention()\n\n    def forward(self, x):\n        return self.attn(x)\n")
    from archread.parsers.source import Source

    code = reduce_source(Source(path=Path("modeling_flex_olmo.py"), text=text, model_type="flex_olmo", release=None)).code
    assert "class FlexOlmoAttention(OlmoAttention)" in code
    # MiMo-V2-Flash's attention on DeepSeek-V3's: the word is the model's name, the base another model's
    mimo = text.replace("FlexOlmo", "MiMoV2Flash").replace("OlmoAttention", "DeepseekV3Attention")
    code = reduce_source(Source(path=Path("modeling_mimo.py"), text=mimo, model_type="mimo", release=None)).code
    assert "class MiMoV2FlashAttention(DeepseekV3Attention)" in code


@pytest.mark.parametrize("model", ["olmo2", "gemma2"])  # gemma2's MLP inherits GemmaMLP's forward
def test_a_modular_file_differs_from_llama_as_its_generated_file_does(model):
    # facts follow inherited methods and attributes, and read the configuration file beside the modular one
    from archread.diff import diff_models

    llama = reduce_source(resolve("llama"))
    facts = {}
    for name in (f"modular_{model}.py", f"modeling_{model}.py"):
        diff = diff_models(reduce_source(resolve(transformers_root() / "models" / model / name)), llama)
        facts[name] = {f.key: f.model for f in diff.differing}
    assert facts[f"modular_{model}.py"] == facts[f"modeling_{model}.py"] != {}


def test_in_a_modular_file_a_name_imported_from_another_lender_stands_for_the_lenders_own(tmp_path):
    # ERNIE-MoE imports ERNIE's apply_rotary_pos_emb next to Llama's attention: the attention calls ERNIE's
    other = "def helper(x):\n    return x * 3\n"
    child = BORROWER.replace("from ..a.modeling_a import AModel\n", "from ..a.modeling_a import AModel\nfrom ..c.modeling_c import helper\n")
    child = child.replace("def helper(x):\n    return x + 1\n\n\n", "")
    child = child[: child.index("class BMLP")] + child[child.index("class BModel"):]  # a's AMLP is the one built
    root = _tree(tmp_path, {"models/a/modeling_a.py": LENDER, "models/c/modeling_c.py": other, "models/b/modular_b.py": child})
    code = reduce_source(resolve(root / "models" / "b" / "modular_b.py")).code
    assert "return x * 3" in code and "x * 2" not in code and "helper_a" not in code


def test_a_method_is_looked_up_in_pythons_order_over_the_modules_classes():
    from archread.parsers.mro import local_mro

    bases = {"HeliumModel": ["HeliumPreTrainedModel", "LlamaModel"], "HeliumPreTrainedModel": ["LlamaPreTrainedModel"],
             "LlamaModel": ["LlamaPreTrainedModel"], "LlamaPreTrainedModel": ["PreTrainedModel"]}
    assert local_mro(bases, "HeliumModel") == ["HeliumModel", "HeliumPreTrainedModel", "LlamaModel", "LlamaPreTrainedModel"]
