"""archread run on small random checkpoints saved by the real transformers classes (CPU; kernels bind
under TRITON_INTERPRET=1, which conftest sets on machines without a GPU)."""

import json
import os

import pytest
import torch
import transformers

from archread.cli import main
from archread.runtime.bind import bind
from archread.runtime.tiny import shrink

KERNELS = os.environ.get("TRITON_INTERPRET") == "1" or torch.cuda.is_available()
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # where the kernels run: the GPU if any, else the interpreter


def checkpoint(folder, model_type, **save):
    cfg = shrink(transformers.AutoConfig.for_model(model_type))
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(cfg).save_pretrained(folder, **save)
    return folder


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return checkpoint(tmp_path_factory.mktemp("ck") / "llama", "llama")


def run_json(capsys, *argv, device="cpu"):
    code = main(["run", *map(str, argv), "--device", device, "--format", "json", "--tokens", "24", "--generate", "3"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_run_matches_and_names_its_kernels(llama, capsys):
    code, report = run_json(capsys, llama, "--dtype", "float32", device=DEVICE)
    assert code == 0 and report["match"]
    assert report["logits"]["max_abs"] <= 1e-5 and report["logits"]["top1_agree"] == 1.0
    assert report["generation"]["agree"] == 3
    kernels = {k["component"]: k["kernel"] for k in report["kernels"]}
    if KERNELS:
        assert kernels["model.layers.*.input_layernorm"].startswith("rms_norm")
        assert kernels["model.layers.*.mlp"].startswith("activation(silu")
        assert kernels["apply_rotary_pos_emb"] == "rope(half)"
        assert kernels["eager_attention_forward"].startswith("attention")


# float16, not bfloat16: Triton's interpreter rounds float32 → bfloat16 by truncation (measured: half of
# random values differ from torch's round-to-nearest), which no GPU does; benchmarks/run_checkpoints.py
# checks bfloat16 on the H200.
LOW = "bfloat16" if torch.cuda.is_available() else "float16"


@pytest.mark.parametrize("model_type", ["nemotron", "gemma2"])
def test_run_low_precision_within_the_originals_own_error(model_type, tmp_path, capsys):
    code, report = run_json(capsys, checkpoint(tmp_path / model_type, model_type), "--dtype", LOW)
    own = {b["name"]: b["rel_l2"] for b in report["original_low_precision"]}
    assert code == 0 and report["match"]
    assert all(e["rel_l2"] <= 1.1 * own[e["name"]] + 1e-7 for e in report["layers"])


def test_sharded_checkpoint_and_stream(tmp_path, capsys):
    folder = checkpoint(tmp_path / "sharded", "qwen2", max_shard_size="20KB")
    assert (folder / "model.safetensors.index.json").is_file()
    code, report = run_json(capsys, folder, "--dtype", "float32", "--stream")
    assert code == 0 and report["match"]


def test_hf_cache_name_resolves_offline(llama, tmp_path, monkeypatch, capsys):
    snapshot = tmp_path / "hub" / "models--acme--tiny-llama" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for f in llama.iterdir():
        (snapshot / f.name).symlink_to(f)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    code, report = run_json(capsys, "acme/tiny-llama", "--dtype", "float32", "--no-kernels")
    assert code == 0 and report["checkpoint"] == str(snapshot)
    assert report["kernels"] == [{"component": "*", "kernel": "torch"}]


def test_plot_is_a_png(llama, tmp_path, capsys):
    out = tmp_path / "err.png"
    assert main(["run", str(llama), "--device", "cpu", "--dtype", "float32", "--no-kernels", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000
    capsys.readouterr()
    assert main(["run", str(llama), "--device", "cpu", "--plot", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("argv,words", [
    (["/nonexistent/ckpt", "--device", "cpu"], "not a checkpoint folder"),
    (["nobody/nothing", "--device", "cpu"], "not in the local Hugging Face cache"),
    (["LLAMA", "--device", "cuda"], "no CUDA GPU" if not torch.cuda.is_available() else ""),
    (["LLAMA", "--device", "cpu", "--bench"], "needs --device cuda"),
    (["LLAMA", "--device", "cpu", "--modeling", "/tmp/elsewhere/modeling_x.py"], "modeling_x.py"),
])
def test_bad_input_is_one_line_exit_2(llama, argv, words, capsys):
    argv = [str(llama) if a == "LLAMA" else a for a in argv]
    if not words:
        pytest.skip("has a GPU")
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_truncated_weights_fail_cleanly(llama, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in llama.iterdir():
        data = f.read_bytes()
        (broken / f.name).write_bytes(data[: len(data) // 2] if f.suffix == ".safetensors" else data)
    assert main(["run", str(broken), "--device", "cpu", "--dtype", "float32"]) == 2
    assert capsys.readouterr().err.startswith("archread: ")


class OddNorm(torch.nn.Module):
    """A norm no kernel computes (mean absolute value): probing must leave it in torch."""

    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.rand(n) + 0.5)
        self.eps = 1e-6

    def forward(self, x):
        return self.weight * x / (x.abs().mean(-1, keepdim=True) + self.eps)


class Gemmaish(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n) * 0.1)
        self.eps = 1e-6

    def forward(self, x):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + self.weight.float())).type_as(x)


@pytest.mark.skipif(not KERNELS, reason="kernels need a GPU or Triton's interpreter")
def test_probing_binds_only_what_a_kernel_reproduces():
    model = torch.nn.Sequential(torch.nn.Embedding(50, 32), Gemmaish(32), OddNorm(32)).to(DEVICE)
    report = bind(model, torch.randint(0, 50, (1, 9), device=DEVICE), namespace={})
    kernels = {b.kind: b.kernel for b in report.bindings}
    assert kernels["Gemmaish"] == "rms_norm(float32 weight, 1+w)" or kernels["Gemmaish"].endswith("1+w)")
    assert kernels["OddNorm"] is None


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and RGB bytes of the plot's PNG (one IDAT, filter 0 on every row, as plot.py writes)."""
    import struct
    import zlib

    width, height = struct.unpack(">II", data[16:24])
    at, idat = 8, b""
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        idat += data[at + 8:at + 8 + size] if kind == b"IDAT" else b""
        at += 12 + size
    raw = zlib.decompress(idat)
    return width, height, b"".join(raw[y * (width * 3 + 1) + 1:(y + 1) * (width * 3 + 1)] for y in range(height))


def test_the_plot_shows_both_series_when_they_coincide_with_labelled_axes(tmp_path):
    from types import SimpleNamespace

    from archread.runtime import plot

    errors = [SimpleNamespace(name=n, rel_l2=v) for n, v in
              [("model.embed_tokens", 0.0), ("model.layers.0", 1e-3), ("model.layers.1", 2e-3)]]
    report = SimpleNamespace(model="llama", dtype="bfloat16", layers=errors, logits=SimpleNamespace(name="logits", rel_l2=4e-3),
                             baseline=[*errors, SimpleNamespace(name="logits", rel_l2=4e-3)])  # the same errors exactly
    plot.error_plot(report, tmp_path / "p.png")
    width, height, px = png_pixels((tmp_path / "p.png").read_bytes())
    colours = {bytes(px[i:i + 3]) for i in range(0, len(px), 3)}
    assert bytes(plot.REDUCED) in colours and bytes(plot.ORIGINAL) in colours  # neither hidden under the other

    def ink(x0, y0, x1, y1):
        return sum(px[(y * width + x) * 3:(y * width + x) * 3 + 3] == bytes(plot.INK)
                   for y in range(y0, y1) for x in range(x0, x1))
    assert ink(0, plot.TOP - 20, plot.LEFT, plot.TOP - 4) > 20  # the y axis's label
    below = plot.TOP + (height - plot.TOP - plot.BOTTOM) + 8
    assert ink(plot.LEFT - 30, below, width, below + 12) > 40  # the modules' names under their ticks
    assert plot.tick_label("model.layers.12") == "12" and plot.tick_label("logits") == "logits"
