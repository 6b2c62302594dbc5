"""Real modeling files of three transformers eras reduce to compiling, much shorter source."""

from pathlib import Path

import pytest

from archread.parsers import reduce_source, resolve
from archread.parsers.source import transformers_root

SAMPLE = ["llama", "mistral", "gemma", "qwen2", "phi3", "mixtral", "falcon", "gpt_neox", "starcoder2", "cohere",
          "jamba", "bloom"]


def _reduce(path: Path):
    result = reduce_source(resolve(path))
    compile(result.code, str(path), "exec")
    return result


@pytest.mark.parametrize("version", ["4.41.2", "4.48.3"])
def test_old_releases_reduce(release, version):
    models = release(version) / "models"
    for name in SAMPLE:
        path = models / name / f"modeling_{name}.py"
        if path.exists():
            result = _reduce(path)
            assert result.reduced_lines < result.original_lines * 0.45, (name, result.reduced_lines)
            assert "FlashAttention" not in result.code and "gradient_checkpointing" not in result.code


def test_installed_release_reduces_sample():
    for name in SAMPLE + ["nemotron", "gemma2", "olmo2", "deepseek_v3", "qwen3_next", "granitemoehybrid"]:
        path = transformers_root() / "models" / name / f"modeling_{name}.py"
        if path.exists():
            result = _reduce(path)
            assert result.reduced_lines < result.original_lines * 0.7, name


@pytest.mark.parametrize("version", ["4.41.2", "5.24.0"])
def test_llama_reads_in_at_most_110_lines(release, version):
    """Issue 2's bar for both eras, its `# assumes` line included."""
    result = _reduce(release(version) / "models" / "llama" / "modeling_llama.py")
    assert result.file_lines > 500 and result.reduced_lines <= 110, result.reduced_lines
