"""Remote code that names no release and fails under the installed one for want of a transformers member (one 5.x
removed) is run under an older release, and the report says which and why; other faults are not retried."""

import shutil
from pathlib import Path

import pytest
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

from archread.runtime.framework_member import missing_framework_member
from archread.runtime.verify import verify

RC_LLAMA = Path(__file__).parent / "data" / "remote_repos" / "rc_llama"


def _calling(tmp_path, line: str) -> Path:
    """rc_llama (its config.json names no release) with `line` run first in its base model's forward."""
    repo = tmp_path / "rc_old"
    shutil.copytree(RC_LLAMA, repo)
    modeling = repo / "modeling_rc_llama.py"
    anchor = "        x = self.embed(input_ids)\n"
    text = modeling.read_text()
    assert anchor in text
    modeling.write_text(text.replace(anchor, anchor + f"        {line}\n"))
    return repo


class _Config(PretrainedConfig):
    model_type = "tiny_member"


class _Model(PreTrainedModel):
    config_class = _Config

    def __init__(self, config):
        super().__init__(config)
        self.inner = nn.Linear(2, 2)


def test_a_member_a_transformers_base_lacks_is_named_and_a_plain_modules_is_not():
    model = _Model(_Config())
    with pytest.raises(AttributeError) as missing:
        model.no_such_member_anywhere
    assert missing_framework_member(missing.value, model) == "PreTrainedModel.no_such_member_anywhere"
    with pytest.raises(AttributeError) as plain:
        model.inner.no_such_member_anywhere  # an nn.Linear: no transformers class could have given it
    assert missing_framework_member(plain.value, model) is None
    assert missing_framework_member(ValueError("'_Model' object has no attribute 'x'"), model) is None


@pytest.mark.corpus
def test_a_removed_base_member_runs_the_original_under_an_older_release(tmp_path):
    # get_head_mask: a ModuleUtilsMixin method of every 4.x release, gone from 5.x
    report = verify(_calling(tmp_path, "self.get_head_mask(None, len(self.blocks))"), trust_code=True)
    assert report.match, report.to_text()
    assert "subprocess); the installed" in report.reference and "lacks PreTrainedModel.get_head_mask" in report.reference


def test_a_fault_of_the_code_itself_is_reported_not_retried(tmp_path):
    from archread.errors import ArchreadError

    with pytest.raises(ArchreadError) as failed:
        verify(_calling(tmp_path, "self.blocks.no_such_layer"), trust_code=True)
    assert "'ModuleList' object has no attribute 'no_such_layer'" in str(failed.value)
    assert "release" not in str(failed.value)
