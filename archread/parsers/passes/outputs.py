"""Output plumbing: flags that collect attentions and hidden states, losses, and ModelOutput wrappers.

The reduced base model returns its last hidden state and the causal LM returns its logits.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.module_imports import top_imports
from archread.parsers.analysis.names import names_in
from archread.parsers.analysis.nodes import dotted, is_self_attr, method
from archread.parsers.fastcst import walk
from archread.parsers.mro import local_mro
from archread.parsers.passes.base import Knockout

OUTPUT_NAMES = {
    "output_attentions": False, "output_hidden_states": False, "return_dict": True, "output_router_logits": False,
    "labels": None, "head_mask": None, "return_legacy_cache": False, "logits_to_keep": 0, "num_logits_to_keep": 0,
}
_WANTED = ("logits", "last_hidden_state")
_LOGIT_SLICES = {"logits_to_keep", "num_logits_to_keep"}


def _is_output_class(name: str, local_bases: dict[str, list[str]], imported: set[str]) -> bool:
    if name in imported:
        return True
    return any(_is_output_class(b, local_bases, imported) for b in local_bases.get(name, []) if b != name)


class Outputs(Knockout):
    NAME = "outputs"
    DESCRIPTION = "output_attentions/output_hidden_states/return_dict/labels, losses, ModelOutput returns."
    NAMES = OUTPUT_NAMES
    STRIP = [(
        "from ...modeling_outputs import CausalLMOutput\n"
        "class M(nn.Module):\n    def forward(self, x, labels=None, return_dict=None):\n"
        "        logits = self.head(x)\n        loss = None\n        if labels is not None:\n"
        "            loss = self.loss(logits, labels)\n        if not return_dict:\n            return (logits,)\n"
        "        return CausalLMOutput(loss=loss, logits=logits)\n",
        "from ...modeling_outputs import CausalLMOutput\n\n\n"
        "class M(nn.Module):\n    def forward(self, x):\n        logits = self.head(x)\n        loss = None\n        return logits\n",
    )]
    STRIP += [(  # a submodule bound with an annotation (MPT's `self.transformer: MPTModel = MPTModel(config)`)
        "from ...modeling_outputs import BaseModelOutput\n"
        "class I(nn.Module):\n    def forward(self, x):\n        return BaseModelOutput(last_hidden_state=x)\n"
        "class O(nn.Module):\n    def __init__(self, config):\n        self.inner: I = I(config)\n"
        "    def forward(self, x):\n        out = self.inner(x)\n        return out.last_hidden_state\n",
        "from ...modeling_outputs import BaseModelOutput\n"
        "class I(nn.Module):\n    def forward(self, x):\n        return x\n"
        "class O(nn.Module):\n    def __init__(self, config):\n        self.inner: I = I(config)\n"
        "    def forward(self, x):\n        out = self.inner(x)\n        return out\n",
    )]
    STRIP += [(  # the one tensor read straight off the submodule's call
        "from ...modeling_outputs import CausalLMOutput\n"
        "class I(nn.Module):\n    def forward(self, x):\n        return CausalLMOutput(logits=x)\n"
        "class O(nn.Module):\n    def __init__(self, config):\n        self.inner = I(config)\n"
        "    def forward(self, x):\n        return self.inner(x).logits\n",
        "from ...modeling_outputs import CausalLMOutput\n"
        "class I(nn.Module):\n    def forward(self, x):\n        return x\n"
        "class O(nn.Module):\n    def __init__(self, config):\n        self.inner = I(config)\n"
        "    def forward(self, x):\n        return self.inner(x)\n",
    )]
    STRIP += [(  # a module-level helper that wraps what it returns: its callers' `[0]` is that one tensor
        "from ...modeling_outputs import BaseModelOutput\n"
        "def run_long(model, x):\n    return BaseModelOutput(last_hidden_state=model(x))\n"
        "class O(nn.Module):\n    def forward(self, x):\n        outputs = run_long(self.inner, x)\n"
        "        return self.head(outputs[0])\n",
        "from ...modeling_outputs import BaseModelOutput\n"
        "def run_long(model, x):\n    return model(x)\n"
        "class O(nn.Module):\n    def forward(self, x):\n        outputs = run_long(self.inner, x)\n"
        "        return self.head(outputs)\n",
    )]
    STRIP += [(  # the output read back by key before it is returned (InternLM2's `output['logits'] = ….to(device)`)
        "from ...modeling_outputs import CausalLMOutput\n"
        "class O(nn.Module):\n    def forward(self, x):\n        logits = self.head(x)\n"
        "        output = CausalLMOutput(logits=logits)\n        output['logits'] = output['logits'].to(x.device)\n"
        "        return output\n",
        "from ...modeling_outputs import CausalLMOutput\n\n\n"
        "class O(nn.Module):\n    def forward(self, x):\n        logits = self.head(x)\n"
        "        output = logits\n        output = output.to(x.device)\n        return output\n",
    )]
    STRIP += [(  # the output classes reached through their module
        "from transformers import modeling_outputs\n"
        "class O(nn.Module):\n    def forward(self, x):\n        return modeling_outputs.CausalLMOutput(logits=self.head(x))\n",
        "from transformers import modeling_outputs\n\n\n"
        "class O(nn.Module):\n    def forward(self, x):\n        return self.head(x)\n",
    )]
    KEEP = ["def forward(self, x):\n    return self.head(x)\n"]

    def __init__(self, ctx):
        super().__init__(ctx)
        self.output_classes: set[str] = set()
        self.output_modules: set[str] = set()
        self.single: set[str] = set()  # local classes whose forward now returns one tensor
        self.single_functions: set[str] = set()  # module-level functions that now return one tensor
        self.attr_class: dict[tuple[str, str], str] = {}  # (class, self attribute) -> class it holds
        self.mro: dict[str, list[str]] = {}  # local class -> the local classes Python looks in, in order
        self._class: list[str] = []
        self._unwrap: set[str] = set()  # locals bound to a call of a single-output submodule
        self._slices: set[str] = set()  # locals that select which positions get logits

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        imported = {
            alias.evaluated_name
            for imp in top_imports(node)
            if "output" in (dotted(imp.module) if imp.module else "") and not isinstance(imp.names, cst.ImportStar)
            for alias in imp.names
        } | {"ModelOutput"}
        classes = [s for s in node.body if isinstance(s, cst.ClassDef)]
        bases = {c.name.value: [dotted(b.value) for b in c.bases] for c in classes}
        self.output_classes = {n for n in bases if _is_output_class(n, bases, imported)} | imported
        self.output_modules = {  # `from transformers import modeling_outputs`: `modeling_outputs.MaskedLMOutput(...)`
            alias.evaluated_alias or alias.evaluated_name for imp in top_imports(node)
            if not isinstance(imp.names, cst.ImportStar) for alias in imp.names if "output" in alias.evaluated_name
        } | {"transformers.modeling_outputs"}
        self.single_functions = {  # a helper that runs the model and wraps its output (LongLLaMA's _handle_long_input)
            f.name.value for f in node.body if isinstance(f, cst.FunctionDef) and self._wraps_output(f)}
        for cls in classes:  # exact types below, not matchers: every forward and __init__ is scanned
            forward, init = method(cls, "forward"), method(cls, "__init__")
            if forward is not None and self._wraps_output(forward):
                self.single.add(cls.name.value)
            for n in walk(init.body) if init else ():
                target = n.targets[0].target if type(n) is cst.Assign and len(n.targets) == 1 else \
                    n.target if type(n) is cst.AnnAssign else None  # `self.transformer: MPTModel = MPTModel(config)`
                if target is not None and type(n.value) is cst.Call and is_self_attr(target):
                    self.attr_class[(cls.name.value, target.attr.value)] = dotted(n.value.func)
        by_name = {c.name.value: c for c in classes}
        self.mro = {n: local_mro(bases, n) for n in bases}  # where Python looks a method or attribute up
        for start, order in self.mro.items():  # a subclass without a forward of its own returns what its base's does
            if next((n for n in order if method(by_name[n], "forward") is not None), None) in self.single:
                self.single.add(start)

    def _wraps_output(self, function: cst.FunctionDef) -> bool:
        """`return BaseModelOutputWithPast(...)` or `output = ...(...)`: the function now returns one tensor."""
        return any(type(n) in (cst.Return, cst.Assign) and type(n.value) is cst.Call
                   and self._is_output(dotted(n.value.func)) for n in walk(function.body))

    def _is_output(self, name: str) -> bool:
        return name in self.output_classes or ("." in name and name.rsplit(".", 1)[0] in self.output_modules)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._class.append(node.name.value)

    def leave_ClassDef(self, original, updated):
        self._class.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._unwrap, self._slices = set(), set()

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1:
            self._bind(node.targets[0].target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target, node.value)

    def _bind(self, target: cst.CSTNode, value: cst.CSTNode | None) -> None:
        if not isinstance(target, cst.Name) or value is None:
            return
        if self._single_output(value):
            self._unwrap.add(target.value)
        if _LOGIT_SLICES & names_in(value):
            self._slices.add(target.value)  # slice_indices = slice(-logits_to_keep, None)

    def _single_output(self, value: cst.CSTNode) -> bool:
        """The value is a call of a submodule or helper that now returns one tensor (`self.model(x)`)."""
        if type(value) is cst.Call and type(value.func) is cst.Name and value.func.value in self.single_functions:
            return True
        if type(value) is not cst.Call or not dotted(value.func).startswith("self."):
            return False
        held = self._class[-1] if self._class else ""
        for attr in dotted(value.func).split(".")[1:]:  # self.model.decoder(...): through each submodule
            owner = next((c for c in self.mro.get(held, [held]) if (c, attr) in self.attr_class), held)  # a base's __init__
            held = self.attr_class.get((owner, attr))
        return held in self.single

    def leave_Call(self, original, updated):
        updated = super().leave_Call(original, updated)
        if isinstance(updated, cst.Call) and dotted(updated.func) == "slice_logits_to_keep" and updated.args:
            return updated.args[0].value
        return updated

    def _tensor_of(self, call: cst.CSTNode) -> cst.BaseExpression | None:
        """The one tensor an output-class call carries (logits, last_hidden_state…), or None."""
        if type(call) is not cst.Call or not self._is_output(dotted(call.func)) or not call.args:
            return None
        by_name = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        chosen = next((by_name[k] for k in _WANTED if k in by_name), call.args[0].value)
        self.ctx.remove(self.NAME, call)
        self.ctx.removed[self.NAME] -= 1
        return chosen

    def _read_off(self, value: cst.CSTNode) -> cst.BaseExpression | None:
        """The call of `self.model(x).logits`, read straight off a submodule that now returns that one tensor
        (rewritten here, where the statement holds it: a leave_Attribute turning it into a Call would hand the
        later passes' leave_Call an Attribute as the original)."""
        if type(value) is cst.Attribute and value.attr.value in _WANTED and self._single_output(value.value):
            return value.value
        return None

    def leave_Return(self, original, updated):
        chosen = self._tensor_of(updated.value)
        chosen = self._read_off(updated.value) if chosen is None else chosen
        return updated if chosen is None else updated.with_changes(value=chosen)

    def leave_Assign(self, original, updated):
        updated = super().leave_Assign(original, updated)
        if isinstance(updated, cst.Assign):
            chosen = self._tensor_of(updated.value)
            if chosen is not None and len(updated.targets) == 1 and type(updated.targets[0].target) is cst.Name:
                self._unwrap.add(updated.targets[0].target.value)  # `output['logits']` below is that tensor
            chosen = self._read_off(updated.value) if chosen is None else chosen
            if chosen is not None:
                return updated.with_changes(value=chosen)
        return updated

    def leave_Subscript(self, original, updated):
        if any((_LOGIT_SLICES | self._slices) & names_in(element) for element in updated.slice):
            return updated.value  # logits for the last n positions only: every position here
        if type(updated.value) is cst.Name and updated.value.value in self._unwrap and len(updated.slice) == 1:
            index = updated.slice[0].slice
            if type(index) is cst.Index and type(index.value) is cst.Integer and index.value.value == "0":
                return updated.value
            if type(index) is cst.Index and type(index.value) is cst.SimpleString and index.value.evaluated_value in _WANTED:
                return updated.value  # `output['logits']`
        return updated

    def leave_Attribute(self, original, updated):
        updated = super().leave_Attribute(original, updated)
        if type(updated) is cst.Attribute and type(updated.value) is cst.Name and updated.attr.value in (
            "last_hidden_state", "logits"):  # exact types: this runs on every attribute (libcst's isinstance is slow)
            if updated.value.value in self._unwrap:
                return updated.value
        return updated
