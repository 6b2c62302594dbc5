"""How a repo's configuration is read: with no config.json (a copy of the code alone) from its own configuration
class's defaults, even where that class names no model_type; a config.json whose model_type the repo's class
spells otherwise is read by that class, as transformers' loader does (it only warns); an id the code writes as an
embedding's padding row stays in the tiny vocabulary."""

import json
import shutil
from pathlib import Path

from archread.parsers import resolve
from archread.runtime.code_sizes import literal_padding_ids
from archread.runtime.config_values import config_values
from archread.runtime.verify import verify

RC_LLAMA = Path(__file__).parent / "data" / "remote_repos" / "rc_llama"


def _code_only(tmp_path) -> Path:
    repo = tmp_path / "rc_code_only"
    shutil.copytree(RC_LLAMA, repo)
    (repo / "config.json").unlink()
    config = repo / "configuration_rc_llama.py"
    text = config.read_text()
    assert '    model_type = "rc_llama"\n' in text and "vocab_size=96" in text
    config.write_text(text.replace('    model_type = "rc_llama"\n', "").replace("vocab_size=96", "vocab_size=4096"))
    modeling = repo / "modeling_rc_llama.py"
    text = modeling.read_text()
    embed = "        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)\n"
    assert embed in text
    modeling.write_text(text.replace(embed, "        self.padding_idx = 3000\n"
                                            "        self.embed = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)\n"))
    return repo


def test_a_padding_row_written_as_a_literal_is_found_through_the_attribute_it_is_kept_in():
    code = "class M:\n    def __init__(self, c):\n        self.pad = 7\n        self.e = nn.Embedding(c.v, c.h, self.pad)\n"
    assert literal_padding_ids([code]) == {7}
    assert literal_padding_ids(["e = nn.Embedding(10, 4, padding_idx=3)\nf = nn.Embedding(10, 4)\n"]) == {3}


def test_a_repo_without_config_json_verifies_on_its_own_classs_defaults(tmp_path):
    report = verify(_code_only(tmp_path), trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    assert report.setup["config"]["vocab_size"] > 3000


def test_a_config_json_whose_model_type_the_repos_own_class_spells_otherwise_is_read_by_that_class(tmp_path):
    repo = tmp_path / "rc_spelled"
    shutil.copytree(RC_LLAMA, repo)
    config = json.loads((repo / "config.json").read_text())
    (repo / "config.json").write_text(json.dumps({**config, "model_type": "rc-llama-v1"}))
    report = verify(repo, trust_code=True)
    assert report.match, report.to_text()


def test_config_reads_remote_codes_values_without_running_its_class_and_verify_uses_them(tmp_path):
    repo = tmp_path / "rc_given"
    shutil.copytree(RC_LLAMA, repo)
    given = tmp_path / "checkpoint.json"
    given.write_text(json.dumps({**json.loads((repo / "config.json").read_text()), "num_key_value_heads": 4,
                                 "rope_theta": 500000.0}))
    values = config_values(given, resolve(repo))
    assert values["num_key_value_heads"] == 4 and values["rope_theta"] == 500000.0 and values["rms_norm_eps"] == 1e-6
    report = verify(repo, config=given, trust_code=True)
    assert report.match, report.to_text()
    assert report.setup["config"]["rope_theta"] == 500000.0
