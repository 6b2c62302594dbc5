"""The labelled set (benchmarks/data/facts_labels.toml: expected differences from Llama, read by hand) on the
installed release: every expected difference found with its value, no difference the labels do not expect.
The older releases are scored by benchmarks/facts_recall.py (they need their trees downloaded)."""

import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
import tomllib

from archread.diff import diff_models
from archread.parsers import reduce_source, resolve

ROOT = Path(__file__).resolve().parents[1]
# the benchmark's own reading of the labels, loaded by path: benchmarks/ on sys.path would shadow packages
# (its kernels.py is not the `kernels` package transformers imports)
_spec = importlib.util.spec_from_file_location("facts_recall", ROOT / "benchmarks" / "facts_recall.py")
facts_recall = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(facts_recall)
LABELS, expected = facts_recall.LABELS, facts_recall.expected

LABELLED = tomllib.loads(LABELS.read_text())
RELEASE = importlib.metadata.version("transformers")
KNOWN_GAPS: dict[str, str] = {}  # model -> why an expected difference is not read yet (strict: fixing it fails the mark)


@pytest.fixture(scope="module")
def llama():
    return reduce_source(resolve("llama"))


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[m]))
                                   if m in KNOWN_GAPS else m for m in LABELLED])
def test_labelled_differences_and_nothing_else(model, llama):
    want = expected(LABELLED, model, RELEASE)
    got = {d.key: d.model for d in diff_models(reduce_source(resolve(model)), llama).differing}
    assert got == want


def test_the_labels_cover_forty_architectures_across_lineages():
    assert len(LABELLED) >= 40
    assert all(expected(LABELLED, m, RELEASE) for m in LABELLED)  # none labelled as plain Llama
