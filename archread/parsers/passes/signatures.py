"""Signatures: pass-through `**kwargs`, parameters nothing reads, and the arguments that filled them.

Once the cache, output and backend plumbing is gone, many keywords only travel: `position_ids`
handed to an attention that forwards it into a `**kwargs` nobody reads, `dropout=0.0` to a
function that no longer reads `dropout`. Calls are resolved inside the module — a function by
name, `self.x(...)` through the class `self.x` was built from, a loop over `self.layers`
through the ModuleList's class, `C(...)` to `C.__init__` — and a function is changed only when
every call that can reach it is one of those. A class or function reachable any other way (kept
in a table, passed as a value, called through `getattr`) keeps its signature. The model's root is
called from outside with the token ids by position, so its first parameter stays.
"""

from __future__ import annotations

import libcst as cst

from archread.parsers.analysis.calls import CallGraph
from archread.parsers.analysis.folding import Fold
from archread.parsers.analysis.locals import drop_unread_locals
from archread.parsers.analysis.names import bound_names
from archread.parsers.analysis.parameters import ParameterPlan, none_test
from archread.parsers.analysis.rewrite import LiteralsFrom, ReplaceReads, Targeted, rewrite_defs
from archread.parsers.fastcst import transform
from archread.parsers.passes.base import StripPass


def _literal_reads(body: list, values: dict[str, str], mark) -> list:
    """Substitute each name's literal (None, False) up to (and in the test of) the first statement that assigns it."""
    out, live = [], set(values)
    for stmt in body:
        if live:
            assigned = set(bound_names(stmt)) & live
            replace = ReplaceReads({n: (lambda v=values[n]: mark(cst.Name(v))) for n in live})
            if isinstance(stmt, (cst.If, cst.While)):  # the tests read the value it came in with (the bodies are
                stmt = _replace_tests(stmt, replace)   # left alone: a branch may be dead by a test not folded here)
            elif not assigned:
                stmt = transform(stmt, replace)
            live -= assigned
        out.append(stmt)
    return out


def _replace_tests(stmt, replace: cst.CSTTransformer):
    """An `if` with the reads in its test and its `elif` tests replaced (`elif inputs_embeds is not None:`)."""
    orelse = getattr(stmt, "orelse", None)
    if isinstance(orelse, cst.If):
        orelse = _replace_tests(orelse, replace)
    return stmt.with_changes(test=transform(stmt.test, replace), orelse=orelse)


class _GivenTests(cst.CSTTransformer):
    """`x is not None` of a parameter no call leaves None becomes True (`x is None`: False), for the fold."""

    def __init__(self, names: set[str], mark):
        super().__init__()
        self.names, self.mark = names, mark

    def leave_Comparison(self, original, updated):
        truth = none_test(updated, self.names)
        return updated if truth is None else self.mark(cst.Name(str(truth)))


class _Apply(Targeted):
    def __init__(self, plan: ParameterPlan, mark):
        super().__init__()
        self.plan, self.mark = plan, mark
        defs = {i for i, _ in (*plan.params, *plan.nones, *plan.given, *plan.flags)} | plan.kwargs
        self.targets = {*plan.args, *plan.positional, *defs}

    def leave_Call(self, original, updated):
        drop = self.plan.args.get(id(original), set())
        last = self.plan.positional.get(id(original))
        if not drop and last is None:
            return updated
        positional = [a for a in updated.args if a.keyword is None and not a.star]
        gone = {id(positional[last])} if last is not None else set()
        args = [
            a for a in updated.args
            if id(a) not in gone and not ((a.keyword is not None and a.keyword.value in drop) or (a.star == "**" and "**" in drop))
        ]
        if args and len(args) < len(updated.args):
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(args=args)

    def leave_FunctionDef(self, original, updated):
        key = id(original)
        values = {n: "None" for fn_id, n in self.plan.nones if fn_id == key}
        values |= {n: v for (fn_id, n), v in self.plan.flags.items() if fn_id == key}
        if values:
            body = _literal_reads(list(updated.body.body), values, self.mark)
            updated = updated.with_changes(body=updated.body.with_changes(body=body))
        given = {n for fn_id, n in self.plan.given if fn_id == key}
        if given:
            updated = updated.with_changes(body=transform(updated.body, _GivenTests(given, self.mark)))
        names = {n for fn_id, n in self.plan.params if fn_id == key}
        if not names and key not in self.plan.kwargs:
            return updated
        params = updated.params
        params = params.with_changes(
            params=[p for p in params.params if p.name.value not in names],
            kwonly_params=[p for p in params.kwonly_params if p.name.value not in names],
            star_kwarg=None if key in self.plan.kwargs else params.star_kwarg,
        )
        if not params.kwonly_params and isinstance(params.star_arg, cst.ParamStar):
            params = params.with_changes(star_arg=cst.MaybeSentinel.DEFAULT)
        if params.star_kwarg is None and not params.kwonly_params:  # no trailing comma on what is now last
            if isinstance(params.star_arg, cst.Param):
                params = params.with_changes(star_arg=params.star_arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            elif params.params:
                params = params.with_changes(params=[*params.params[:-1], params.params[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
        return updated.with_changes(params=params)


class Signatures(StripPass):
    NAME = "signatures"
    DESCRIPTION = "Pass-through **kwargs and parameters no callee reads, with the arguments that filled them."
    STRIP = [(
        "class AAttention(nn.Module):\n    def forward(self, x, position_ids=None, **kwargs):\n        return f(x, **kwargs)\n"
        "def f(x, dropout=0.0, **kwargs):\n    return x\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n"
        "    def forward(self, x, **kwargs):\n        return self.attn(x, position_ids=x, dropout=0.0, **kwargs)\n",
        "class AAttention(nn.Module):\n    def forward(self, x):\n        return f(x)\n\n\ndef f(x):\n    return x\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.attn = AAttention()\n\n"
        "    def forward(self, x):\n        return self.attn(x)\n",
    ), (  # the root gets only the token ids: what it is not given is None, and folds where it is tested
        "class AModel(nn.Module):\n    def forward(self, x, past_key_values=None):\n        kv = past_key_values.self_attention_cache"
        " if isinstance(past_key_values, EncoderDecoderCache) else past_key_values\n        return g(x, kv)\n",
        "class AModel(nn.Module):\n    def forward(self, x):\n        kv = None\n        return g(x, kv)\n",
    ), (  # the branch that would read through the None only raises: the other is the value
        "class AModel(nn.Module):\n    def forward(self, input_ids, inputs_embeds=None):\n"
        "        device = input_ids.device if input_ids is not None else inputs_embeds.device\n        return g(input_ids, device)\n",
        "class AModel(nn.Module):\n    def forward(self, input_ids):\n        device = input_ids.device\n"
        "        return g(input_ids, device)\n",
    ), (  # a device no call passes: the move it asks for is none
        "class ARotary(nn.Module):\n    def __init__(self, dim, device=None):\n        super().__init__()\n"
        "        self.inv_freq = torch.arange(dim).float().to(device)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.rope = ARotary(4)\n"
        "    def forward(self, x):\n        return x * self.rope.inv_freq\n",
        "class ARotary(nn.Module):\n    def __init__(self, dim):\n        super().__init__()\n"
        "        self.inv_freq = torch.arange(dim).float()\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.rope = ARotary(4)\n\n"
        "    def forward(self, x):\n        return x * self.rope.inv_freq\n",
    )]
    STRIP += [(  # a flag no call sets is its default: the fused kernel's branch it would pick goes
        "def rope(q, cos, fast=False):\n    if fast:\n        return fused_rope(q, cos)\n    return q * cos\n"
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return rope(x, x)\n",
        "def rope(q, cos):\n    return q * cos\n\n\n"
        "class AForCausalLM(nn.Module):\n    def forward(self, x):\n        return rope(x, x)\n",
    )]
    STRIP += [(  # the root gets its token ids, and so does the model it hands them to (4.3x)
        "class AModel(nn.Module):\n    def forward(self, input_ids=None):\n        if input_ids is not None:\n"
        "            n = input_ids.shape[1]\n        return input_ids * n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.model = AModel()\n\n    def forward(self, input_ids=None):\n        return self.model(input_ids=input_ids)\n",
        "class AModel(nn.Module):\n    def forward(self, input_ids=None):\n        n = input_ids.shape[1]\n"
        "        return input_ids * n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.model = AModel()\n\n    def forward(self, input_ids=None):\n        return self.model(input_ids=input_ids)\n",
    )]
    STRIP += [(  # a layer reached through `zip` (5.25 Ergo's `zip(config.layer_types, self.layers)`): the keyword it only
        # forwarded into a `**kwargs` goes at the call with it
        "class ALayer(nn.Module):\n    def forward(self, x, **kwargs):\n        return self.attn(x, **kwargs)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer() for _ in range(2)])\n\n"
        "    def forward(self, x, kinds):\n        for kind, layer in zip(kinds, self.layers, strict=True):\n"
        "            x = layer(x, position_ids=x)\n        return x\n",
        "class ALayer(nn.Module):\n    def forward(self, x):\n        return self.attn(x)\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer() for _ in range(2)])\n\n"
        "    def forward(self, x, kinds):\n        for kind, layer in zip(kinds, self.layers, strict=True):\n"
        "            x = layer(x)\n        return x\n",
    )]
    KEEP = [
        # a flag a call the graph cannot follow sets (a module's forward reached through two attributes)
        "class Shared(nn.Embedding):\n    def forward(self, x, unembed=False):\n        if unembed:\n"
        "            return x @ self.weight.T\n        return super().forward(x)\n"
        "class AModel(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n        self.wte = Shared(config.n, config.n)\n"
        "    def forward(self, x):\n        return self.wte(x)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.transformer = AModel(config)\n\n    def forward(self, x):\n        return self.transformer.wte(self.transformer(x), True)\n",
        # a root that needs more than the token ids (a VLM's images and their flags): its own API
        "class AForCausalLM(nn.Module):\n    def forward(self, pixel_values, input_ids=None, image_flags=None):\n"
        "        return self.lm(input_ids) * self.vision(pixel_values)[image_flags == 1]\n",
        # another caller may leave it None; and a parameter rebound before its test is another value
        # layers iterated in a way not followed: whatever calls them may pass anything into `**kwargs`
        "class ALayer(nn.Module):\n    def forward(self, x, **kwargs):\n        return self.attn(x, **kwargs)\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([ALayer() for _ in range(2)])\n\n"
        "    def forward(self, x):\n        for layer, kind in reversed(list(zip(self.layers, KINDS))):\n"
        "            x = layer(x, position_ids=x)\n        return x\n",
        "class AModel(nn.Module):\n    def forward(self, input_ids=None):\n        if input_ids is not None:\n"
        "            return input_ids\n        return 0\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.model = AModel()\n\n    def forward(self, input_ids=None):\n        return self.model(input_ids) + self.model()\n",
        "class AForCausalLM(nn.Module):\n    def forward(self, input_ids=None):\n        input_ids = self.pick(input_ids)\n"
        "        if input_ids is None:\n            return 0\n        return input_ids\n",
        "TABLE = {'a': AAttention}\nclass AAttention(nn.Module):\n    def forward(self, x, position_ids=None, **kwargs):\n        return x\n",
        "def f(x, **kwargs):\n    return kwargs.get('scale', 1) * x\n",
        # what `*args` carries is unknown: the decoder's input_ids is not None at every call
        "class ADecoder(nn.Module):\n    def forward(self, input_ids=None):\n        if input_ids is not None:\n"
        "            return input_ids\n        return 0\n\n\n"
        "class AForCausalLM(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.decoder = ADecoder()\n\n    def forward(self, *args):\n        return self.decoder(*args)\n",
    ]

    def leave_Module(self, original, updated):
        for _ in range(4):  # a parameter dropped can leave its caller's parameter unread
            graph = CallGraph(updated, self.ctx.root)
            defs = [*graph.functions.values(), *(f for c in graph.classes.values() for f in graph.methods(c))]
            plan = ParameterPlan(graph, defs)
            if not plan.build():
                self.ctx.call_graph = (updated, graph)  # the module as this pass leaves it: `returns` starts here
                break
            touched = {id(graph.enclosing[c]) for c in (*plan.args, *plan.positional) if c in graph.enclosing}
            touched |= {i for i, _ in plan.params} | {i for i, _ in (*plan.nones, *plan.given, *plan.flags)} | plan.kwargs
            apply = _Apply(plan, lambda node: self.ctx.mark(node, self.NAME))
            fold = Fold(LiteralsFrom(self.ctx, self.NAME, ("None",)))
            fold_flags = Fold(LiteralsFrom(self.ctx, self.NAME, ("None", "True", "False")))

            def redo(fn: cst.FunctionDef) -> cst.FunctionDef:
                if id(fn) not in touched:
                    return fn
                new = transform(fn, apply)
                if any(i == id(fn) for i, _ in plan.flags):  # `if fast:` reads `if False:`
                    new = transform(new, fold_flags)
                elif any(i == id(fn) for i, _ in (*plan.nones, *plan.given)):  # `if inputs_embeds is None:` reads `if None is None:`
                    new = transform(new, fold)
                return drop_unread_locals(new, self.ctx, "dead_code")  # what the dropped arguments carried may be unread now

            updated = rewrite_defs(updated, touched, redo)
        return updated


