"""A knocked-out parameter that some call fills by position stays (dropping it shifts the arguments after it):
a classmethod's `cls` and a class's construction are read as Python binds them."""

import libcst as cst

from archread.parsers.analysis.calls import filled_by_position

CODE = '''
class Block:
    def __init__(self, layer_id, config, cache):
        self.cache = cache

    @classmethod
    def build(cls, layer_id, config, cache):
        return Block(layer_id, config, cache)


def blocks(config, shared):
    return [Block.build(i, config, shared) for i in range(2)]
'''


def test_a_classmethods_cls_is_bound_and_a_class_call_fills_its_init():
    found = filled_by_position(cst.parse_module(CODE))
    assert ("build", "cache") in found  # three passed after the bound cls
    assert ("__init__", "cache") in found  # Block(layer_id, config, cache)
