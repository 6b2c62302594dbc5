"""The prelude's rearrange and repeat against the torch reshapes each einops pattern means."""

import pytest
import torch

from archread.prelude import rearrange, repeat

X = torch.randn(2, 3, 4, 6)
Y = torch.randn(2, 5)


@pytest.mark.parametrize("pattern, lengths, want", [
    ("b s h d -> b h s d", {}, X.permute(0, 2, 1, 3)),
    ("b s h d -> (b s) (h d)", {}, X.reshape(6, 24)),
    ("b s h (d two) -> b s h d two", {"two": 2}, X.reshape(2, 3, 4, 3, 2)),
    ("b s (h x) d -> b s h x d", {"x": 2}, X.reshape(2, 3, 2, 2, 6)),
    ("b ... d -> b d ...", {}, X.permute(0, 3, 1, 2)),
    ("b ... d -> b (...) d", {}, X.reshape(2, 12, 6)),
    ("... d -> ... 1 d", {}, X[..., None, :]),
    ("(b s) h x d -> b s h (x d)", {"b": 1}, X.reshape(1, 2, 3, 24)),
])
def test_rearrange(pattern, lengths, want):
    assert torch.equal(rearrange(X, pattern, **lengths), want)


def test_rearrange_drops_unit_axes_and_stacks_a_list():
    assert torch.equal(rearrange(X[:, :, :1], "b s 1 d -> b s d"), X[:, :, 0])
    parts = [torch.randn(3, 4), torch.randn(3, 4)]
    assert torch.equal(rearrange(parts, "n a b -> a (n b)"), torch.cat(parts, dim=1))


@pytest.mark.parametrize("pattern, lengths, want", [
    ("b d -> b n d", {"n": 3}, Y[:, None].expand(2, 3, 5)),
    ("b d -> (b n) d", {"n": 2}, Y.repeat_interleave(2, dim=0)),
    ("b d -> b (n d)", {"n": 3}, Y.repeat(1, 3)),
    ("b d -> b d 4", {}, Y[..., None].expand(2, 5, 4)),
])
def test_repeat(pattern, lengths, want):
    assert torch.equal(repeat(Y, pattern, **lengths), want)


def test_an_axis_rearrange_cannot_find_is_an_error():
    with pytest.raises(ValueError):
        rearrange(Y, "b d -> b n d")
