"""A configuration class's defaults, read statically from configuration_*.py (never imported), or a config.json.

Both eras: 5.x declares fields as annotated class attributes (`hidden_act: str = "silu"`), 4.x as keyword
defaults of `__init__`. Values that are not literals (interval(...)(default=…), computed) are skipped.
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from archread.errors import ArchreadError
from archread.parsers.remote import imported_configuration, is_modeling_name, parse_file
from archread.parsers.source import transformers_root, tree_of


@dataclass(frozen=True)
class Default:
    value: object
    where: str  # path:line


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _Missing


class _Missing:
    pass


class Partial(dict):
    """A value known only in part (the keys it holds): a key it lacks is unknown, not absent."""


def config_file(modeling: Path) -> Path | None:
    """configuration_x.py beside modeling_x.py or modular_x.py (whose own configuration class holds only the new
    fields), else the configuration module beside it that it imports (remote code: `modelling_RW.py` →
    `configuration_RW.py`, `modeling_deepseekv2.py` → `configuration_deepseek_v2.py`); else a file not named
    modeling_* itself, which may define its configuration."""
    stem = modeling.stem.removeprefix("modeling_").removeprefix("modelling_").removeprefix("modular_")
    candidate = modeling.with_name(f"configuration_{stem}.py")
    if candidate.is_file():
        return candidate
    if is_modeling_name(modeling.stem) and tree_of(modeling) is None:  # a release's files keep its naming
        try:
            imported = imported_configuration(parse_file(modeling), modeling.parent)
        except ArchreadError:
            imported = None
        return modeling.with_name(f"{imported[0]}.py") if imported else None
    return modeling


def read_defaults(path: Path, model_type: str | None = None) -> dict[str, Default]:
    """Defaults of the config class whose model_type matches (else the first class that has fields), then the
    fields only the file's other configuration classes declare."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return {}
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]

    def own_type(cls):
        for stmt in cls.body:
            if isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "model_type" for t in stmt.targets):
                return _literal(stmt.value)
        return None

    chosen = [c for c in classes if model_type and own_type(c) == model_type] or classes
    # then the file's other configuration classes, for the fields the chosen one leaves to them: a composite's
    # text configuration (Gemma3TextConfig's hidden_activation), a nested one (DbrxFFNConfig's moe_top_k)
    chosen = chosen[:1] + [c for c in classes if c not in chosen[:1]]
    out: dict[str, Default] = {}
    for cls in chosen:
        for name, node, _ in _declared(cls):
            value = _literal(node)
            if value is not _Missing:
                out.setdefault(name, Default(value, f"{path}:{node.lineno}"))
        for node in ast.walk(cls):  # defaults given in code: kwargs.setdefault("partial_rotary_factor", 0.5)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and len(node.args) == 2
                    and node.func.attr in ("setdefault", "pop", "get") and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                value = _literal(node.args[1])
                if value is not _Missing:
                    out.setdefault(node.args[0].value, Default(value, f"{path}:{node.lineno}"))
    return out


def _declared(cls: ast.ClassDef):
    """(field, its default's node, whether an `__init__` parameter declares it) for each default the class
    declares: a 5.x annotated field (`hidden_act: str = "silu"`), then a 4.x keyword default of `__init__`."""
    for stmt in cls.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            yield stmt.target.id, stmt.value, False
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
            args = stmt.args.args[-len(stmt.args.defaults):] if stmt.args.defaults else []
            pairs = list(zip(args, stmt.args.defaults)) + list(zip(stmt.args.kwonlyargs, stmt.args.kw_defaults))
            yield from ((arg.arg, node, True) for arg, node in pairs if node is not None)


def read_config_json(path: Path) -> dict[str, Default]:
    """A config.json's values; a checkpoint folder's own config.json."""
    path = Path(path) / "config.json" if Path(path).is_dir() else Path(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArchreadError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise ArchreadError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArchreadError(f"{path}: not a configuration (a JSON object is expected)")
    return {k: Default(v, str(path)) for k, v in data.items()}


def _stored_plainly(classes: list[ast.ClassDef]) -> tuple[set[str], set[str], dict]:
    """(fields an `__init__` stores as given, `self.x = x`; fields some method sets any other way; fields a
    method fills only where they are None, with a literal: `if self.x is None: self.x = {...}` → {x: literal})."""
    plain, rewritten, filled = set(), set(), {}
    for cls in classes:
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            rebound = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}  # `x = x or d`
            fills = {id(f): value for f, value in _fills(fn)}
            for node in ast.walk(fn):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
                for t in targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                        if id(node) in fills:
                            filled.setdefault(t.attr, []).append(fills[id(node)])
                            continue
                        given = fn.name == "__init__" and isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == t.attr and t.attr not in rebound
                        (plain if given else rewritten).add(t.attr)
    return plain, rewritten, {k: v[0] for k, v in filled.items() if k not in rewritten and len(v) == 1}


def _fills(fn: ast.FunctionDef):
    """(the assignment, its literal) for each `if self.x is None: self.x = <literal>` in fn."""
    for node in ast.walk(fn):
        test = node.test if isinstance(node, ast.If) else None
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is)
                and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None
                and isinstance(test.left, ast.Attribute) and isinstance(test.left.value, ast.Name) and test.left.value.id == "self"):
            continue
        for stmt in node.body:
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
            if isinstance(target, ast.Attribute) and getattr(target.value, "id", None) == "self" and target.attr == test.left.attr:
                value = _literal(stmt.value)
                if value is not _Missing:
                    yield stmt, value


def _framework_rewrites(config: Path) -> frozenset[str]:
    """Fields the framework's own configuration code sets (5.x's rope_parameters, built from rope_scaling): their
    declared default is not the value a model sees. Read from the configuration utilities of the same tree."""
    root = next((p for p in config.parents if p.name == "transformers" and (p / "configuration_utils.py").is_file()), None)
    if root is None:
        from archread.parsers.source import transformers_root

        root = transformers_root()
    return _rewritten_by(root)


@functools.lru_cache(maxsize=8)
def _rewritten_by(root: Path | None) -> frozenset[str]:
    """What `_framework_rewrites` reads, once per tree: parsing the two files costs more than a small reduction."""
    names: set[str] = set()
    for name in ("configuration_utils.py", "modeling_rope_utils.py"):
        try:
            tree = ast.parse((root / name).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, TypeError):
            continue
        names |= _stored_plainly([n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)])[1]
    return frozenset(names)


def default_values(modeling: Path) -> tuple[dict, Path | None]:
    """The values a default configuration holds, as far as its file shows them statically, for the default
    reading: a literal default that every configuration class of the file declaring it agrees on and keeps as
    given (a 4.x `self.x = x`, a 5.x field no method sets again); a field derived in code is left out."""
    path = config_file(modeling)
    if path is None or path == modeling:
        return {}, None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError):
        return {}, path
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    plain, own, filled = _stored_plainly(classes)
    rewritten = own | _framework_rewrites(path) | {  # sections the framework builds (`sub_configs = {"text_config": …}`)
        k.value for cls in classes for s in cls.body if isinstance(s, ast.Assign) and isinstance(s.value, ast.Dict)
        and any(getattr(t, "id", "").startswith("sub_configs") for t in s.targets)
        for k in s.value.keys if isinstance(k, ast.Constant)}
    values, rope_types, framework_rope = {}, set(), False
    for cls in classes:
        rope_types.update(_literal(s.value) for s in cls.body if isinstance(s, ast.Assign)
                          and [getattr(t, "id", None) for t in s.targets] == ["default_rope_type"])
        declared = {}
        for name, node, param in _declared(cls):  # an `__init__` that stores its parameter sets the field last
            if not param or name in plain:
                declared[name] = _literal(node)
                if declared[name] is None and name in filled:  # None only until a method fills it in
                    declared[name] = filled[name]
        for name, value in declared.items():
            framework_rope |= name == "rope_parameters" and value is None and name not in own
            if name == "rope_parameters" and name in filled and isinstance(value, dict) and "rope_type" in value:
                rope_types.add(value["rope_type"])  # the framework completes it, keeping the type filled in
                framework_rope = True
                continue
            if name in rewritten or value is _Missing or values.get(name, value) != value:
                rewritten.add(name)
            else:
                values[name] = value
    values = {k: v for k, v in values.items() if k not in rewritten}
    if framework_rope and len(rope_types) <= 1:  # 5.x builds them: of the class's `default_rope_type`, else "default"
        values["rope_parameters"] = Partial(rope_type=rope_types.pop() if rope_types else "default")
    return values, path


def checkpoint_only_values(modeling: Path) -> dict:
    """The fields a repo's config.json sets that neither its configuration file nor the framework's
    configuration code names at all (Yuan's `use_flash_attention`, passed through `**kwargs`): a default
    configuration has no value for them, so the checkpoint's is the only one there is. Scalars only."""
    if tree_of(modeling) is not None or not (modeling.parent / "config.json").is_file():
        return {}
    if not any(modeling.parent.glob("configuration*.py")) and config_file(modeling) in (None, modeling):
        return {}  # no configuration file to tell what it declares
    try:
        data = json.loads((modeling.parent / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    path = config_file(modeling)
    files = {*modeling.parent.glob("configuration*.py"), *([path] if path is not None and path != modeling else [])}
    named = set().union(*(_names_in(f) for f in files))
    root = transformers_root()  # what the framework itself reads or sets (tie_word_embeddings, use_cache)
    named |= _framework_names(root)
    return {k: v for k, v in (data.items() if isinstance(data, dict) else ()) if k not in named
            and not k.startswith("_") and isinstance(v, (bool, int, float, str))}


def _names_in(path: Path) -> set[str]:
    """Every identifier, attribute and string a file writes (what it could read or set a field by)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return set()
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            names.add(n.value)
    return names


@functools.lru_cache(maxsize=4)
def _framework_names(root: Path | None) -> frozenset[str]:
    files = ("configuration_utils.py", "modeling_utils.py")
    return frozenset().union(*(_names_in(root / f) for f in files)) if root is not None else frozenset()
