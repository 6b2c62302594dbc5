"""Every kernel against its plain-PyTorch reference on odd shapes, in three dtypes.

On a machine without a GPU these run under TRITON_INTERPRET=1 (set in conftest) at small shapes;
benchmarks/kernels.py runs the same checks at full shapes on the GPU.
"""

import kernel_refs as ref
import pytest
import torch

from archread.runtime import kernels as K

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TOL = {torch.float32: 2e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}
DTYPES = list(TOL)


def rand(*shape, dtype=torch.float32, scale=1.0):
    return (torch.randn(*shape, device=DEVICE) * scale).to(dtype)


def close(got, want, dtype, rel=1.0):
    assert got.shape == want.shape and got.dtype == want.dtype
    assert torch.isfinite(got).all()
    tol = TOL[dtype] * rel
    torch.testing.assert_close(got.float(), want.float(), atol=tol, rtol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [48, 3072, 5120])
@pytest.mark.parametrize("offset,round_first", [(0.0, True), (1.0, False)])
@pytest.mark.parametrize("rows_per_program", [1, 4])
def test_rms_norm(dtype, hidden, offset, round_first, rows_per_program, monkeypatch):
    monkeypatch.setitem(K.norm.TUNE, "rows", rows_per_program)
    x, w = rand(5, 3, hidden, dtype=dtype), rand(hidden, dtype=dtype, scale=0.1)
    close(K.rms_norm(x, w, 1e-6, offset, round_first), ref.rms_norm(x, w, 1e-6, offset, round_first), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias,offset", [(True, 0.0), (False, 0.0), (True, 1.0)])
@pytest.mark.parametrize("hidden", [80, 3000])  # one block; chunks of 2048 with a partial last one
def test_layer_norm(dtype, bias, offset, hidden):
    x, w = rand(7, hidden, dtype=dtype, scale=3.0), rand(hidden, dtype=dtype, scale=0.1)
    b = rand(hidden, dtype=dtype) if bias else None
    close(K.layer_norm(x, w, b, 1e-5, offset), ref.layer_norm(x, w, b, 1e-5, offset), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["rms", "layer"])
@pytest.mark.parametrize("hidden", [1024, 3072])  # one block; chunks
def test_add_norm_returns_sum_and_norm(dtype, kind, hidden):
    x, r, w = rand(3, 5, hidden, dtype=dtype), rand(3, 5, hidden, dtype=dtype), rand(hidden, dtype=dtype)
    if kind == "rms":
        total, y = K.rms_norm(x, w, 1e-6, residual=r)
        want = ref.rms_norm(x, w, 1e-6, residual=r)
    else:
        total, y = K.layer_norm(x, w, None, 1e-5, 1.0, residual=r)
        want = ref.layer_norm(x, w, None, 1e-5, 1.0, residual=r)
    close(total, x + r, dtype)
    close(y, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head_dim,rot,interleaved", [(64, 64, False), (80, 40, False), (128, 64, True), (256, 256, True)])
@pytest.mark.parametrize("transposed,cos_batch", [(True, 2), (False, 1)])
def test_rope(dtype, head_dim, rot, interleaved, transposed, cos_batch):
    batch, seq, n_q, n_k = 2, 7, 6, 2
    if transposed:  # as the models hold q and k after view + transpose
        q = rand(batch, seq, n_q, head_dim, dtype=dtype).transpose(1, 2)
        k = rand(batch, seq, n_k, head_dim, dtype=dtype).transpose(1, 2)
    else:
        q, k = rand(batch, n_q, seq, head_dim, dtype=dtype), rand(batch, n_k, seq, head_dim, dtype=dtype)
    angles = torch.rand(cos_batch, seq, rot // 2, device=DEVICE) * 6
    angles = angles.repeat_interleave(2, -1) if interleaved else torch.cat((angles, angles), -1)
    cos, sin = angles.cos().to(dtype), angles.sin().to(dtype)
    got, want = K.apply_rope(q, k, cos, sin, interleaved), ref.apply_rope(q, k, cos, sin, interleaved)
    close(got[0], want[0], dtype)
    close(got[1], want[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(K.ACTS))
@pytest.mark.parametrize("form", ["gated", "fused", "plain"])
def test_activation(dtype, act, form):
    gate, up = rand(3, 5, 1100, dtype=dtype, scale=2), rand(3, 5, 1100, dtype=dtype)
    if form == "fused":
        got = K.activation(torch.cat((gate, up), -1), act=act, fused=True)
    else:
        got = K.activation(gate, up if form == "gated" else None, act)
    close(got, ref.activation(gate, None if form == "plain" else up, act), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softcap(dtype):
    x = rand(3, 1001, dtype=dtype, scale=40)
    close(K.softcap(x, 30.0), ref.softcap(x, 30.0), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head_dim", [64, 80, 128, 256])
@pytest.mark.parametrize("options", [{}, {"window": 5}, {"cap": 20.0, "scale": 0.3}, {"window": 17, "cap": 5.0}])
def test_attention(dtype, head_dim, options):
    seq = 37
    q = rand(1, 4, seq, head_dim, dtype=dtype)
    k, v = rand(1, 2, seq, head_dim, dtype=dtype), rand(1, 2, seq, head_dim, dtype=dtype)
    got = K.attention(q, k, v, options.get("scale"), options.get("window"), options.get("cap"))
    close(got, ref.attention(q, k, v, options.get("scale"), options.get("window"), options.get("cap")), dtype, rel=2)


@pytest.mark.parametrize("call,words", [
    (lambda: K.rms_norm(rand(2, 8).double(), rand(8).double()), "dtype torch.float64"),
    (lambda: K.rms_norm(rand(1, 70000), rand(70000)), "one-block limit of 65536"),
    (lambda: K.activation(rand(2, 8), act="swish7"), "'swish7' is not supported"),
    (lambda: K.attention(rand(1, 3, 4, 8), rand(1, 2, 4, 8), rand(1, 2, 4, 8)), "multiple of kv heads"),
    (lambda: K.attention(rand(1, 2, 4, 512), rand(1, 2, 4, 512), rand(1, 2, 4, 512)), "head_dim 512 exceeds"),
    (lambda: K.apply_rope(rand(1, 2, 4, 8), rand(1, 2, 4, 8), rand(1, 4, 12), rand(1, 4, 12)), "rotary width 12"),
])
def test_unsupported_input_names_the_limit(call, words):
    with pytest.raises(K.KernelLimitError, match=words):
        call()


@pytest.mark.parametrize("rot", [64, 32])
def test_rope_in_place_writes_what_out_of_place_returns(rot):
    q, k = rand(1, 7, 4, 64).transpose(1, 2), rand(1, 7, 2, 64).transpose(1, 2)  # the models' view + transpose
    cos, sin = rand(1, 7, rot), rand(1, 7, rot)
    want = K.apply_rope(q, k, cos, sin)
    got = K.apply_rope(q, k, cos, sin, inplace=True)
    assert got[0].data_ptr() == q.data_ptr() and got[1].data_ptr() == k.data_ptr()
    for a, b in zip(got, want):
        close(a, b, torch.float32)


@pytest.mark.parametrize("rot", [64, 32])
def test_rope_positions_per_program_give_the_same(rot, monkeypatch):
    from archread.runtime.kernels import rope

    q, k = rand(2, 4, 7, 64), rand(2, 2, 7, 64)  # 14 positions: the last tile of 4 is partial
    cos, sin = rand(2, 7, rot), rand(2, 7, rot)
    monkeypatch.setitem(rope.TUNE, "positions", 1)
    one = rope.apply_rope(q, k, cos, sin)
    monkeypatch.setitem(rope.TUNE, "positions", 4)
    four = rope.apply_rope(q, k, cos, sin)
    for a, b in zip(one, four):  # the same arithmetic: equal in the interpreter, within rounding on a GPU
        close(a, b, torch.float32)
