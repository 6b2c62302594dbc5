"""The language model a vision-language repo builds: the text path that runs on token ids alone.

A root whose forward must be given images (InternVL's `forward(self, pixel_values, input_ids=None, image_flags=None)`)
builds its language model from a sub-configuration that config.json holds as a dict:
`self.language_model = InternLM2ForCausalLM(config.llm_config)`. Where that class is a causal LM of one of the
folder's own modeling files, it is a model of its own: that file, that class, over that dict. Read from the code and
config.json (ast, never imported).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from archread.parsers.remote import (
    RemoteCode,
    code_root,
    config_json,
    forward_of,
    imported_configuration,
    last_name,
    needs_another_input,
    nested_key,
    nested_model,
    parse_file,
)


@dataclass(frozen=True)
class LanguageModel:
    modeling: str  # the module stem of the language model's file, "modeling_internlm2"
    root: str  # its class, "InternLM2ForCausalLM"
    key: str  # the sub-configuration it is built from, "llm_config"
    config: dict  # a config.json for it: the sub-dict, naming its classes, with the repo's transformers_version
    why: str  # what the report says


def language_model(remote: RemoteCode) -> LanguageModel | None:
    """The language model remote's root builds, where the root cannot run on token ids alone, or the root itself
    where config.json configures it only in a sub-configuration naming it; None otherwise."""
    folder, config = remote.folder, config_json(remote.folder) or {}
    if nested_model(folder, config) == (remote.modeling, remote.root):
        key = nested_key(config)
        return _language(folder, config, key, remote.modeling, remote.root, parse_file(folder / f"{remote.modeling}.py"),
                         f"config.json names no model of its own: its {key} names {remote.root}, verified over that")
    try:
        tree = parse_file(folder / f"{remote.modeling}.py")
    except Exception:  # noqa: BLE001 - the reduction says what is wrong with the file
        return None
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    if remote.root not in classes:
        return None
    bases = {name: {last_name(b) for b in cls.bases} for name, cls in classes.items()}
    forward = forward_of(remote.root, classes, bases)
    if forward is None or not _needs_images(forward):
        return None
    built = [(cls, key) for cls, key in _built_from_sub_configs(classes[remote.root]) if isinstance(config.get(key), dict)]
    found = [lm for cls, key in built if (lm := _own_causal_lm(folder, tree, cls, key, config)) is not None]
    named = [lm for lm in found if lm.root in (config[lm.key].get("architectures") or ())]
    chosen = named or found
    return chosen[0] if len({(lm.modeling, lm.root) for lm in chosen}) == 1 else None


def _needs_images(forward: ast.FunctionDef) -> bool:
    """input_ids is not the first parameter, or another must be given (`pixel_values` without a default)."""
    params = [a.arg for a in [*forward.args.posonlyargs, *forward.args.args][1:]]
    return (bool(params) and params[0] != "input_ids" and "input_ids" in params) or needs_another_input(forward)


def _built_from_sub_configs(cls: ast.ClassDef):
    """(class name, sub-configuration key) of each `X(config.key)` / `X(self.config.key)` the class's methods make."""
    for node in ast.walk(cls):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        for arg in [*node.args[:1], *(k.value for k in node.keywords if k.arg == "config")]:
            if isinstance(arg, ast.Attribute) and last_name(arg.value) == "config":
                yield node.func.id, arg.attr


def _own_causal_lm(folder: Path, tree: ast.Module, cls: str, key: str, config: dict) -> LanguageModel | None:
    """The class, where the sibling modeling file the root's module imports it from has it as its causal LM root."""
    stem = _imported_from(tree, cls)
    path = folder / f"{stem}.py" if stem else None
    if path is None or not path.is_file():
        return None
    try:
        own = parse_file(path)
        if code_root(own, path) != cls:
            return None
    except Exception:  # noqa: BLE001 - no single causal LM there: not a language model of its own
        return None
    return _language(folder, config, key, stem, cls, own, f"its forward needs more than token ids (images): verified "
                     f"is the language model it builds, {cls} over config.json's {key}")


def _language(folder: Path, config: dict, key: str, stem: str, cls: str, own: ast.Module, why: str) -> LanguageModel:
    """The language model over config.json's sub-dict key, naming its classes (its own AutoConfig, else the one
    its modeling file imports) and the repo's transformers_version."""
    sub = dict(config[key])
    auto_map = sub.get("auto_map") if isinstance(sub.get("auto_map"), dict) else {}
    configuration = auto_map.get("AutoConfig")
    if not (isinstance(configuration, str) and (folder / f"{configuration.split('.')[0]}.py").is_file()):
        found = imported_configuration(own, folder)
        configuration = f"{found[0]}.{found[1]}" if found and found[1] else None
    sub["auto_map"] = {"AutoModelForCausalLM": f"{stem}.{cls}", **({"AutoConfig": configuration} if configuration else {})}
    if isinstance(config.get("transformers_version"), str):  # the release the whole repo ran under
        sub["transformers_version"] = config["transformers_version"]
    return LanguageModel(modeling=stem, root=cls, key=key, config=sub, why=why)


def _imported_from(tree: ast.Module, name: str) -> str | None:
    """The sibling module a name is imported from (`from .modeling_internlm2 import InternLM2ForCausalLM`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level <= 1 and "." not in node.module:
            if any((a.asname or a.name) == name for a in node.names):
                return node.module
    return None
