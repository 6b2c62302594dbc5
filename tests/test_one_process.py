"""Expert parallelism over ranks (DeepSeek-V3's `ep_size > 1` branches): the reduced model is the one-process
model, so neither the branch nor what only it needed (numpy, torch.distributed) stays."""

import ast
from pathlib import Path

from archread.parsers import reduce_source, resolve
from archread.parsers.undefined import undefined_names

FLAT = Path(__file__).parent / "data" / "remote_repos" / "rc_flat"

INIT = '''        self.mlp = RcMLP(config)
        if config.ep_size > 1:
            assert config.ep_size == dist.get_world_size()
            self.ep_size = config.ep_size
        else:
            self.ep_size = 1
'''
FORWARD = '''        x = x + self.attn(self.attn_norm(x), mask)
        if self.ep_size > 1:
            order = np.zeros(x.shape[0], dtype=np.int32)
            dist.all_to_all_single(x, x)
            x = x[order]
'''


def test_the_expert_parallel_branches_go_and_numpy_with_them(tmp_path):
    repo = tmp_path / "ep_checkout"
    repo.mkdir()
    for path in FLAT.iterdir():
        if path.suffix in (".py", ".json"):
            (repo / path.name).write_text(path.read_text())
    modeling = repo / "modeling_rc_flat.py"
    text = modeling.read_text().replace("import torch\n", "import numpy as np\nimport torch\nimport torch.distributed as dist\n", 1)
    text = text.replace("        self.mlp = RcMLP(config)\n", INIT).replace("        x = x + self.attn(self.attn_norm(x), mask)\n", FORWARD)
    modeling.write_text(text)
    (repo / "configuration_rc_flat.py").write_text((FLAT / "configuration_rc_flat.py").read_text().replace(
        "rms_norm_eps=1e-6, **kwargs):", "rms_norm_eps=1e-6, ep_size=1, **kwargs):\n        self.ep_size = ep_size"))
    code = reduce_source(resolve(repo)).code
    tops = {a.name.split(".")[0] for n in ast.parse(code).body if isinstance(n, ast.Import) for a in n.names}
    assert "numpy" not in tops and "dist" not in code and "ep_size" not in code, code
    assert not undefined_names(code)
