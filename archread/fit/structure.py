"""A checkpoint whose names no candidate shares, matched by structure: the shapes of the repeated block, their
place in the tree, the order the files give; a renaming map under which the candidate loads with strict=True.

Tensors of one shape under one parent (q and o of a square attention, gate and up, two norms) cannot be told
apart by shapes: the map pairs them by leaf name and order and says so. A checkpoint tensor that is several of
the candidate's side by side (a fused q/k/v) is split by the candidate's shapes where one split fits.
"""

from __future__ import annotations

from itertools import combinations

from archread.fit.layers import Tree, hidden_width
from archread.fit.match import Candidate, Fit, equations, judge, references
from archread.fit.per_layer import layer_config
from archread.fit.solve import solve


def _parent(name: str) -> str:
    """The module holding a tensor's module (`attn` for `attn.q.weight`): where siblings meet."""
    return name.rpartition(".")[0].rpartition(".")[0]


def _depth(name: str) -> int:
    """How many components a name has: a renaming of words keeps it (`model.embed_tokens.weight` is not `lm_head.weight`)."""
    return name.count(".")


def _numbers(name: str) -> list[str]:
    """The numbered components (layer, expert): a renaming of words keeps them."""
    return [p for p in name.split(".") if p.isdigit()]


def _leaf(name: str) -> str:
    return name.rpartition(".")[2]


def _solve_pairs(ck: dict, cand: dict, laws: dict, width_ck: int | None, width_c: int | None) -> list:
    """Pairs for the solver: same rank and same axes at the residual width, ordered by their other sizes."""
    def key(shape, width):
        return len(shape), tuple(d == width for d in shape)

    groups: dict = {}
    for n, s in ck.items():
        groups.setdefault(key(s, width_ck), ([], []))[0].append(s)
    for n, s in cand.items():
        groups.setdefault(key(s, width_c), ([], []))[1].append(n)
    pairs = []
    for ours, theirs in groups.values():
        ours = sorted(ours, key=lambda s: tuple(-d for d in s))
        theirs = sorted(theirs, key=lambda n: tuple(-d for d in cand[n]))
        pairs += [(s, laws[n]) for s, n in zip(ours, theirs)]
    return pairs


def _pair_words(words: dict, ours: str, theirs: str) -> None:
    a, b = ours.split("."), theirs.split(".")
    if len(a) == len(b):
        for x, y in zip(a, b):
            words[(x, y)] = words.get((x, y), 0) + 1


def _word_agreement(words: dict, ours: str, theirs: str) -> int:
    """How many components of the two names pair as words already paired elsewhere (a renamed `weight` is the
    same word under every module: the unique shapes tell which word it is)."""
    a, b = ours.split("."), theirs.split(".")
    return sum(words.get((x, y), 0) > 0 for x, y in zip(a, b)) if len(a) == len(b) else -1


def assign(ck: dict, cand: dict, order_ck: list, order_c: list, words: dict | None = None) -> tuple[dict, list[str]]:
    """checkpoint name -> candidate name (or ("split", axis, [names])) and the notes on what was ambiguous; words:
    (checkpoint word, candidate word) -> how often paired, shared between calls and added to."""
    words = {} if words is None else words
    mapping: dict = {}
    notes: list[str] = []
    votes: dict = {}
    by_shape: dict = {}
    for n, s in ck.items():
        by_shape.setdefault(s, ([], []))[0].append(n)
    for n, s in cand.items():
        by_shape.setdefault(s, ([], []))[1].append(n)
    for ours, theirs in by_shape.values():
        if len(ours) == len(theirs) == 1:
            mapping[ours[0]] = theirs[0]
            _pair_words(words, ours[0], theirs[0])
            votes.setdefault(_parent(ours[0]), {}).setdefault(_parent(theirs[0]), 0)
            votes[_parent(ours[0])][_parent(theirs[0])] += 1
    at_ck = {n: i for i, n in enumerate(order_ck)}
    at_c = {n: i for i, n in enumerate(order_c)}
    for shape, (ours, theirs) in by_shape.items():
        if len(ours) == len(theirs) == 1 or not ours or not theirs:
            continue
        def fitness(n, m):
            return (votes.get(_parent(n), {}).get(_parent(m), 0), _numbers(n) == _numbers(m), _depth(m) == _depth(n),
                    _word_agreement(words, n, m), _leaf(m) == _leaf(n), -at_ck[n], -at_c[m])

        # the shorter side chooses, in its order, so that where one side has fewer it is the fitting ones of the
        # other that pair; each pair's words guide the next
        left_ck, left_c = sorted(ours, key=at_ck.get), sorted(theirs, key=at_c.get)
        while left_ck and left_c:
            if len(left_c) < len(left_ck):
                m = left_c.pop(0)
                n = max(left_ck, key=lambda n: fitness(n, m))
                left_ck.remove(n)
            else:
                n = left_ck.pop(0)
                m = max(left_c, key=lambda m: fitness(n, m))
                left_c.remove(m)
            mapping[n] = m
            _pair_words(words, n, m)
        if min(len(ours), len(theirs)) > 1:
            notes.append(f"shape {shape}: {', '.join(sorted(theirs))} cannot be told apart by shapes "
                         f"(paired by tree, leaf name and order)")
    _unmodelled(ck, cand, mapping, votes, order_c)
    _splits(ck, cand, mapping, notes, order_c)
    return mapping, notes


def _unmodelled(ck: dict, cand: dict, mapping: dict, votes: dict, order_c: list) -> None:
    """Checkpoint tensors left over onto candidate tensors with an axis no law predicts (None: any size there),
    agreeing on every other axis; under the parent the other pairs voted for first."""
    taken = set(mapping.values())
    for n, s in ck.items():
        if n in mapping:
            continue
        open_ = [m for m in order_c if m in cand and m not in taken and None in cand[m] and len(cand[m]) == len(s)
                 and all(w is None or w == g for g, w in zip(s, cand[m]))]
        if open_:
            liked = votes.get(_parent(n), {})
            best = max(open_, key=lambda m: (liked.get(_parent(m), 0), -open_.index(m)))
            mapping[n] = best
            taken.add(best)


def _splits(ck: dict, cand: dict, mapping: dict, notes: list, order_c: list) -> None:
    """Checkpoint tensors that are candidate tensors side by side along one axis."""
    taken = set(mapping.values())
    for n, s in ck.items():
        if n in mapping:
            continue
        free = [m for m in order_c if m in cand and m not in taken and None not in cand[m] and len(cand[m]) == len(s)]
        fits = []
        for axis in range(len(s)):
            parts: dict = {}  # parent -> the free tensors that agree with n off this axis and are narrower on it
            for m in free:
                x = cand[m]
                if x[axis] < s[axis] and all(x[a] == s[a] for a in range(len(s)) if a != axis):
                    parts.setdefault(_parent(m), []).append(m)
            for group_of in parts.values():
                for k in (2, 3):
                    fits += [(axis, list(g)) for g in combinations(group_of[:12], k)
                             if sum(cand[m][axis] for m in g) == s[axis]]
        if fits:
            axis, group = fits[0]
            mapping[n] = ("split", axis, group)
            taken.update(group)
            how = "" if len(fits) == 1 else f" ({len(fits)} splits fit; the first in the candidate's order taken)"
            notes.append(f"{n} split along axis {axis} into {', '.join(group)}{how}; rows assumed side by side in "
                         f"that order (an interleaving per head group cannot be seen in shapes)")


def fit_by_structure(ck: Tree, cand: Candidate, shapes: dict) -> Fit | None:
    if not cand.tree.layers or not ck.layers:
        return None
    fits = [_fit_at(ck, cand, shapes, reference) for reference in references(cand.entry)]
    return max(fits, key=lambda f: (f.score, -f.conflicts, f.prior))


def _fit_at(ck: Tree, cand: Candidate, shapes: dict, reference: dict) -> Fit:
    first = min(ck.layers)
    j0 = min(cand.tree.layers)
    width_ck, width_c = hidden_width(ck), hidden_width(cand.tree)
    cand_first = {n: cand.tree.layers[j0][n] for n in cand.tree.layers[j0]}
    pairs = _solve_pairs(ck.layers[first], cand_first, cand.layer_laws[j0], width_ck, width_c)
    pairs += _solve_pairs(ck.outside, cand.tree.outside, cand.laws, width_ck, width_c)
    values, open_fields = solve(equations(pairs), cand.tiny, reference)
    x = {**cand.tiny, **values}
    predicted_out = {n: cand.shape_at(n, x) for n in cand.tree.outside}
    kinds = {j: {n: cand.shape_at(cand.tree.full(j, n), x) for n in t} for j, t in cand.tree.layers.items()}
    order_c = list(cand.tensors)
    order_ck = list(shapes)
    mapping: dict = {}
    notes: list = []
    words: dict = {}  # the layers first: they hold the most tensors of unique shape, which pair the words
    seen: dict = {}
    choice: dict = {}
    predicted = dict(predicted_out)
    for i in sorted(ck.layers):
        layer = ck.layers[i]
        j = choice[i] = max(kinds, key=lambda k: _kind_agreement(layer, kinds[k]))
        kind = frozenset(layer.items())
        if (kind, j) not in seen:
            inner, inner_notes = assign(layer, kinds[j], [n for n in layer], list(cand.tree.layers[j]), words)
            seen[(kind, j)] = inner
            notes += [] if seen.keys() - {(kind, j)} else inner_notes
        for n, target in seen[(kind, j)].items():
            full = ck.full(i, n)
            mapping[full] = ("split", target[1], [_at(cand.tree, i, m) for m in target[2]]) \
                if isinstance(target, tuple) else _at(cand.tree, i, target)
        predicted.update({_at(cand.tree, i, n): s for n, s in kinds[j].items()})
    outside, outside_notes = assign(ck.outside, predicted_out, order_ck, order_c, words)
    mapping.update(outside)
    notes = outside_notes + notes
    renamed = {}
    for n, s in shapes.items():
        target = mapping.get(n)
        if isinstance(target, tuple):
            for m in target[2]:
                renamed[m] = predicted.get(m)
        elif target is not None:
            renamed[target] = s
        else:
            renamed[n] = s
    per_layer = layer_config(cand.entry, choice, {j: frozenset(t.items()) for j, t in kinds.items()})
    fit = judge(renamed, predicted, cand, x, open_fields, ck.count, renaming=mapping, per_layer=per_layer)
    fit.notes += notes
    fit.conflicts = word_conflicts(mapping)
    return fit


def word_conflicts(mapping: dict) -> int:
    """How far the map is from renaming words: a checkpoint renamed by a scheme writes one name component (a
    word: `self_attn`, `weight`) as one word of its own everywhere, so under the right candidate each word pairs
    with one word and each name with a name of as many components. Counts the names of another length and the
    extra partners of each word, both ways: what tells apart candidates whose shapes fit equally (OPT's
    `model.decoder.layers` against BioGPT's `biogpt.layers`; a norm inside the attention or beside it)."""
    forward: dict = {}
    backward: dict = {}
    conflicts = 0
    for ours, target in mapping.items():
        theirs = target[2] if isinstance(target, tuple) else [target]
        for name in theirs:
            a, b = ours.split("."), name.split(".")
            if len(a) != len(b):
                conflicts += 1
                continue
            for x, y in zip(a, b):
                if not (x.isdigit() and y.isdigit()):
                    forward.setdefault(x, set()).add(y)
                    backward.setdefault(y, set()).add(x)
    return conflicts + sum(len(v) - 1 for v in forward.values()) + sum(len(v) - 1 for v in backward.values())


def _kind_agreement(layer: dict, kind: dict) -> int:
    """How many tensors a checkpoint layer and a candidate layer kind can pair by shape (as multisets)."""
    left: dict = {}
    for shape in kind.values():
        left[shape] = left.get(shape, 0) + 1
    paired = 0
    for shape in layer.values():
        if left.get(shape, 0) > 0:
            left[shape] -= 1
            paired += 1
    return 2 * paired - len(layer) - len(kind)


def _at(tree: Tree, index: int, inner: str) -> str:
    return tree.full(index, inner)


def renaming_json(fit: Fit) -> dict:
    out = {}
    for k, v in (fit.renaming or {}).items():
        out[k] = {"split": v[1], "into": v[2]} if isinstance(v, tuple) else v
    return out


def renaming_text(fit: Fit, limit: int = 40) -> list[str]:
    items = list(renaming_json(fit).items())
    lines = [f"   {k} -> {v if isinstance(v, str) else 'split on axis %d into %s' % (v['split'], ', '.join(v['into']))}"
             for k, v in items[:limit]]
    if len(items) > limit:
        lines.append(f"   … and {len(items) - limit} more (-o writes them all)")
    return lines
