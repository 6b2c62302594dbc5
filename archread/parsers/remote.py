"""A remote-code repo: the folder a model ships its own Python in (config.json with `auto_map`, configuration_*.py,
modeling_*.py and their siblings), read without importing or running any of it.

`auto_map` names the configuration and model classes. Without one the root is read off the code: the
PreTrainedModel subclass with a vocabulary head that no other class builds, never a name suffix
(`…ForConditionalGeneration`, `…LMHeadModel`, `RWForCausalLM` all occur). The configuration module is
auto_map's, else the one the modeling file imports (`modelling_RW.py` → `configuration_RW.py`).
"""

from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from archread.errors import ArchreadError

# auto_map keys of a model class, the causal LM's first: the reduction reads input_ids → logits
_MODEL_KEYS = ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM", "AutoModelForVision2Seq", "AutoModelForImageTextToText",
               "AutoModel")


@dataclass(frozen=True)
class RemoteCode:
    """What running a repo's own classes takes: import `modeling` as a module of the package `folder` is,
    build `config_class` (from `configuration`) from config.json, then `root` from that configuration."""

    folder: Path  # the repo folder: config.json and the .py files (an HF cache snapshot's, symlinks not followed)
    modeling: str  # the modeling module's name, "modelling_RW"
    root: str  # the model class to build and compare, "RWForCausalLM"
    configuration: str | None  # the configuration module's name, "configuration_RW"; None where none is found
    config_class: str | None  # "RWConfig"
    transformers_version: str | None  # config.json's, the release the authors ran: "4.27.4"
    model_type: str | None  # config.json's model_type


def snapshot_of(folder: Path) -> Path:
    """An HF cache repo folder (models--org--name) stands for its snapshot of refs/main, else its newest."""
    snapshots = folder / "snapshots"
    if not snapshots.is_dir() or (folder / "config.json").exists():
        return folder
    ref = folder / "refs" / "main"
    chosen = snapshots / ref.read_text(encoding="utf-8").strip() if ref.is_file() else None
    if chosen is None or not chosen.is_dir():
        found = sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        if not found:
            raise ArchreadError(f"{folder}: an HF cache folder with no snapshot")
        chosen = found[-1]
    return chosen


def is_modeling_name(stem: str) -> bool:
    return stem.startswith(("modeling_", "modelling_"))


def config_json(folder: Path) -> dict | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchreadError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArchreadError(f"{path}: not a configuration (a JSON object is expected)")
    return data


def _named(folder: Path, value, key: str) -> tuple[str, str]:
    """(module, class) an auto_map entry names: "modelling_RW.RWForCausalLM", also another repo's
    ("tiiuae/falcon-7b--configuration_RW.RWConfig", whose file a snapshot carries beside its own)."""
    if isinstance(value, (list, tuple)):  # tokenizers: [slow, fast]
        value = next((v for v in value if v), None)
    if not isinstance(value, str) or "." not in value:
        raise ArchreadError(f"{folder / 'config.json'}: auto_map's {key} is not module.Class ({value!r})")
    module, cls = value.split("--")[-1].rsplit(".", 1)
    if not (folder / f"{module}.py").is_file():
        raise ArchreadError(f"{folder / 'config.json'}: auto_map's {key} names {module}.py, which this folder lacks")
    return module, cls


def imported_configuration(tree: ast.Module, folder: Path) -> tuple[str, str | None] | None:
    """The configuration module (and class) a modeling file imports from its folder: `from .configuration_RW
    import RWConfig`, also absolute (`from configuration_x import XConfig`) as flat repos have it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level <= 1:
            name = node.module.rsplit(".", 1)[-1] if node.level else node.module
            if "." not in name and (folder / f"{name}.py").is_file() and _defines_config(folder / f"{name}.py"):
                names = [a.name for a in node.names if a.name != "*"]
                return name, next((n for n in names if n.endswith("Config")), names[0] if names else None)
    return None


def _defines_config(path: Path) -> bool:
    """The file defines a configuration class (one that sets model_type or is built on PretrainedConfig)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return False
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        if any(last_name(b) in ("PretrainedConfig", "PreTrainedConfig") for b in cls.bases):
            return True
        if any(isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "model_type" for t in s.targets) for s in cls.body):
            return True
    return False


def last_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def parse_file(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
    except OSError as exc:
        raise ArchreadError(f"{path}: cannot read ({exc.strerror})") from None
    except SyntaxError as exc:
        raise ArchreadError(f"{path}:{exc.lineno}:{exc.offset}: syntax error: {exc.msg}") from None


def modeling_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.py") if is_modeling_name(p.stem))


def nested_model(folder: Path, config: dict) -> tuple[str, str] | None:
    """(module, class) of the causal LM a sub-configuration's own auto_map names, where config.json's top level names
    none and exactly one sub-configuration does (an omni model's `llm_config`)."""
    key = nested_key(config)
    return _named(folder, config[key]["auto_map"][_MODEL_KEYS[0]], _MODEL_KEYS[0]) if key is not None else None


def nested_key(config: dict) -> str | None:
    """The one sub-configuration whose own auto_map names a causal LM, where the top level names no model."""
    if any(k in (config.get("auto_map") or {}) for k in _MODEL_KEYS):
        return None
    found = [key for key, sub in config.items() if isinstance(sub, dict) and isinstance(sub.get("auto_map"), dict)
             and isinstance(sub["auto_map"].get(_MODEL_KEYS[0]), str)]
    return found[0] if len(found) == 1 else None


def one_modeling_file(folder: Path, found: list[Path]) -> Path:
    """The one of a folder's modeling files whose code has a model class to read (LLaMA-MoE's modeling_llama_moe_hf.py
    beside a file of layers alone); where not exactly one has, an error naming them all."""
    if len(found) == 1:
        return found[0]
    rooted = []
    for path in found:
        try:
            code_root(parse_file(path), path)
        except ArchreadError:
            continue
        rooted.append(path)
    if len(rooted) == 1:
        return rooted[0]
    raise ArchreadError(f"{folder}: several modeling files ({', '.join(p.name for p in found)}) and no auto_map "
                        "naming one; name one")


def remote_code(folder: Path, modeling: Path | None = None) -> RemoteCode | None:
    """The repo in folder (modeling: the file the user named, else auto_map's or the only one); None where
    folder holds no config.json (a lone modeling file, read as it is)."""
    config = config_json(folder)
    if config is None:
        return None
    auto_map = config.get("auto_map") if isinstance(config.get("auto_map"), dict) else {}
    named = {k: _named(folder, auto_map[k], k) for k in (*_MODEL_KEYS, "AutoConfig") if k in auto_map}
    model = next((named[k] for k in _MODEL_KEYS if k in named), None) or nested_model(folder, config)
    if modeling is None:
        if model is not None:
            modeling = folder / f"{model[0]}.py"
        else:
            found = modeling_files(folder)
            if not found:
                raise ArchreadError(f"{folder}: no modeling_*.py in this folder")
            modeling = one_modeling_file(folder, found)
    tree = parse_file(modeling)
    if model is not None and model[0] == modeling.stem:
        root = model[1]
        if root not in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}:
            raise ArchreadError(f"{folder / 'config.json'}: auto_map names {model[0]}.{root}, which {modeling.name} does not define")
    else:
        root = code_root(tree, modeling)
    configuration = named.get("AutoConfig") or imported_configuration(tree, folder)
    version = config.get("transformers_version")
    return RemoteCode(folder=folder, modeling=modeling.stem, root=root,
                      configuration=configuration[0] if configuration else None,
                      config_class=configuration[1] if configuration else None,
                      transformers_version=version if isinstance(version, str) else None,
                      model_type=config.get("model_type") if isinstance(config.get("model_type"), str) else None)


def chosen_root(modeling: Path, root: str, remote: RemoteCode | None) -> RemoteCode:
    """The repo with the model class the user named (`--root NAME`: the code holds several that qualify, or
    auto_map names another): read as remote code whether or not a config.json lies beside it."""
    tree = parse_file(modeling)
    if root not in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}:
        raise ArchreadError(f"{modeling}: defines no class {root} (--root)")
    if remote is not None:
        return dataclasses.replace(remote, root=root)
    configuration = imported_configuration(tree, modeling.parent)
    return RemoteCode(folder=modeling.parent, modeling=modeling.stem, root=root,
                      configuration=configuration[0] if configuration else None,
                      config_class=configuration[1] if configuration else None, transformers_version=None, model_type=None)


def code_root(tree: ast.Module, path: Path) -> str:
    """The model class the code is for: a PreTrainedModel subclass with a forward that reaches a vocabulary
    projection (its own or through the modules it builds), that no other class builds, and that adds no
    head of another size (a classifier over num_labels is another task's root)."""
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    bases = {name: {last_name(b) for b in cls.bases} for name, cls in classes.items()}

    def pretrained(name: str, seen: frozenset = frozenset()) -> bool:
        own = bases[name]
        return "PreTrainedModel" in own or any(pretrained(b, seen | {name}) for b in own & classes.keys() - seen)

    def forward(name: str, seen: frozenset = frozenset()) -> bool:
        cls = classes[name]
        return any(isinstance(f, ast.FunctionDef) and f.name == "forward" for f in cls.body) or any(
            forward(b, seen | {name}) for b in bases[name] & classes.keys() - seen)

    built = {name: {c.func.id for c in ast.walk(cls) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
             & classes.keys() - {name} for name, cls in classes.items()}

    def reaches(name: str, own, seen: frozenset = frozenset()) -> bool:
        return own(classes[name]) or any(reaches(b, own, seen | {name}) for b in (built[name] | bases[name]) & classes.keys() - seen)

    models = [n for n in classes if pretrained(n) and forward(n)]
    used = set().union(*(built[n] for n in classes)) if classes else set()
    candidates = [n for n in models if n not in used and reaches(n, _reads_vocab) and not _heads(classes[n])[1]]
    headed = [n for n in candidates if reaches(n, lambda c: _heads(c)[0])]  # an LM head, not only an embedding
    candidates = headed or candidates
    # a subclass of another candidate with no forward of its own adds no math (it re-quantises or re-loads
    # the same modules): its base is the model
    candidates = [n for n in candidates if not (bases[n] & set(candidates) and not _defines(classes[n], "forward"))]
    # a forward that cannot run on the tokens alone (a multiple-choice head iterating its `choice_ids`) serves
    # another task over the same logits
    alone = [n for n in candidates if not needs_another_input(forward_of(n, classes, bases))]
    candidates = alone or candidates
    # one that builds all another builds and more (GPT-2's double heads beside its LM head, a multi-token
    # predictor's extra heads) adds a task to the same model: the one the others extend is the model
    known = set(classes) | {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom)
                            and (node.module or "").split(".")[0] == "torch" for a in node.names}
    built_attrs = {n: _built_attrs(classes[n], known) for n in candidates}
    least = [n for n in candidates if all(set(built_attrs[n]) < set(built_attrs[o]) for o in candidates if o != n)]
    # or builds a module of the framework's beside the LM head (GPT-2's `SequenceSummary` multiple-choice head)
    plain = [n for n in candidates if all(kind != "foreign" for kind in built_attrs[n].values())]
    candidates = least or (plain if len(candidates) > 1 else []) or candidates
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ArchreadError(f"{path}: no PreTrainedModel class reading the vocabulary here, and no auto_map naming the model class")
    raise ArchreadError(f"{path}: two candidate root classes ({', '.join(candidates)}) and no auto_map naming one")


def forward_of(name: str, classes: dict, bases: dict, seen: frozenset = frozenset()) -> ast.FunctionDef | None:
    own = next((s for s in classes[name].body if isinstance(s, ast.FunctionDef) and s.name == "forward"), None)
    if own is not None:
        return own
    found = (forward_of(b, classes, bases, seen | {name}) for b in sorted(bases[name] & classes.keys() - seen))
    return next((f for f in found if f is not None), None)


# builtins that iterate or measure their arguments: None fails in each
_ITERATING = {"zip", "enumerate", "iter", "len", "list", "tuple", "sorted", "reversed", "sum"}


def needs_another_input(forward: ast.FunctionDef | None) -> bool:
    """The forward cannot be called with the tokens alone: a parameter after the first has no default, or one
    that defaults to None is indexed, iterated or read an attribute of where nothing tests it or binds it anew."""
    if forward is None:
        return False
    args = forward.args
    positional = [*args.posonlyargs, *args.args][1:]  # after self
    if len(positional) - len(args.defaults) > 1 or any(d is None for d in args.kw_defaults):
        return True
    tested = {n.id for node in ast.walk(forward) for test in _tests(node) for n in ast.walk(test) if isinstance(n, ast.Name)}
    bound = {n.id for n in ast.walk(forward) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    optional = {a.arg for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True)
                if isinstance(d, ast.Constant) and d.value is None}
    optional |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                 if isinstance(d, ast.Constant) and d.value is None}
    return bool((optional - tested - bound) & _failing_on_none(forward))


def _tests(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)):
        return [node.test]
    if isinstance(node, ast.comprehension):
        return list(node.ifs)
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    return [node.left, *node.comparators] if isinstance(node, ast.Compare) else []


def _failing_on_none(fn: ast.FunctionDef) -> set[str]:
    """Names the function uses where None raises: indexed, an attribute read, iterated, in arithmetic."""
    found = set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.Subscript, ast.Attribute)):
            used = [node.value]
        elif isinstance(node, (ast.For, ast.comprehension)):
            used = [node.iter]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ITERATING:
            used = list(node.args)
        elif isinstance(node, ast.BinOp):
            used = [node.left, node.right]
        else:
            continue
        found |= {u.id for u in used if isinstance(u, ast.Name)}
    return found


def _built_attrs(cls: ast.ClassDef, known: set[str]) -> dict[str, str]:
    """self attribute the class's __init__ assigns a call to -> "vocab" (a projection onto the vocabulary),
    "local" (a class of the file or torch's, or a plain call), or "foreign" (a class imported from elsewhere:
    another task's head)."""
    found = {}
    for fn in _init(cls):
        for node in ast.walk(fn):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
                continue
            vocab, callee = onto_vocab(node.value), node.value.func
            foreign = isinstance(callee, ast.Name) and callee.id not in known and callee.id[:1].isupper()
            for t in node.targets:
                if isinstance(t, ast.Attribute) and last_name(t.value) == "self":
                    found[t.attr] = "vocab" if vocab else "foreign" if foreign else "local"
    return found


def _defines(cls: ast.ClassDef, method: str) -> bool:
    return any(isinstance(s, ast.FunctionDef) and s.name == method for s in cls.body)


def _init(cls: ast.ClassDef) -> list[ast.FunctionDef]:
    return [s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"]


def _reads_vocab(cls: ast.ClassDef) -> bool:
    return any("vocab" in last_name(n).lower() for fn in _init(cls) for n in ast.walk(fn) if isinstance(n, (ast.Attribute, ast.Name)))


def onto_vocab(call: ast.Call) -> bool:
    """`nn.Linear(h, config.vocab_size)`, also built through a helper: a projection onto the vocabulary."""
    out = linear_out(call)
    return out is not None and any("vocab" in last_name(n).lower() for n in ast.walk(out))


def linear_out(call: ast.Call) -> ast.expr | None:
    """The output size of `nn.Linear(i, o)`, also built through a helper (`init_method(nn.Linear, i, o)`)."""
    args = call.args
    if last_name(call.func) == "Linear":
        return args[1] if len(args) > 1 else next((k.value for k in call.keywords if k.arg == "out_features"), None)
    at = next((i for i, a in enumerate(args) if last_name(a) == "Linear"), None)
    return args[at + 2] if at is not None and len(args) > at + 2 else None


def _heads(cls: ast.ClassDef) -> tuple[bool, bool]:
    """(whether the class builds a projection onto the vocabulary, whether it builds a head onto anything else:
    a `num_labels` classifier, a two-way span head)."""
    vocab = other = False
    for fn in _init(cls):
        for stmt in ast.walk(fn):
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
                continue
            out = linear_out(stmt.value)
            if out is None:
                continue
            names = {last_name(n) for n in ast.walk(out)}
            if any("vocab" in n.lower() for n in names):
                vocab = True
            elif any(isinstance(t, ast.Attribute) and last_name(t.value) == "self" for t in stmt.targets):
                other = other or bool(names & {"num_labels", "num_classes"}) or isinstance(out, ast.Constant)
    return vocab, other
