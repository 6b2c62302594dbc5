"""PreTrainedModel glue: framework bases, weight init, post_init, class-level metadata.

A class whose bases all come from the framework and that defines no forward (the
XPreTrainedModel of every file) is removed; classes built on it become nn.Module and
keep `self.config`. Bases from a sibling model's modeling file are math and stay.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from archread.parsers.analysis.module_imports import framework_attribute, framework_modules, framework_names
from archread.parsers.analysis.nodes import dotted
from archread.parsers.fastcst import walk
from archread.parsers.passes.base import Knockout

_NN_MODULE = cst.Attribute(cst.Name("nn"), cst.Name("Module"))
_SUPER_INIT = m.Call(func=m.Attribute(m.Call(func=m.Name("super")), m.Name("__init__")))


def _has_forward(cls: cst.ClassDef) -> bool:
    return any(isinstance(s, cst.FunctionDef) and s.name.value == "forward" for s in cls.body.body)


def _extends_base(stmt) -> bool:
    """A method other than __init__ that calls its base's method of the same name (Baichuan2's classmethod
    `from_pretrained` ending in `super(...).from_pretrained(...)`): an override of the framework's own."""
    if type(stmt) is not cst.FunctionDef or stmt.name.value.startswith("__"):
        return False
    return any(type(n) is cst.Call and type(n.func) is cst.Attribute and n.func.attr.value == stmt.name.value
               and type(n.func.value) is cst.Call and dotted(n.func.value.func) == "super" for n in walk(stmt.body))


def _framework_classmethod(stmt, framework: set[str]) -> bool:
    """A classmethod of a model class whose body names the framework (a quantising `from_pretrained` that builds
    a PretrainedConfig and a GenerationConfig): a way to load the model, which nn.Module has no use for."""
    return type(stmt) is cst.FunctionDef and any(dotted(d.decorator) == "classmethod" for d in stmt.decorators) \
        and any(type(n) is cst.Name and n.value in framework for n in walk(stmt.body))


class Glue(Knockout):
    NAME = "glue"
    DESCRIPTION = "PreTrainedModel classes, _init_weights, post_init, class-level framework metadata."
    NAMES = {"TYPE_CHECKING": False}
    STRIP = [(
        "from ...modeling_utils import PreTrainedModel\nclass LPreTrainedModel(PreTrainedModel):\n    config_class = LConfig\n"
        "    def _init_weights(self, module):\n        module.weight.data.normal_()\n"
        "class LModel(LPreTrainedModel):\n    _no_split_modules = ['L']\n    def __init__(self, config):\n"
        "        super().__init__(config)\n        self.proj = nn.Linear(2, 2)\n        self.post_init()\n"
        "    def forward(self, x):\n        return self.proj(x)\n",
        "from ...modeling_utils import PreTrainedModel\n\n\nclass LModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.config = config\n        self.proj = nn.Linear(2, 2)\n\n    def forward(self, x):\n        return self.proj(x)\n",
    )]
    STRIP += [(  # a parameter's initialiser: the checkpoint overwrites it
        "class AMixer(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.D = nn.Parameter(torch.empty(4))\n"
        "        nn.init.ones_(self.D)\n    def forward(self, x):\n        return x * self.D\n",
        "class AMixer(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.D = nn.Parameter(torch.empty(4))\n"
        "    def forward(self, x):\n        return x * self.D\n",
    )]
    STRIP += [(  # metadata on a plain module (4.57 xLSTM's backend): its configuration class is not imported
        "from .configuration_a import AConfig\nclass ABackend(nn.Module):\n    config_class = AConfig\n"
        "    def forward(self, x):\n        return x\n",
        "from .configuration_a import AConfig\nclass ABackend(nn.Module):\n    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # a method of the removed base that the math calls moves into the class built on it
        "from ...modeling_utils import PreTrainedModel\nclass LPreTrainedModel(PreTrainedModel):\n"
        "    def get_masks(self, x):\n        return x > 0\nclass LModel(LPreTrainedModel):\n    def forward(self, x):\n        return x * self.get_masks(x)\n",
        "from ...modeling_utils import PreTrainedModel\n\n\nclass LModel(nn.Module):\n"
        "    def forward(self, x):\n        return x * self.get_masks(x)\n\n"
        "    def get_masks(self, x):\n        return x > 0\n",
    )]
    STRIP += [(  # the framework's own state, set around a build
        "import transformers\nclass M(nn.Module):\n    def __init__(self):\n        transformers.modeling_utils._init_weights = False\n"
        "        self.p = nn.Linear(2, 2)\n",
        "import transformers\nclass M(nn.Module):\n    def __init__(self):\n        self.p = nn.Linear(2, 2)\n",
    )]
    STRIP += [(  # the framework base goes from beside a local mixin built on nothing: the model is still a module
        "from ...modeling_utils import PreTrainedModel\nclass LMixin:\n    pass\nclass LPreTrainedModel(PreTrainedModel):\n"
        "    pass\nclass LModel(LMixin, LPreTrainedModel):\n    def forward(self, x):\n        return x\n",
        "from ...modeling_utils import PreTrainedModel\nclass LMixin:\n    pass\n\n\nclass LModel(LMixin, nn.Module):\n"
        "    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # an override of the framework's loader, which hands on to it
        "from ...modeling_utils import PreTrainedModel\nclass LModel(PreTrainedModel):\n    @classmethod\n"
        "    def from_pretrained(cls, path):\n        return super(LModel, cls).from_pretrained(path)\n"
        "    def forward(self, x):\n        return x\n",
        "from ...modeling_utils import PreTrainedModel\n\n\nclass LModel(nn.Module):\n    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # a loader of its own, built from the framework's configurations
        "from ...modeling_utils import PreTrainedModel, PretrainedConfig\nclass LModel(PreTrainedModel):\n"
        "    def forward(self, x):\n        return x\n"
        "class L4bit(LModel):\n    @classmethod\n    def from_pretrained(cls, path):\n"
        "        config = PretrainedConfig.from_pretrained(path)\n        return cls(config)\n",
        "from ...modeling_utils import PreTrainedModel, PretrainedConfig\n\n\nclass LModel(nn.Module):\n"
        "    def forward(self, x):\n        return x\n\n\nclass L4bit(LModel):\n    pass\n",
    )]
    STRIP += [(  # the framework's base read through the package, under the name of a class of the code's own
        "import transformers\nclass PreTrainedModel(transformers.PreTrainedModel):\n    base_model_prefix = 'model'\n"
        "class LModel(PreTrainedModel):\n    def __init__(self, config):\n        super().__init__(config)\n"
        "        self.proj = nn.Linear(2, 2)\n    def forward(self, x):\n        return self.proj(x)\n",
        "import transformers\n\n\nclass LModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.config = config\n        self.proj = nn.Linear(2, 2)\n\n    def forward(self, x):\n        return self.proj(x)\n",
    )]
    KEEP = ["class LMLP(nn.Module):\n    def forward(self, x):\n        return x\n",
            "from ...activations import ACT2FN\nclass AMLP(nn.Module):\n    act = ACT2FN['gelu']\n"  # read: it stays
            "    def forward(self, x):\n        return self.act(x)\n",
            "class ARotary(nn.Module):\n    def __init__(self):\n        super().__init__()\n"  # a buffer is not in the checkpoint
            "        self.inv_freq = torch.empty(4)\n        nn.init.copy_(self.inv_freq, torch.arange(4))\n"]

    def leave_If(self, original, updated):
        # `if TYPE_CHECKING:` imports for annotations only (module level, where no function knocks it out)
        if m.matches(updated.test, m.Name("TYPE_CHECKING")) and updated.orelse is None:
            return self.removed(original)
        return super().leave_If(original, updated) if hasattr(super(), "leave_If") else updated

    def __init__(self, ctx):
        super().__init__(ctx)
        self.glue: set[str] = set()
        self.framework: set[str] = set()
        self.configured: set[str] = set()  # classes whose framework base took `config` in __init__
        self.models: set[str] = set()  # classes whose class-level metadata is the framework's
        self._in_model: list[bool] = []

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.framework = framework_names(node)
        self.read = set()  # class-level values the math reads stay
        self.parameters = {"weight", "bias"}  # attributes holding parameters, which a checkpoint overwrites
        for n in walk(node):
            if type(n) is cst.Attribute:
                self.read.add(n.attr.value)
            elif type(n) is cst.Assign and type(n.value) is cst.Call and dotted(n.value.func).endswith("Parameter"):
                self.parameters.update(t.target.attr.value for t in n.targets if type(t.target) is cst.Attribute)
        self.glue = set(self.framework)
        modules = framework_modules(node)
        self.glue.discard("ACT2FN")
        self.models = set()
        self.lent: dict[str, list[cst.FunctionDef]] = {}  # a removed base's methods the math calls (`self.get_masks`)
        self.plain: set[str] = set()  # local classes built on nothing (mixins): a model left on them is no nn.Module
        for stmt in node.body:  # bases resolve top-down, as Python defines them
            if not isinstance(stmt, cst.ClassDef):
                continue
            bases = [dotted(b.value) for b in stmt.bases]
            if all(b in self.plain or b == "object" for b in bases) and not any(b.keyword for b in stmt.bases):
                self.plain.add(stmt.name.value)
            if not bases:
                continue
            self.glue.update(b for b in bases if framework_attribute(b, modules))  # `transformers.PreTrainedModel`
            if all(b in self.glue for b in bases) and not _has_forward(stmt):
                self.glue.add(stmt.name.value)
                own = [s for s in stmt.body.body if type(s) is cst.FunctionDef and s.name.value in self.read
                       and not s.name.value.startswith("__")]
                inherited = [f for b in bases for f in self.lent.get(b, []) if f.name.value not in {o.name.value for o in own}]
                self.lent[stmt.name.value] = own + inherited
            if any(b in self.glue and ("PreTrained" in b or b in self.configured) for b in bases):
                self.configured.add(stmt.name.value)
            if any(b in self.glue or b in self.models for b in bases):
                self.models.add(stmt.name.value)  # built on the framework, here or through a local class

    def fixed_call(self, callee: str) -> bool:
        """The framework's environment probes (is_mamba_ssm_available(), is_torch_fx_proxy()) are False here."""
        return callee.startswith("is_") and callee in self.framework

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._in_model.append(any(dotted(b.value) in self.glue or dotted(b.value) in self.models for b in node.bases))
        return node.name.value not in self.glue  # removed whole: nothing inside needs reading

    def leave_ClassDef(self, original, updated):
        in_model = self._in_model.pop()
        if updated.name.value in self.glue:
            return self.removed(original)
        if not in_model:  # a plain nn.Module may still carry metadata naming the framework (`config_class = XConfig`)
            body = [s for s in updated.body.body if not self._metadata(s)]
            body = [_keep_config(s, original.name.value, self.configured, self.glue, False) if _is_init(s) else s for s in body]
            if all(a is b for a, b in zip(body, updated.body.body)) and len(body) == len(updated.body.body) or not body:
                return updated
            return updated.with_changes(body=updated.body.with_changes(body=body))
        bases = [b for b in updated.bases if dotted(b.value) not in self.glue]
        local_base = bool(bases) and bases[0] is not updated.bases[0]  # a framework base came first
        only_framework = not bases
        if all(dotted(b.value) in self.plain for b in bases):  # none left, or mixins only (Dream's generation mixin)
            bases = [*bases, cst.Arg(_NN_MODULE)]
        bases[-1] = bases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)  # `(LlamaModel, )` once the rest went
        body = []
        for stmt in updated.body.body:
            if isinstance(stmt, cst.SimpleStatementLine) and not self._read_value(stmt):  # framework metadata
                self.ctx.remove(self.NAME, stmt)
                continue
            if _is_init(stmt):
                stmt = _keep_config(stmt, original.name.value, self.configured, self.glue, local_base)
            elif only_framework and _extends_base(stmt) or _framework_classmethod(stmt, self.framework):
                self.ctx.remove(self.NAME, stmt)  # nn.Module has no from_pretrained to hand on to, nor configurations
                continue
            body.append(stmt)
        defined = {s.name.value for s in body if type(s) is cst.FunctionDef}
        lent = {f.name.value: f for b in updated.bases for f in self.lent.get(dotted(b.value), [])}
        wanted = _self_reads(body)
        while wanted & (set(lent) - defined):  # what the removed base defined and this class calls, it now defines
            for name in sorted(wanted & (set(lent) - defined)):
                body.append(lent[name])
                defined.add(name)
                wanted |= _self_reads([lent[name]])
        return updated.with_changes(bases=bases, body=updated.body.with_changes(body=body))

    def _metadata(self, stmt: cst.CSTNode) -> bool:
        """A class-level assignment no code reads whose value names something of the framework."""
        if type(stmt) is not cst.SimpleStatementLine or self._read_value(stmt) or type(stmt.body[0]) is not cst.Assign:
            return False
        if not any(type(n) is cst.Name and n.value in self.framework for n in walk(stmt.body[0].value)):
            return False
        self.ctx.remove(self.NAME, stmt)
        return True

    def _read_value(self, stmt: cst.SimpleStatementLine) -> bool:
        """`attention_type = "sliding_attention"` that a model reads as `layer.attention_type`."""
        small = stmt.body[0] if len(stmt.body) == 1 else None
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target] if isinstance(small, cst.AnnAssign) and small.value else []
        return any(isinstance(t, cst.Name) and t.value in self.read for t in targets)

    def leave_Assign(self, original, updated):
        """`transformers.modeling_utils._init_weights = False` (Moss): the framework's own state, which the
        reduced module neither imports nor runs."""
        if all(type(t.target) is cst.Attribute and dotted(t.target).split(".")[0] == "transformers" for t in updated.targets):
            return self.removed(original)
        return updated

    def leave_Expr(self, original, updated):
        framework = m.Name("post_init") | m.Name("init_weights") | m.Name("warn_if_padding_and_no_attention_mask")
        if m.matches(updated.value, m.Call(func=m.Attribute(m.Name("self"), framework))) or self._initialises(updated.value):
            return self.removed(original)
        return updated

    def _initialises(self, call) -> bool:
        """`init.ones_(self.D)`, `nn.init.zeros_(self.proj.bias)`: an in-place initialiser of a parameter, which
        loading the checkpoint overwrites (a buffer such as `inv_freq` is not in it, and its initialiser stays)."""
        if type(call) is not cst.Call or not call.args:
            return False
        module, _, name = dotted(call.func).rpartition(".")
        if not name.endswith("_") or not (module in ("nn.init", "torch.nn.init") or (module == "init" and "init" in self.framework)):
            return False
        target = call.args[0].value
        return type(target) is cst.Attribute and target.attr.value in self.parameters and dotted(target).startswith("self.")

    def leave_Call(self, original, updated):
        updated = super().leave_Call(original, updated)
        # PreTrainedModel.get_head_mask(None, n) is one None per layer: no head is masked
        func = updated.func if type(updated) is cst.Call else None  # a knock-out may have made it a constant
        if (type(func) is cst.Attribute and func.attr.value == "get_head_mask" and type(func.value) is cst.Name
                and func.value.value == "self" and len(updated.args) >= 2):
            self.ctx.remove(self.NAME, updated)
            self.ctx.removed[self.NAME] -= 1
            return cst.BinaryOperation(cst.List([cst.Element(cst.Name("None"))]), cst.Multiply(), updated.args[1].value)
        return updated


def _keep_config(init: cst.FunctionDef, cls: str, configured: set[str], glue: set[str], local_base: bool) -> cst.FunctionDef:
    """super().__init__(config) -> super().__init__(); self.config = config (nn.Module takes no config), where
    the call lands on a framework base that took it: cls's, or X's for `super(X, self)` (an unrolled parent's).
    Where a local base stays behind the framework's (`class A(APreTrainedModel, BForCausalLM)`), or the call names
    the framework class (`APreTrainedModel.__init__(self, config)`), it is nn.Module's that runs."""
    body, changed = [], False
    for stmt in init.body.body:
        small = stmt.body[0] if type(stmt) is cst.SimpleStatementLine and len(stmt.body) == 1 else None
        call = small.value if type(small) is cst.Expr and type(small.value) is cst.Call else None
        config = None
        if call is not None and m.matches(call, _SUPER_INIT) and call.args:
            pinned = call.func.value.args
            if (dotted(pinned[0].value) if pinned else cls) in configured:
                config = call.args[0].value
                stmt = _MODULE_INIT if local_base and not pinned else stmt.with_deep_changes(call, args=[])
        elif call is not None and type(call.func) is cst.Attribute and call.func.attr.value == "__init__" \
                and dotted(call.func.value) in glue and len(call.args) == 2:
            config, stmt = call.args[1].value, _MODULE_INIT
        body.append(stmt)
        if config is not None:
            body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(_self("config"))], config)]))
            changed = True
    return init.with_changes(body=init.body.with_changes(body=body)) if changed else init  # most classes: untouched


def _self_reads(stmts) -> set[str]:
    """The attributes of `self` the statements read."""
    return {n.attr.value for s in stmts for n in walk(s)
            if type(n) is cst.Attribute and type(n.value) is cst.Name and n.value.value == "self"}


_MODULE_INIT = cst.parse_statement("nn.Module.__init__(self)\n")


def _is_init(stmt: cst.CSTNode) -> bool:
    return type(stmt) is cst.FunctionDef and stmt.name.value == "__init__"


def _self(attr: str) -> cst.Attribute:
    return cst.Attribute(cst.Name("self"), cst.Name(attr))
