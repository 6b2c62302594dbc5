"""Optional kernels: what a fused kernel would have been bound to is its absence.

Remote modeling code reaches for fused kernels (flash-attn, apex, xformers) with `try: from fused import f`
/ `except ImportError: f = None` and tests the name (`if f is not None and x.is_cuda:`); 5.0's mamba
family loads them in `__init__` from the kernel hub (`global f; m = lazy_load_kernel("causal-conv1d");
f = getattr(m, "f", None)`, then `is_fast_path_available = all((f, g))`). The reduced model runs the plain
path: those names are None (a flag False) wherever a condition reads them, and the try, the loading and
the `global` declarations go.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.module_imports import framework_names
from archread.parsers.analysis.names import bound_at_top, names_in
from archread.parsers.analysis.nodes import dotted, is_config, is_self_attr, literal, only_small, untrailed
from archread.parsers.evaluate import UNKNOWN, evaluate
from archread.parsers.fastcst import children, walk
from archread.parsers.passes.base import Knockout
from archread.parsers.prelude_names import prelude_names

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception"}
_LITERALS = {"None": None, "False": False, "True": True}


def _fallbacks(stmt: cst.CSTNode) -> dict[str, object] | None:
    """name -> the literal an `except ImportError` branch gives it, for a try of imports (and flags) only."""
    if type(stmt) is not cst.Try or stmt.orelse or stmt.finalbody or not stmt.handlers:
        return None
    for line in stmt.body.body:
        if type(line) is not cst.SimpleStatementLine or not all(type(s) in (cst.Import, cst.ImportFrom, cst.Assign) for s in line.body):
            return None
    values: dict[str, object] = {}
    for handler in stmt.handlers:
        kinds = [e.value for e in handler.type.elements] if type(handler.type) is cst.Tuple else [handler.type] if handler.type else []
        if not kinds or any(dotted(k) not in _IMPORT_ERRORS for k in kinds):
            return None
        found = _block_literals(handler.body.body)
        if found is None:
            return None
        values.update(found)
    return values or None


def _block_literals(lines) -> dict[str, object] | None:
    """name -> literal the statements bind (`f = None`, `pass`, or a second import to try, flash-attn's older
    name, with its own fallbacks); None where one does anything else."""
    values: dict[str, object] = {}
    for line in lines:
        if type(line) is cst.Try:
            nested = _fallbacks(line)
            if nested is None:
                return None
            values.update(nested)
            continue
        if type(line) is not cst.SimpleStatementLine:
            return None
        for small in line.body:
            pairs = {} if type(small) is cst.Pass else _literal_pairs(small)
            if pairs is None:
                return None
            values.update(pairs)
    return values


def _probed_fallbacks(stmt: cst.CSTNode, probes: set[str]) -> dict[str, object] | None:
    """name -> literal of `if is_mamba_ssm_available(): from mamba_ssm import f` / `else: f = None`: the framework's
    probe is False here (Glue folds it later), so the else's literals are what the names hold."""
    if type(stmt) is not cst.If or type(stmt.test) is not cst.Call or dotted(stmt.test.func) not in probes \
            or type(stmt.orelse) is not cst.Else:
        return None
    if not all(type(line) is cst.SimpleStatementLine and all(type(s) in (cst.Import, cst.ImportFrom) for s in line.body)
               for line in stmt.body.body):
        return None
    return _block_literals(stmt.orelse.body.body) or None


def _demanded(stmt: cst.CSTNode) -> set[str]:
    """The names a try of imports binds where every handler only raises (`except ImportError: raise
    ImportError("install flash-rwkv")`): a kernel the file demands; empty for any other statement."""
    if type(stmt) is not cst.Try or stmt.orelse or stmt.finalbody or not stmt.handlers:
        return set()
    lines = [line for line in stmt.body.body if not _raises_only(line)]  # a version check: `if v < wanted: raise`
    if not all(type(line) is cst.SimpleStatementLine and all(type(s) in (cst.Import, cst.ImportFrom, cst.Assign) for s in line.body)
               for line in lines) or not any(type(s) in (cst.Import, cst.ImportFrom) for line in lines for s in line.body):
        return set()
    if not all(all(type(only_small(line)) is cst.Raise for line in h.body.body) for h in stmt.handlers):
        return set()
    return {name for line in lines for name in bound_at_top(line)}


def _raises_only(stmt: cst.CSTNode) -> bool:
    return type(stmt) is cst.If and stmt.orelse is None and all(type(only_small(line)) is cst.Raise for line in stmt.body.body)


def _reads_in_branches(node: cst.CSTNode, names: set[str], skip: int, branch: bool = False) -> int | None:
    """How many reads of `names` node holds (not under the statement `skip`), each in a branch of an `if` or of
    a conditional expression (the file has another path beside the kernel's: RWKV's `if no_cuda: … else:
    kernel`); None where one is read outside any."""
    if id(node) == skip:
        return 0
    if type(node) is cst.Name:
        return 0 if node.value not in names else 1 if branch else None
    if type(node) in (cst.If, cst.IfExp):
        parts = [(node.test, branch), (node.body, True), (node.orelse, True)]
    else:
        parts = [(child, branch) for child in children(node)]
    total = 0
    for part, inside in parts:
        count = _reads_in_branches(part, names, skip, inside) if part is not None else 0
        if count is None:
            return None
        total += count
    return total


def _literal_pairs(small) -> dict[str, object] | None:
    """`f = None` or `f, g = None, None`: name -> literal; None for any other statement."""
    if type(small) is not cst.Assign or len(small.targets) != 1:
        return None
    target, value = small.targets[0].target, small.value
    names = [target] if type(target) is cst.Name else [e.value for e in target.elements] if type(target) is cst.Tuple else []
    values = [value] if type(target) is cst.Name else [e.value for e in value.elements] if type(value) is cst.Tuple else []
    if not names or len(names) != len(values) or not all(type(n) is cst.Name for n in names) \
            or not all(type(v) is cst.Name and v.value in _LITERALS for v in values):
        return None
    return {n.value: _LITERALS[v.value] for n, v in zip(names, values)}


class OptionalImports(Knockout):
    NAME = "optional_imports"
    DESCRIPTION = "Fused kernels imported under try/except ImportError: their fallback (None) where tested."
    STRIP = [(
        "try:\n    from fused import rms_norm\nexcept ImportError:\n    rms_norm = None\n"
        "def norm(x, w):\n    if rms_norm is not None and x.is_cuda:\n        return rms_norm(x, w)\n    return x * w\n",
        "def norm(x, w):\n    return x * w\n",
    ), (
        "try:\n    import xformers.ops\n    HAS_XFORMERS = True\nexcept (ImportError, ModuleNotFoundError):\n    HAS_XFORMERS = False\n"
        "def f(x):\n    if HAS_XFORMERS:\n        return xformers.ops.fast(x)\n    return x\n",
        "def f(x):\n    return x\n",
    )]
    STRIP += [(  # the framework's availability probe chooses the import; its else binds the fallbacks
        "from ...utils import is_mamba_ssm_available\n"
        "if is_mamba_ssm_available():\n    from mamba_ssm import scan_fn\nelse:\n    scan_fn, update_fn = None, None\n"
        "fast_path = all((scan_fn, update_fn))\n"
        "class Mixer(nn.Module):\n    def __init__(self, config):\n        self.use_fast = config.use_kernels\n"
        "    def forward(self, x):\n        if self.use_fast:\n            if not fast_path:\n                raise ValueError('no kernels')\n"
        "            return scan_fn(x)\n        return x\n",
        "from ...utils import is_mamba_ssm_available\n\n\n"
        "class Mixer(nn.Module):\n    def __init__(self, config):\n        self.use_fast = config.use_kernels\n\n"
        "    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # the handler tries an older name of the kernel before giving up
        "try:\n    from fused import attn_varlen as attn\nexcept ImportError:\n    try:\n        from fused import attn_unpadded as attn\n"
        "    except ImportError:\n        attn = None\n"
        "def f(q):\n    if attn is not None:\n        return attn(q)\n    return q\n",
        "def f(q):\n    return q\n",
    )]
    STRIP += [(  # a kernel only an assert had guarded is still called: its fallback stays bound
        "try:\n    from fused import attn\nexcept ImportError:\n    attn = None\n"
        "class Fast(nn.Module):\n    def forward(self, q):\n        return attn(q)\n",
        "attn = None\n\n\nclass Fast(nn.Module):\n    def forward(self, q):\n        return attn(q)\n",
    )]
    STRIP += [(  # 5.0's mamba family: kernels from the hub in __init__, a fast path chosen in forward
        "from ...integrations import lazy_load_kernel\nclass AMixer(nn.Module):\n    def __init__(self):\n"
        "        global conv_fn\n        conv = lazy_load_kernel('causal-conv1d')\n        conv_fn = getattr(conv, 'conv_fn', None)\n"
        "        global is_fast_path_available\n        is_fast_path_available = all((conv_fn,))\n\n"
        "    def forward(self, x):\n        if is_fast_path_available and x.is_cuda:\n            return conv_fn(x)\n        return x\n",
        "from ...integrations import lazy_load_kernel\nclass AMixer(nn.Module):\n    def __init__(self):\n        pass\n\n"
        "    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # a branch that raises without the kernels is the one not taken (Jamba's use_mamba_kernels)
        "try:\n    from fused import f, g\nexcept ImportError:\n    f, g = None, None\nfast = all((f, g))\n"
        "class A(nn.Module):\n    def forward(self, x):\n        if self.use_fast:\n"
        "            if not fast or not x.is_cuda:\n                raise ValueError('no kernels')\n"
        "            return f(x)\n        return x\n",
        "class A(nn.Module):\n    def forward(self, x):\n        return x\n",
    )]
    STRIP += [(  # a kernel demanded at import but called on one side of a condition only: the other side is read
        "try:\n    from fused import attn\n    wanted = version('1.0')\nexcept ImportError:\n    raise ImportError('install fused')\n"
        "def f(q):\n    if q.is_cuda:\n        return attn(q)\n    return q\n",
        "attn = None\n\n\ndef f(q):\n    if q.is_cuda:\n        return attn(q)\n    return q\n",
    )]
    KEEP = [
        "try:\n    import numpy as np\nexcept ImportError:\n    raise\n",  # a required import
        "try:\n    import numpy as np\nexcept ImportError:\n    raise ImportError('pip install numpy')\ndef f(x):\n    return np.log(x)\n",
        "try:\n    from fast import f\nexcept RuntimeError:\n    f = None\n",  # not an import failure
    ]

    def visit_Module(self, node: cst.Module) -> None:
        self.NAMES = {}
        self._gone = set()  # ids of the tries and loading assignments that go
        probes = {n for n in framework_names(node) if n.startswith("is_") and n.endswith("_available")}
        for stmt in node.body:
            values = _fallbacks(stmt) or _probed_fallbacks(stmt, probes)
            demanded = _demanded(stmt) if values is None else set()
            if demanded and _reads_in_branches(node, demanded, id(stmt)):  # the other path is the torch one
                values = dict.fromkeys(demanded)
            if values:
                self.NAMES.update(values)
                self._gone.add(id(stmt))
            elif self.NAMES and type(only_small(stmt)) is cst.Assign:  # `is_fast_path_available = all((f, g))`
                value = _absent(only_small(stmt), set(), self.NAMES)
                if value is not UNKNOWN:
                    self.NAMES[stmt.body[0].targets[0].target.value] = value
                    self._gone.add(id(stmt.body[0]))
        loaders = {n for n in framework_names(node) if "load_kernel" in n or n == "get_kernel"}
        for assign in (n for n in walk(node) if type(n) is cst.Assign) if loaders else ():
            value = _absent(assign, loaders, self.NAMES)
            if value is not UNKNOWN:
                self.NAMES[assign.targets[0].target.value] = value
                self._gone.add(id(assign))
        self._demanding = _demanding_branches(node, self.NAMES) if self.NAMES else {}
        if self._demanding:
            self.ctx.torch_path.update(_flags(node, self._demanding))
        super().visit_Module(node)

    def leave_If(self, original, updated):
        """A branch that demands the absent kernels is the one not taken: its test is fixed (before a
        configuration fold would assume the flag that chose the kernels)."""
        if id(original) in self._gone:  # `if is_x_available(): from x import f` / `else: f = None`
            return self.removed(original)
        fixed = self._demanding.get(id(original))
        return updated if fixed is None else updated.with_changes(test=self._const(fixed))

    def leave_Try(self, original, updated):
        return self.removed(original) if id(original) in self._gone else updated

    def leave_Assign(self, original, updated):
        if id(original) in self._gone:
            return self.removed(original)
        return super().leave_Assign(original, updated)

    def leave_Module(self, original, updated):
        """A fallback the code still reads outside a condition (a kernel called where only an `assert f is not
        None` had guarded it) stays bound to its value: the module imports, and that path fails as the original's does."""
        if not self.NAMES:
            return updated
        bound = {name for stmt in updated.body for name in bound_at_top(stmt)}  # the prelude's own (rearrange) come later
        still = sorted(n for n in self.NAMES if n in names_in(updated) and n not in bound and n not in prelude_names())
        if not still:
            return updated
        at = next((i for i, s in enumerate(updated.body) if type(s) in (cst.ClassDef, cst.FunctionDef)), len(updated.body))
        lines = [cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(n))], literal(self.NAMES[n]))]) for n in still]
        return updated.with_changes(body=[*updated.body[:at], *lines, *updated.body[at:]])

    def leave_Global(self, original, updated):
        """`global f, g` of names that are absent now: nothing assigns them any more."""
        kept = [n for n in updated.names if n.name.value not in self.NAMES]
        if len(kept) == len(updated.names):
            return updated
        if not kept:
            return self.removed(original)
        return updated.with_changes(names=untrailed(kept))


def _absent(assign: cst.Assign, loaders: set[str], known: dict) -> object:
    """What `x = …` makes x when no kernel loads: None for `loader("name")` and `getattr(absent, "f", None)`,
    False for `all((absent, …))`; UNKNOWN for anything else."""
    if len(assign.targets) != 1 or type(assign.targets[0].target) is not cst.Name or type(assign.value) is not cst.Call:
        return UNKNOWN
    call, func = assign.value, dotted(assign.value.func)
    args = [a.value for a in call.args]
    if func in loaders:
        return None
    if func == "getattr" and len(args) == 3 and type(args[0]) is cst.Name and known.get(args[0].value, UNKNOWN) is None \
            and type(args[2]) is cst.Name and args[2].value == "None":
        return None
    if func == "all" and len(args) == 1 and type(args[0]) in (cst.Tuple, cst.List) and any(
            type(e.value) is cst.Name and known.get(e.value.value, UNKNOWN) in (None, False) for e in args[0].elements):
        return False
    return UNKNOWN


def _demands(stmt: cst.CSTNode, absent: dict) -> bool:
    """`if not is_fast_path_available or not x.is_cuda: raise ...`: a check that always fires without the kernels."""
    if type(stmt) is not cst.If or stmt.orelse is not None or type(stmt.body) is not cst.IndentedBlock \
            or len(stmt.body.body) != 1 or type(only_small(stmt.body.body[0])) is not cst.Raise:
        return False
    return evaluate(stmt.test, lambda n: absent.get(n.value, UNKNOWN) if type(n) is cst.Name else UNKNOWN) is True


def _reaches_demand(block: cst.CSTNode, absent: dict) -> bool:
    """A block that runs into such a check: every statement before it is a simple one that does not leave."""
    for stmt in getattr(block, "body", ()):
        if _demands(stmt, absent):
            return True
        if type(stmt) is not cst.SimpleStatementLine or any(type(s) in (cst.Return, cst.Raise) for s in stmt.body):
            return False
    return False


def _demanding_branches(module: cst.Module, absent: dict) -> dict[int, bool]:
    """id of each `if` one of whose branches cannot run without the absent kernels -> the test's value that
    takes the other branch (Jamba's `if self.use_fast_kernels:` holds `if not is_fast_path_available: raise`)."""
    out = {}
    for node in walk(module):
        if type(node) is cst.If:
            if _reaches_demand(node.body, absent):
                out[id(node)] = False
            elif type(node.orelse) is cst.Else and _reaches_demand(node.orelse.body, absent):
                out[id(node)] = True
    return out


def _flags(module: cst.Module, demanding: dict[int, bool]) -> dict[str, bool]:
    """The configuration fields those tests read (`config.use_x`, or `self.use_x` stored once from one) -> the
    value that takes the torch branch: the original must run with it so, or it raises where the kernels lack."""
    stores: dict[str, list] = {}
    for node in walk(module):
        if type(node) is cst.Assign and len(node.targets) == 1 and is_self_attr(node.targets[0].target):
            stores.setdefault(node.targets[0].target.attr.value, []).append(node.value)
    out = {}
    for node in walk(module):
        if type(node) is not cst.If or id(node) not in demanding:
            continue
        test, value = node.test, demanding[id(node)]
        while type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
            test, value = test.expression, not value
        if is_self_attr(test) and len(stores.get(test.attr.value, ())) == 1:
            test = stores[test.attr.value][0]
        if type(test) is cst.Attribute and is_config(test.value):
            out[test.attr.value] = value
    return out
