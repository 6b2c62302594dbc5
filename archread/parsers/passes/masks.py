"""Attention-mask builders: padding and 4-D cache-aware helpers become the prelude's causal mask.

The reduced model reads one unpadded sequence, so the mask is causal (sliding-window or
chunked where the code asks for it) and nothing else.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.names import bound_names
from archread.parsers.analysis.nodes import dotted, find, literal
from archread.parsers.passes.base import StripPass

# helper (function or method) -> the prelude builder that computes the same mask for one unpadded sequence
_RENAMES = {
    "_update_causal_mask": "create_causal_mask",
    "_prepare_decoder_attention_mask": "create_causal_mask",
    "_prepare_4d_causal_attention_mask": "create_causal_mask_window_inclusive",  # its window keeps W + 1 keys
    "_prepare_4d_causal_attention_mask_for_sdpa": "create_causal_mask_window_inclusive",
    "_prepare_4d_causal_attention_mask_with_cache_position": "create_causal_mask",
    "_update_mamba_mask": "create_padding_mask",
    "_update_linear_attn_mask": "create_padding_mask",
}


class Masks(StripPass):
    NAME = "masks"
    DESCRIPTION = "Padding / 4-D / cache-aware mask helpers become the prelude's causal mask."
    STRIP = [(
        "def forward(self, x, attention_mask=None):\n"
        "    mask = self._update_causal_mask(attention_mask, x)\n    return self.layer(x, mask)\n",
        "def forward(self, x, attention_mask=None):\n"
        "    mask = create_causal_mask(self.config, attention_mask, x)\n    return self.layer(x, mask)\n",
    )]
    STRIP += [(  # 5.x: masks prepared by the caller arrive as a dict; the reduced model is given none
        "def forward(self, x, attention_mask=None):\n    if not isinstance(masks := attention_mask, dict):\n"
        "        masks = {'full': create_causal_mask(self.config, x)}\n    return self.layer(x, masks['full'])\n",
        "def forward(self, x, attention_mask=None):\n    masks = {'full': create_causal_mask(self.config, x)}\n"
        "    return self.layer(x, masks['full'])\n",
    )]
    KEEP = ["def forward(self, x, mask):\n    return create_causal_mask(self.config, x)\n",
            "def forward(self, x, attention_mask=None):\n    if not isinstance(masks := attention_mask, dict):\n"
            "        x = x + 1\n    return self.layer(x, masks)\n"]  # the body does not rebind masks: the walrus stays

    def visit_Module(self, node: cst.Module) -> None:
        # a helper whose body reads a sliding window (4.4x Mistral's _update_causal_mask) keeps that window
        helpers = [s for s in node.body if isinstance(s, cst.FunctionDef)] + [
            f for c in node.body if isinstance(c, cst.ClassDef) for f in c.body.body if isinstance(f, cst.FunctionDef)]
        self.windowed = {f.name.value for f in helpers if f.name.value in _RENAMES  # only these are walked
                         and any(n.value == "sliding_window" for n in find(f, cst.Name))}

    def leave_Call(self, original, updated):
        callee = dotted(updated.func)
        head, _, name = callee.rpartition(".")
        target = _RENAMES.get(name)
        if target is None:
            return updated
        if target == "create_causal_mask" and name in getattr(self, "windowed", ()):
            target = "create_sliding_window_causal_mask"
        args = list(updated.args)
        if head in ("self", "cls") or head.endswith("Model"):
            args.insert(0, cst.Arg(_self_config()))
        return updated.with_changes(func=cst.Name(target), args=args)

    def leave_If(self, original, updated):
        """`if not isinstance(mapping := attention_mask, dict):` then build the masks: the reduced model's
        attention_mask is a 2-D padding mask or None, so the body always runs (it rebinds the walrus name)."""
        test = updated.test
        if not (type(test) is cst.UnaryOperation and type(test.operator) is cst.Not and type(test.expression) is cst.Call):
            return updated
        call = test.expression
        if dotted(call.func) != "isinstance" or len(call.args) != 2 or dotted(call.args[1].value) != "dict":
            return updated
        tested = call.args[0].value
        walrus = type(tested) is cst.NamedExpr
        source = tested.value if walrus else tested
        if dotted(source) != "attention_mask" or (walrus and tested.target.value not in bound_names(updated.body)):
            return updated
        return updated.with_changes(test=self.ctx.mark(literal(True), self.NAME))

    def leave_Assign(self, original, updated):
        # `causal_mask, attention_mask = self._update_causal_mask(...)`: the helper also gave back the 2-D mask
        value, targets = updated.value, updated.targets
        if isinstance(value, cst.Call) and dotted(value.func) == "create_causal_mask" and len(targets) == 1:
            if isinstance(targets[0].target, cst.Tuple) and len(targets[0].target.elements) == 2:
                return updated.with_changes(value=value.with_changes(func=cst.Name("create_causal_mask_with_padding")))
        return updated


def _self_config() -> cst.Attribute:
    return cst.Attribute(cst.Name("self"), cst.Name("config"))
