"""A checkpoint configuration's values, as the transformers configuration class of the modeling file's own
release holds them, for `reduce --config`: the class runs (it may rename or derive fields; 5.x builds
rope_parameters from rope_scaling), the reduction then reads plain values. Another release's class runs
in a subprocess under that release. Remote code's class is not run to read: its config.json is read as JSON
over the defaults its configuration file shows.

    python -m archread.runtime.config_values MODEL_TYPE CONFIG_JSON   (prints the values as JSON)
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

from archread.errors import ArchreadError
from archread.parsers import reduce_source
from archread.parsers.config_defaults import default_values
from archread.parsers.source import tree_of
from archread.runtime.original import configuration, read_json
from archread.runtime.release import release_env


def _plain(value) -> bool:
    if isinstance(value, (bool, int, float, str, type(None))):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, (list, tuple)) and all(_plain(v) for v in value)


def read_values(model_type: str, path: Path) -> dict:
    """attribute -> value of the configuration at path, read by this environment's transformers, at full size."""
    return values_of(configuration(model_type, path))


def values_of(cfg) -> dict:
    """attribute -> plain value of a live configuration object."""
    values, dumped = {}, cfg.to_dict()
    for name in {*dumped, *getattr(cfg, "attribute_map", {})}:
        try:
            value = getattr(cfg, name)
        except Exception:  # noqa: BLE001 - absent, or a per-layer field a heterogeneous config refuses globally
            continue
        if _plain(value):
            values[name] = value
    # a composite configuration (text_config, vision_config): a module handed a section reads `config.x` there,
    # so a field whose value differs between the sections is not one value
    sections = [v for v in dumped.values() if isinstance(v, dict) and "model_type" in v]
    return {k: v for k, v in values.items() if all(section.get(k, v) == v for section in sections)}


def config_values(path: Path, source) -> dict:
    """The values of the configuration in path (a config.json or a folder holding one) for source's model."""
    path = path / "config.json" if path.is_dir() else path
    own = _own_class_values(path, source)
    if own is not None:
        return own
    if source.release is None or source.release == importlib.metadata.version("transformers"):
        return read_values(source.model_type, path)
    result = subprocess.run([sys.executable, "-m", "archread.runtime.config_values", source.model_type, str(path)],
                            capture_output=True, text=True, env=release_env(source.release), timeout=300)
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
        raise ArchreadError(lines[-1].removeprefix("archread: ") if lines else f"{path}: transformers {source.release} cannot read it")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _own_class_values(path: Path, source) -> dict | None:
    """Code outside transformers with its own configuration file beside it (remote code's configuration_x.py): no
    release has that class, so it is read as the default reading reads it (its declared defaults, statically),
    with the file's fields over them; None for a model whose class is transformers' own."""
    if tree_of(source.path) is not None:
        return None
    defaults, own = default_values(source.path)
    if own is None:
        return None
    fields = read_json(path)
    return {**defaults, **{k: v for k, v in fields.items() if k not in _NOT_FIELDS and _plain(v)}}


_NOT_FIELDS = ("model_type", "architectures", "auto_map", "transformers_version")


def reduce_for(source, path: Path):
    """source reduced for the configuration at path: the branches it decides are folded."""
    return reduce_source(source, config_values(path, source))


if __name__ == "__main__":
    try:
        print(json.dumps(read_values(sys.argv[1], Path(sys.argv[2]))))
    except ArchreadError as exc:
        sys.exit(f"archread: {exc}")
