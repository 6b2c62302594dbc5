"""archread fit: headers read without data, bad input refused in one line, structure matching splits fused tensors."""

import struct

import pytest

from archread.cli import main
from archread.errors import ArchreadError
from archread.fit.headers import read_headers
from archread.fit.layers import split_tree
from archread.fit.per_layer import layer_config
from archread.fit.rank import check_language_model
from archread.fit.samples import header_only_shards, random_names
from archread.fit.structure import assign, word_conflicts


def _layers(n, hidden=64, kv=32, inter=96):
    shapes = {"model.embed_tokens.weight": (128, hidden), "model.norm.weight": (hidden,)}
    for i in range(n):
        p = f"model.layers.{i}."
        shapes.update({p + "self_attn.q_proj.weight": (hidden, hidden), p + "self_attn.k_proj.weight": (kv, hidden),
                       p + "self_attn.v_proj.weight": (kv, hidden), p + "self_attn.o_proj.weight": (hidden, hidden),
                       p + "mlp.down_proj.weight": (hidden, inter), p + "input_layernorm.weight": (hidden,)})
    return shapes


def _fails(capsys, *argv):
    assert main(["fit", *map(str, argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archread: ") and "\n" not in err and "Traceback" not in err
    return err


def test_a_folder_without_safetensors_is_refused(tmp_path, capsys):
    (tmp_path / "pytorch_model.bin").write_bytes(b"\0" * 16)
    assert "no *.safetensors" in _fails(capsys, tmp_path)


def test_a_header_that_does_not_parse_is_refused(tmp_path, capsys):
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 12) + b"{not json!!}")
    assert "does not parse" in _fails(capsys, tmp_path)


def test_a_truncated_header_is_refused(tmp_path, capsys):
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 4000) + b"{}")
    assert "truncated" in _fails(capsys, tmp_path)


def test_a_checkpoint_that_is_no_language_model_is_refused(tmp_path, capsys):
    header_only_shards(tmp_path, {"conv1.weight": (64, 3, 7, 7), "fc.weight": (10, 64)}, 1)
    assert "not a language-model checkpoint" in _fails(capsys, tmp_path)


def test_an_index_naming_a_missing_shard_is_refused(tmp_path, capsys):
    header_only_shards(tmp_path, _layers(2), 2)
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    assert "missing shard" in _fails(capsys, tmp_path)


def test_sharded_headers_are_read_without_data(tmp_path):
    shapes = _layers(80, hidden=8192, kv=1024, inter=28672)
    total = header_only_shards(tmp_path, shapes, 30)
    header = read_headers(tmp_path)
    assert header.shapes == shapes and len(header.files) == 30 and header.nbytes == total > 50e9
    assert sum(p.stat().st_size for p in header.files) < 1e6  # headers only: no data behind them


def test_the_block_is_the_numbered_prefix_holding_most_tensors():
    tree = split_tree(_layers(3))
    assert tree.prefix == ("model", "layers") and tree.count == 3 and set(tree.outside) == {
        "model.embed_tokens.weight", "model.norm.weight"}
    check_language_model(tree)
    with pytest.raises(ArchreadError):
        check_language_model(split_tree({"a.weight": (3, 3)}))


def test_random_names_keep_numbers_and_rename_each_role_once():
    names = list(_layers(2))
    new = random_names(names, seed=7)
    assert len(set(new.values())) == len(names)
    assert all(o.split(".")[2] == n.split(".")[2] for o, n in new.items() if ".layers." in o)
    roles = {o.split(".")[-2]: n.split(".")[-2] for o, n in new.items()}
    assert all(new[o].split(".")[-2] == roles[o.split(".")[-2]] for o in names)


def test_a_fused_qkv_is_split_by_the_candidate_shapes():
    ck = {"attn.qkv.weight": (128, 64), "attn.out.weight": (64, 64), "ln.weight": (64,)}
    cand = {"self_attn.q_proj.weight": (64, 64), "self_attn.k_proj.weight": (32, 64),
            "self_attn.v_proj.weight": (32, 64), "input_layernorm.weight": (64,)}
    # q and o of the checkpoint: one square tensor of the candidate is free for the output projection
    cand["self_attn.o_proj.weight"] = (64, 64)
    mapping, notes = assign(ck, cand, list(ck), list(cand))
    assert mapping["ln.weight"] == "input_layernorm.weight"
    split = mapping["attn.qkv.weight"]
    assert split[0] == "split" and split[1] == 0 and sum(cand[m][0] for m in split[2]) == 128
    assert any("split along axis 0" in n for n in notes)


def test_same_shaped_tensors_pair_by_the_words_unique_shapes_paired():
    # a norm's weight and bias share a shape; the projection's unique shapes say which renamed word is `bias`
    ck = {"w1.xx": (96, 64), "w1.yy": (96,), "nn.xx": (64,), "nn.yy": (64,)}
    cand = {"fc1.weight": (96, 64), "fc1.bias": (96,), "ln.bias": (64,), "ln.weight": (64,)}
    mapping, _ = assign(ck, cand, list(ck), list(cand))
    assert mapping["nn.xx"] == "ln.weight" and mapping["nn.yy"] == "ln.bias"
    assert word_conflicts({f"m.{k}": f"m.{v}" for k, v in mapping.items()}) == 0


def test_word_conflicts_count_a_word_mapped_two_ways_and_names_of_another_length():
    assert word_conflicts({"a.b.w": "x.y.weight", "a.c.w": "x.z.weight"}) == 0
    assert word_conflicts({"a.b.w": "x.y.weight", "a.c.w": "x.z.bias"}) == 1  # w pairs with weight and bias
    assert word_conflicts({"a.b.w": "x.weight"}) == 1


def test_per_layer_fields_follow_the_checkpoint_layers_and_the_defaults_where_shapes_cannot_tell():
    entry = {"per_layer": {
        "mlp_layer_types": {"kind": "list", "tiny": ["dense", "sparse"], "default": ["dense"] * 3 + ["sparse"] * 9},
        "layer_types": {"kind": "list", "tiny": ["sliding", "full"], "default": ["sliding", "sliding", "full"] * 4},
        "moe_layers": {"kind": "indices", "tiny": [1], "default": list(range(3, 12))}}}
    # candidate layer 0 is dense, 1 sparse; sliding and full layers hold the same tensors
    kind_of = {0: "dense", 1: "sparse"}
    got = layer_config(entry, {0: 0, 1: 0, 2: 1, 3: 1}, kind_of)
    assert got["mlp_layer_types"] == ["dense", "dense", "sparse", "sparse"]
    assert got["moe_layers"] == [2, 3]
    assert got["layer_types"] == ["sliding", "sliding", "full", "full"]  # each kind has one attention here
    # where both kinds of attention hold the same tensors the shapes cannot tell: the defaults at that position
    same = layer_config(entry, {0: 0, 1: 0, 2: 0}, {0: "one", 1: "one"})
    assert same["layer_types"] == ["sliding", "sliding", "full"]


def test_a_tiny_configuration_its_validators_reject_keeps_the_changes_they_accept():
    transformers = pytest.importorskip("transformers")
    from archread.runtime.tiny import shrink

    config = transformers.XLNetConfig()  # validates d_head == d_model // n_head; shrinking knows no d_head
    tiny = shrink(config)
    assert tiny.n_layer == 2 and tiny.vocab_size == 128
    assert tiny.d_head == tiny.d_model // tiny.n_head
