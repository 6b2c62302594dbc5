"""verify's test tokens: random, but holding the special tokens the modeling code looks up in its input."""

import torch

from archread.runtime.test_input import candidate_inputs, literal_ids, looked_up, random_tokens

_GLM_LIKE = '''
class Model:
    def masks(self, seq):
        return seq.index(self.config.bos_token_id)

    def forward(self, input_ids):
        seq = input_ids[0].tolist()
        MASK, gMASK = 150000, 150001
        mask_token = MASK if MASK in input_ids else gMASK
        return seq.index(mask_token), self.layer_types.index("full"), [a, b].index(True)
'''


class Cfg:
    def __init__(self, **fields):
        self.__dict__.update(fields)

    def to_dict(self):
        return dict(self.__dict__)


def test_the_lookups_are_read_off_the_code_through_local_names():
    # strings and booleans looked up in other lists are no tokens
    assert looked_up(_GLM_LIKE) == [["bos_token_id"], [150000, 150001]]
    assert literal_ids(looked_up(_GLM_LIKE)) == {150000, 150001}
    assert looked_up("def f(x):\n    return x.index(y)\n") == [] and looked_up("not python (") == []


def test_code_that_looks_up_no_token_gets_the_plain_random_draw():
    cfg = Cfg(vocab_size=128, bos_token_id=1)
    want = torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(0))
    assert [torch.equal(t, want) for t in candidate_inputs(cfg, [], (2, 16))] == [True]


def test_random_ids_avoid_the_special_ones():
    tokens = random_tokens(8, (4, 64), {0, 3, 7})
    assert set(tokens.unique().tolist()) == {1, 2, 4, 5, 6}


def test_rows_end_in_the_looked_up_ids_in_every_order_and_nowhere_else():
    cfg = Cfg(vocab_size=150002, bos_token_id=5, eos_token_id=6)
    inputs = candidate_inputs(cfg, looked_up(_GLM_LIKE), (2, 16))
    assert [t[0, -2:].tolist() for t in inputs] == [[5, 150000], [150000, 5]]
    body = inputs[0][:, :-2]
    assert not any(int(i) in {5, 6, 150000, 150001} for i in body.flatten())
