"""A tensor-parallel plan for a reduced model, derived from its components' roles and one probe forward.

Roles come from the reduced module's classes (`components.role_of`: attention, mlp, moe, lm head) and its
facts (a fused qkv or gate_up projection cannot be split contiguously). Inside an attention or MLP, a
probe decides which Linear is which: one that reads the component's own input is column-wise (q/k/v,
gate/up), the one whose output the component returns is row-wise (o, down). A component whose Linears do
not all fall in those two kinds, or that holds another parameter as wide as a column output (a norm over
the whole projection), stays whole on every rank. Embeddings are vocab-parallel, the head's Linear is
column-wise and gathered; stacked experts (one tensor of E experts) are split across ranks. The styles
are torch's own (`ColwiseParallel`, `RowwiseParallel`, `distribute_module`): archread sends nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor
from torch.distributed.tensor.parallel import ColwiseParallel, ParallelStyle, RowwiseParallel

from archread.errors import ArchreadError
from archread.parsers.components import role_of
from archread.parsers.facts import facts

FUSED = {"attention": "attn.fused_qkv", "mlp": "mlp.fused_gate_up"}  # role -> the fact that forbids a split


@dataclass
class Plan:
    styles: dict[str, str] = field(default_factory=dict)  # module path -> colwise | rowwise | vocab | head | experts
    whole: dict[str, str] = field(default_factory=dict)  # component left whole on every rank -> why

    def to_json(self) -> dict:
        return {"sharded": _patterns(self.styles), "whole": _patterns(self.whole)}

    def torch_styles(self) -> dict[str, ParallelStyle]:
        make = {"colwise": ColwiseParallel, "rowwise": RowwiseParallel,
                "vocab": lambda: RowwiseParallel(input_layouts=Replicate()),
                "head": lambda: ColwiseParallel(output_layouts=Replicate()), "experts": ExpertParallel}
        return {name: make[style]() for name, style in self.styles.items()}


def _patterns(named: dict[str, str]) -> dict[str, str]:
    """`model.layers.3.mlp.up_proj` → `model.layers.*.mlp.up_proj`, one entry per pattern."""
    out = {}
    for name, value in named.items():
        out.setdefault(".".join("*" if p.isdigit() else p for p in name.split(".")), value)
    return out


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((v for v in value if isinstance(v, torch.Tensor)), None)
    return None


def _stacked(module: nn.Module) -> int | None:
    """E of a module holding only stacked expert tensors ([E, …] of ≥ 3 dims), else None."""
    params = list(module.parameters(recurse=False))
    if not params or any(p.dim() < 3 for p in params) or len({p.shape[0] for p in params}) != 1:
        return None
    return params[0].shape[0]


def _probe(model: nn.Module, owners: dict[str, nn.Module], tokens: torch.Tensor) -> dict:
    """{module path: (positional args, output)} of each owner and its direct Linear children, first call."""
    seen: dict[str, tuple] = {}
    handles = []
    watched = dict(owners)
    for name, owner in owners.items():
        watched.update({f"{name}.{n}": m for n, m in owner.named_children() if isinstance(m, nn.Linear)})
    for name, module in watched.items():
        def hook(_m, args, kwargs, out, name=name):
            seen.setdefault(name, (tuple(args) + tuple(kwargs.values()), out))
        handles.append(module.register_forward_hook(hook, with_kwargs=True))
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        for h in handles:
            h.remove()
    return seen


def _head_dim(owner: nn.Module, cfg) -> int:
    for value in (getattr(owner, "head_dim", None), getattr(cfg, "head_dim", None)):
        if isinstance(value, int) and value > 0:
            return value
    return cfg.hidden_size // cfg.num_attention_heads


def _split(name: str, owner: nn.Module, role: str, seen: dict, tp: int, cfg) -> dict[str, str] | str:
    """{child path: colwise|rowwise} for an attention or MLP, or why it stays whole."""
    linears = {f"{name}.{n}": m for n, m in owner.named_children() if isinstance(m, nn.Linear)}
    if name not in seen or not linears or any(n not in seen for n in linears):
        return "the probe did not reach all its projections"
    inputs, out = seen[name]
    given, returned = _first_tensor(inputs), _first_tensor(out)
    cols = [n for n in linears if seen[n][0] and seen[n][0][0] is given]
    rows = [n for n in linears if _first_tensor(seen[n][1]) is returned]
    if not cols or len(rows) != 1 or set(cols) & set(rows) or len(cols) + 1 != len(linears):
        return "its projections are not all input-side and one output-side"
    widths = {linears[n].out_features for n in cols}
    inside = {id(p) for m in linears.values() for p in m.parameters()}
    if any(id(p) not in inside and p.numel() in widths for p in owner.parameters()):
        return "a parameter spans a whole projection (a norm over all heads)"
    unit = _head_dim(owner, cfg) if role == "attention" else 1
    for n in cols:
        if linears[n].out_features % (unit * tp):
            what = f"{linears[n].out_features // unit} heads" if unit > 1 else f"{linears[n].out_features} features"
            raise ArchreadError(f"--tp {tp} does not divide the {what} of {n}")
    return {**{n: "colwise" for n in cols}, rows[0]: "rowwise"}


def derive_plan(model: nn.Module, code: str, cfg, tp: int, tokens: torch.Tensor) -> Plan:
    """The plan for `model` (built from the reduced `code`) over `tp` ranks; probed on `tokens`."""
    known = {f.key: f.value for f in facts(code)}
    roles = {name: role_of(type(m).__name__, True) for name, m in model.named_modules()}
    owners = {n: m for n, m in model.named_modules() if roles[n] in ("attention", "mlp")}
    owners.update({n: m for n, m in model.named_modules() if roles[n] == "moe" and _stacked(m)})
    seen = _probe(model, owners, tokens)
    plan = Plan()
    for name, owner in owners.items():
        role = roles[name]
        if role == "moe":
            experts = _stacked(owner)
            ints = [t for t in seen.get(name, ((), None))[0] if isinstance(t, torch.Tensor) and not t.is_floating_point()]
            if len(ints) != 1:
                plan.whole[name] = "its forward takes no single expert index"
            elif experts % tp:
                raise ArchreadError(f"--tp {tp} does not divide the {experts} experts of {name}")
            else:
                plan.styles[name] = "experts"
            continue
        if known.get(FUSED[role]):
            plan.whole[name] = f"{FUSED[role]}: one projection holds several"
            continue
        split = _split(name, owner, role, seen, tp, cfg)
        if isinstance(split, str):
            plan.whole[name] = split
        else:
            plan.styles.update(split)
    for name, m in model.named_modules():
        if isinstance(m, nn.Embedding):
            plan.styles[name] = "vocab"
    if roles[""] == "lm head":
        plan.styles.update({n: "head" for n, m in model.named_children() if isinstance(m, nn.Linear)})
    return plan


class ExpertParallel(ParallelStyle):
    """Stacked experts split across ranks: each keeps E/tp of them and computes the tokens routed there.
    Routes to another rank's experts point at its first one with weight 0 (adding exactly nothing), so the
    module's own loop runs unchanged; the ranks' partial outputs add up through DTensor (Partial → Replicate)."""

    def _apply(self, module: nn.Module, mesh) -> nn.Module:
        share = _stacked(module) // mesh.size()
        start = mesh.get_local_rank() * share
        for pname, p in list(module.named_parameters(recurse=False)):
            local = distribute_tensor(p.detach(), mesh, [Shard(0)]).to_local()
            module.register_parameter(pname, nn.Parameter(local, requires_grad=False))

        def route(_m, args, kwargs):
            values = [*args, *kwargs.values()]
            index = next(t for t in values if isinstance(t, torch.Tensor) and not t.is_floating_point())
            local = index - start
            mine = (local >= 0) & (local < share)

            def fix(t):
                if t is index:
                    return torch.where(mine, local, torch.zeros_like(local))
                if isinstance(t, torch.Tensor) and t.is_floating_point() and t.shape == index.shape:
                    return torch.where(mine, t, torch.zeros_like(t))  # the weight of a route elsewhere
                return t
            return tuple(map(fix, args)), {k: fix(v) for k, v in kwargs.items()}

        def gather(_m, _args, out):
            return DTensor.from_local(out, mesh, [Partial()]).redistribute(mesh, [Replicate()]).to_local()

        module.register_forward_pre_hook(route, with_kwargs=True)
        module.register_forward_hook(gather)
        return module
