"""Configuration values the default reading takes other than the defaults, where the code shows the defaults
give no language model: a flag whose default skips the vocabulary projection (GLM's `output_predict=False`
leaves `logits = None`), or a field whose default builds no module the forward calls anyway (an attention that
creates `self.rotary_emb` only under `position_embedding_type == "rope"` and calls it whatever the type).

Read from the modeling file's own code (ast, never imported): which field an `if` tests, through the attribute
an `__init__` copies it to (`self.output_predict = config.output_predict`), and what that branch builds.
"""

from __future__ import annotations

import ast
from pathlib import Path

from archread.parsers.remote import last_name, onto_vocab, parse_file


def runnable_values(modeling: Path, defaults: dict) -> tuple[dict, dict[str, str]]:
    """({field: the value the reading takes instead of its default}, {field: a line saying why})."""
    try:
        tree = parse_file(modeling)
    except Exception:  # noqa: BLE001 - the reduction itself says what is wrong with the file
        return {}, {}
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    values, notes = {}, {}
    for field, why in _logits_gates(classes, defaults).items():
        values[field] = True
        notes[field] = f"the default {field}=False {why}: read with {field}=True"
    for field, (value, why) in _unbuilt_modules(classes, defaults).items():
        if field not in values:
            values[field] = value
            notes[field] = (f"the original cannot run under its defaults: {field}={defaults[field]!r} {why}; read with "
                            f"{field}={value!r}, the value that builds it")
    return values, notes


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {s.name: s for s in cls.body if isinstance(s, ast.FunctionDef)}


def _aliases(cls: ast.ClassDef) -> dict[str, str]:
    """{self attribute: configuration field} an `__init__` copies (`self.output_predict = config.output_predict`)."""
    init = _methods(cls).get("__init__")
    found = {}
    for node in ast.walk(init) if init is not None else ():
        if isinstance(node, ast.Assign) and _config_field(node.value):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and last_name(t.value) == "self":
                    found[t.attr] = _config_field(node.value)
    return found


def _config_field(node: ast.expr) -> str | None:
    """`config.x` or `self.config.x` → "x"."""
    if isinstance(node, ast.Attribute) and (
            (isinstance(node.value, ast.Name) and node.value.id == "config")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "config" and last_name(node.value.value) == "self")):
        return node.attr
    return None


def _field_of(test: ast.expr, aliases: dict[str, str]) -> str | None:
    """The field a test reads plainly: `config.x`, `self.config.x`, or `self.a` that the __init__ copied it to."""
    field = _config_field(test)
    if field is None and isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name) and test.value.id == "self":
        field = aliases.get(test.attr)
    return field


def _chosen(test: ast.expr, aliases: dict[str, str]) -> tuple[str, object] | None:
    """(field, the value that takes the branch) of `if config.x:` (True) or `if self.x == "rope":`."""
    field = _field_of(test, aliases)
    if field is not None:
        return field, True
    if (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.comparators[0], ast.Constant)):
        field = _field_of(test.left, aliases)
        return (field, test.comparators[0].value) if field is not None else None
    return None


# -- a flag that switches the vocabulary projection off

def _logits_gates(classes: list[ast.ClassDef], defaults: dict) -> dict[str, str]:
    """{field: why} for a field defaulting to False that an `if` tests around the one assignment of the vocabulary
    projection to a name the function first binds to None and returns: the default returns no logits."""
    found = {}
    for cls in classes:
        aliases, heads = _aliases(cls), _vocab_heads(cls)
        for fn in _methods(cls).values():
            embedder = _token_embedder(fn)
            for block in _blocks(fn):
                for at, stmt in enumerate(block):
                    if not isinstance(stmt, ast.If) or stmt.orelse:
                        continue
                    field = _field_of(stmt.test, aliases)
                    if field is None or defaults.get(field) is not False:
                        continue
                    for name in _projected(stmt.body, heads, embedder):
                        if _bound_to_none(block[:at], name) and _returned(fn, name):
                            found[field] = f"leaves {cls.name}.{fn.name}'s {name} None (the vocabulary projection sits under `if`)"
    return found


def _blocks(fn: ast.FunctionDef):
    """Every statement list in the function, its body first."""
    for node in ast.walk(fn):
        for attr in ("body", "orelse", "finalbody"):
            block = getattr(node, attr, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _vocab_heads(cls: ast.ClassDef) -> set[str]:
    """Attributes the __init__ builds as a Linear onto the vocabulary (`self.lm_head = nn.Linear(h, vocab_size)`)."""
    init = _methods(cls).get("__init__")
    found = set()
    for node in ast.walk(init) if init is not None else ():
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and onto_vocab(node.value):
                found |= {t.attr for t in node.targets if isinstance(t, ast.Attribute) and last_name(t.value) == "self"}
    return found


def _token_embedder(fn: ast.FunctionDef) -> str | None:
    """The module the forward embeds its first input with: `self.word_embeddings(input_ids)` → "word_embeddings"."""
    params = [a.arg for a in fn.args.args[1:]]
    if not params:
        return None
    for node in ast.walk(fn):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and last_name(node.func.value) == "self"
                and any(isinstance(a, ast.Name) and a.id == params[0] for a in node.args)):
            return node.func.attr
    return None


def _projected(body: list[ast.stmt], heads: set[str], embedder: str | None) -> set[str]:
    """Names the statements assign a vocabulary projection to: a vocabulary Linear's call, or a product with the
    weight of the module that embedded the tokens (a tied head, `F.linear(h, self.word_embeddings.weight)`)."""
    found = set()
    for stmt in body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        for node in ast.walk(stmt.value):
            head = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in heads \
                and last_name(node.func.value) == "self"
            tied = embedder is not None and isinstance(node, (ast.Call, ast.BinOp)) and any(
                isinstance(w, ast.Attribute) and w.attr == "weight" and isinstance(w.value, ast.Attribute)
                and w.value.attr == embedder and last_name(w.value.value) == "self" for w in ast.walk(node))
            if head or (tied and (isinstance(node, ast.BinOp) or last_name(node.func) in ("linear", "matmul"))):
                found.add(stmt.targets[0].id)
    return found


def _bound_to_none(before: list[ast.stmt], name: str) -> bool:
    return any(isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant) and s.value.value is None
               and any(isinstance(t, ast.Name) and t.id == name for t in s.targets) for s in before)


def _returned(fn: ast.FunctionDef, name: str) -> bool:
    return any(isinstance(r, ast.Return) and r.value is not None and any(
        isinstance(n, ast.Name) and n.id == name for n in ast.walk(r.value)) for r in ast.walk(fn))


# -- a module the default configuration never builds

def _unbuilt_modules(classes: list[ast.ClassDef], defaults: dict) -> dict[str, tuple[object, str]]:
    """{field: (value, why)} where a class builds a module only under `if <field> == value` (in its __init__ or
    a method the __init__ calls there), its forward calls that module on every path, and the
    field's default is another value: the default configuration cannot run its forward."""
    found, clashing = {}, set()
    for cls in classes:
        methods, aliases = _methods(cls), _aliases(cls)
        init, forward = methods.get("__init__"), methods.get("forward")
        if init is None or forward is None:
            continue
        for node in ast.walk(init):
            if not isinstance(node, ast.If):
                continue
            chosen = _chosen(node.test, aliases)
            if chosen is None or chosen[0] not in defaults or defaults[chosen[0]] == chosen[1]:
                continue
            if chosen[1] is True and defaults[chosen[0]] is not False:  # `if config.x:` switches a flag, not a None
                continue
            field, value = chosen
            built = _assigned(node.body, methods) - _assigned(init.body, methods, skip=node)  # only on this branch
            for attr in sorted(built):
                if _called_always(forward, attr, field, aliases):
                    if found.get(field, (value,))[0] != value:
                        clashing.add(field)
                    found[field] = (value, f"builds no {cls.name}.{attr}, which {cls.name}.forward calls")
    return {k: v for k, v in found.items() if k not in clashing}


def _assigned(body: list[ast.stmt], methods: dict, skip: ast.If | None = None, seen: frozenset = frozenset()) -> set[str]:
    """self attributes the statements assign, also in the methods they call (`self._init_rope()`), leaving out
    what `skip`'s own branch assigns (its `elif`/`else` still count)."""
    found = set()
    todo = list(body)
    while todo:
        node = todo.pop()
        if node is skip:
            todo.extend([node.test, *node.orelse])
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found |= {t.attr for t in targets if isinstance(t, ast.Attribute) and last_name(t.value) == "self"}
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and last_name(node.func.value) == "self"
                and node.func.attr in methods and node.func.attr not in seen and node.func.attr != "__init__"):
            found |= _assigned(methods[node.func.attr].body, methods, skip, seen | {node.func.attr})
        todo.extend(ast.iter_child_nodes(node))
    return found


def _called_always(forward: ast.FunctionDef, attr: str, field: str, aliases: dict[str, str]) -> bool:
    """The forward calls `self.attr(...)` on every path: in its own body or a `with` of it, under no condition,
    loop or handler, and after no branch that reads the field or asks after attr."""
    def asks(test: ast.expr) -> bool:
        return any(_field_of(n, aliases) == field or (isinstance(n, ast.Constant) and n.value == attr)
                   or (isinstance(n, ast.Attribute) and n.attr == attr) for n in ast.walk(test))

    def calls(node: ast.AST) -> bool:
        if isinstance(node, (ast.If, ast.While, ast.For, ast.AsyncFor, ast.Try, ast.IfExp, ast.BoolOp, ast.Lambda,
                             ast.FunctionDef, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return False  # taken on some paths only
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr
                and last_name(node.func.value) == "self"):
            return True
        return any(calls(child) for child in ast.iter_child_nodes(node))

    for stmt in forward.body:
        if isinstance(stmt, (ast.If, ast.While)) and asks(stmt.test):
            return False  # the author branches on it first
        if calls(stmt):
            return True
    return False
