"""What a remote repo's configuration file defines besides its configuration class (an enum, a helper) and the
model code uses is the model's code: put in the reduced module, as a sibling file's definitions are."""

import shutil
from pathlib import Path

from archread.parsers import reduce_source, resolve
from archread.parsers.undefined import undefined_names
from archread.runtime.verify import verify

RC_LLAMA = Path(__file__).parent / "data" / "remote_repos" / "rc_llama"

ENUM = '''

from dataclasses import dataclass, fields
from enum import Enum


class Scaling(str, Enum):
    sqrt = "sqrt"
    none = "none"


def head_scale(kind, head_dim):
    return head_dim ** -0.5 if kind == Scaling.sqrt else 1.0


@dataclass
class Scales:
    sqrt: bool = True


def scales_of(config):
    """The dataclass built from the configuration's values by its fields, as LLaDA builds its ModelConfig."""
    return Scales(**{f.name: getattr(config, f.name, f.default) for f in fields(Scales)})


class RcLlamaVariantConfig(RcLlamaConfig):
    model_type = "rc_llama_variant"
'''


def _repo(tmp_path) -> Path:
    """rc_llama whose attention scales by an enum, a helper and a dataclass its configuration file defines."""
    repo = tmp_path / "rc_enum"
    shutil.copytree(RC_LLAMA, repo)
    config = repo / "configuration_rc_llama.py"
    config.write_text(config.read_text() + ENUM)
    modeling = repo / "modeling_rc_llama.py"
    text = modeling.read_text()
    for old, new in [("from .configuration_rc_llama import RcLlamaConfig",
                      "from .configuration_rc_llama import RcLlamaConfig, RcLlamaVariantConfig, Scaling, head_scale, scales_of"),
                     ("        self.o = nn.Linear(", "        sqrt = scales_of(config).sqrt\n"
                      "        self.scale = head_scale(Scaling.sqrt if sqrt else Scaling.none, self.head_dim)\n"
                      "        self.o = nn.Linear("),
                     ("/ math.sqrt(self.head_dim)", "* self.scale")]:
        assert old in text
        text = text.replace(old, new)
    modeling.write_text(text)
    return repo


def test_the_configuration_files_other_definitions_the_model_uses_are_put_in(tmp_path):
    code = reduce_source(resolve(_repo(tmp_path))).code
    assert undefined_names(code) == [], code
    assert "class Scaling(str, Enum):" in code and "def head_scale(" in code
    # the configuration classes stand for the configuration, which the reading folds: never put in
    assert "class RcLlamaConfig" not in code and "class RcLlamaVariantConfig" not in code


def test_a_dataclass_whose_fields_the_code_reads_keeps_them_and_the_model_verifies(tmp_path):
    repo = _repo(tmp_path)
    code = reduce_source(resolve(repo)).code
    assert "@dataclass\nclass Scales:\n    sqrt: bool = True" in code, code  # fields(Scales) reads them
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()


SHAPE = '''

from dataclasses import dataclass
from typing import Optional


@dataclass
class Shape:
    heads: int = 4
    kv_heads: Optional[int] = None

    @property
    def effective_kv_heads(self) -> int:
        return self.heads if self.kv_heads is None else self.kv_heads

    def repeats(self) -> int:
        return self.heads // self.effective_kv_heads

    def unused(self) -> int:
        return 0
'''


def _shaped_repo(tmp_path) -> Path:
    """rc_llama whose attention keeps as its `self.config` a dataclass of the configuration file and reads a
    property and a method of it (LLaDA's `ModelConfig.effective_n_kv_heads`)."""
    repo = tmp_path / "rc_shape"
    shutil.copytree(RC_LLAMA, repo)
    config = repo / "configuration_rc_llama.py"
    config.write_text(config.read_text() + SHAPE)
    modeling = repo / "modeling_rc_llama.py"
    text = modeling.read_text()
    for old, new in [("from .configuration_rc_llama import RcLlamaConfig",
                      "from .configuration_rc_llama import RcLlamaConfig, Shape"),
                     ("        self.kv_heads = config.num_key_value_heads\n",
                      "        self.config = Shape(config.num_attention_heads, config.num_key_value_heads)\n"
                      "        self.kv_heads = self.config.effective_kv_heads\n"),
                     ("self.heads // self.kv_heads", "self.config.repeats()")]:
        assert old in text
        text = text.replace(old, new, 2 if "repeats" in new else 1)
    modeling.write_text(text)
    return repo


def test_the_properties_and_methods_of_a_lent_class_the_model_reads_through_its_config_are_kept(tmp_path):
    repo = _shaped_repo(tmp_path)
    code = reduce_source(resolve(repo)).code
    assert undefined_names(code) == [], code
    assert "def effective_kv_heads(self)" in code and "def repeats(self)" in code, code
    assert "def unused(" not in code, code  # what no one reads still goes
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()
