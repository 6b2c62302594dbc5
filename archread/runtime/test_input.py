"""The test tokens: random, except for the special tokens the modeling code looks up in its input.

Early ChatGLM computes its mask and positions from where `[gMASK]` and `<sop>` sit (`seq.index(config.bos_token_id)`,
`seq.index(gMASK)` with `MASK, gMASK = 150000, 150001`): on tokens that hold none it raises. Which ids it looks up
is read off the code (the arguments of `.index(...)` calls: configuration `*token_id` fields and integer literals,
through the local names bound to them); random tokens avoid every special id, and each row ends with one id of each
lookup, as a tokenizer appends them, in the first order the original runs with.
"""

from __future__ import annotations

import ast
import inspect
import itertools

import torch

from archread.errors import ArchreadError

_MAX_ORDERS = 6  # orders of the looked-up ids tried (three lookups at most are tried in every order)


def _bindings(scope: ast.AST) -> dict[str, list[ast.expr]]:
    """name -> the expressions assigned to it in this scope (`a, b = 1, 2` binds each), nested functions not entered."""
    out: dict[str, list[ast.expr]] = {}
    body = list(ast.iter_child_nodes(scope))
    while body:
        node = body.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out.setdefault(target.id, []).append(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) and len(target.elts) == len(node.value.elts):
                    for t, v in zip(target.elts, node.value.elts):
                        if isinstance(t, ast.Name):
                            out.setdefault(t.id, []).append(v)
        body.extend(ast.iter_child_nodes(node))
    return out


def _config_field(node: ast.expr) -> str | None:
    """`config.bos_token_id` / `self.config.bos_token_id` -> "bos_token_id"."""
    if isinstance(node, ast.Attribute) and node.attr.endswith("token_id"):
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "config") or (isinstance(owner, ast.Attribute) and owner.attr == "config"):
            return node.attr
    return None


def _candidates(node: ast.expr, scopes: list[dict], depth: int = 0) -> list[int | str] | None:
    """The token ids an expression may be (ints, or configuration field names); None where it is anything else."""
    if depth > 4:
        return None
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return [node.value]
    if (field := _config_field(node)) is not None:
        return [field]
    if isinstance(node, ast.IfExp):
        body, orelse = _candidates(node.body, scopes, depth + 1), _candidates(node.orelse, scopes, depth + 1)
        return body + orelse if body is not None and orelse is not None else None
    if isinstance(node, ast.Name):
        values = next((s[node.id] for s in scopes if node.id in s), None)
        if not values:
            return None
        found = [_candidates(v, scopes, depth + 1) for v in values]
        return None if any(f is None for f in found) else [c for f in found for c in f]
    return None


def looked_up(text: str) -> list[list[int | str]]:
    """One list of candidate ids for each distinct lookup of a token in the input (`seq.index(x)`), in source order."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    module = _bindings(tree)
    groups: list[list[int | str]] = []
    for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        scopes = [_bindings(fn), module]
        for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
            if isinstance(call.func, ast.Attribute) and call.func.attr == "index" and len(call.args) == 1 and not call.keywords:
                found = _candidates(call.args[0], scopes)
                if found and found not in groups:
                    groups.append(found)
    return groups


def literal_ids(groups: list[list[int | str]]) -> set[int]:
    """The ids the code writes as literals: the vocabulary must hold them."""
    return {c for g in groups for c in g if type(c) is int}


def vocabulary(cfg) -> int:
    """The token vocabulary's size: the configuration's own, else that of the one section that has one (a
    VLM's `llm_config`, `text_config`)."""
    if isinstance(getattr(cfg, "vocab_size", None), int):
        return cfg.vocab_size
    sections = [v.vocab_size for v in vars(cfg).values() if isinstance(getattr(v, "vocab_size", None), int)]
    if len(sections) != 1:
        raise ArchreadError(f"{type(cfg).__name__} has no vocab_size of its own nor one section that has one: "
                            "archread cannot choose token ids for it")
    return sections[0]


def _resolved(cfg, group: list[int | str]) -> int | None:
    vocab = vocabulary(cfg)
    for c in group:
        value = getattr(cfg, c, None) if isinstance(c, str) else c
        if type(value) is int and 0 <= value < vocab:
            return value
    return None


def _specials(cfg, groups) -> set[int]:
    fields = cfg.to_dict() if hasattr(cfg, "to_dict") else vars(cfg)
    ids = {v for k, v in fields.items() if k.endswith("token_id") and type(v) is int}
    ids |= {v for k, v in fields.items() if k.endswith("token_ids") and isinstance(v, list) for v in v if type(v) is int}
    return ids | literal_ids(groups) | {i for g in groups if (i := _resolved(cfg, g)) is not None}


def random_tokens(vocab: int, shape: tuple[int, int], avoid: set[int] = frozenset(), seed: int = 0) -> torch.Tensor:
    """Uniform random ids in [0, vocab), none of them in `avoid` (the draw is the plain one where avoid is empty)."""
    avoid = sorted(i for i in avoid if 0 <= i < vocab)
    tokens = torch.randint(0, vocab - len(avoid), shape, generator=torch.Generator().manual_seed(seed))
    for skipped in avoid:  # ascending: each shift moves the ids at or above it one up, past it
        tokens += (tokens >= skipped).long()
    return tokens


def candidate_inputs(cfg, groups, shape: tuple[int, int], seed: int = 0) -> list[torch.Tensor]:
    """Test tokens to try, best first: the plain random draw where the code looks up no token, else random ids
    avoiding the special ones with each row ending in the looked-up ids, in each order."""
    if not groups:
        return [torch.randint(0, vocabulary(cfg), shape, generator=torch.Generator().manual_seed(seed))]
    ids = list(dict.fromkeys(i for g in groups if (i := _resolved(cfg, g)) is not None))
    base = random_tokens(vocabulary(cfg), shape, _specials(cfg, groups), seed)
    if not ids or len(ids) >= shape[1]:
        return [base]
    out = []
    for order in itertools.islice(itertools.permutations(ids), _MAX_ORDERS):
        tokens = base.clone()
        tokens[:, -len(order):] = torch.tensor(order)
        out.append(tokens)
    return out


def first_that_runs(model, inputs: list[torch.Tensor]) -> torch.Tensor:
    """The first input the model runs on (its own errors then show on the comparison's run of the last one)."""
    for tokens in inputs[:-1]:
        try:
            with torch.no_grad():
                model(tokens.to(next(model.parameters()).device))
            return tokens
        except Exception:  # noqa: BLE001 - an order the code rejects: the next one
            continue
    return inputs[-1]


def needs_more_than_tokens(model) -> str | None:
    """Why a model whose forward must be given more than the token ids (a vision-language model's
    `forward(self, pixel_values, input_ids=None, image_flags=None)`) cannot be run on them alone, or None."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
    before = names[: names.index("input_ids")] if "input_ids" in names else []
    if not before:
        return None
    return (f"its forward takes {', '.join(before)} before input_ids (images or other inputs besides the text): "
            "verify gives it token ids alone")
