"""archread's own remote-code repos (tests/data/remote_repos) verify as their authors would run them: each its own
way of naming files, roots and configuration fields; two under the older release their config.json names."""

import ast
import json
from pathlib import Path

import pytest

from archread.parsers import reduce_source, resolve
from archread.parsers.undefined import undefined_names
from archread.runtime.verify import verify

REPOS = Path(__file__).parent / "data" / "remote_repos"
ALL = sorted(p.name for p in REPOS.iterdir() if (p / "config.json").is_file())
ALLOWED_IMPORTS = {"torch", "math", "archread.prelude"}


def _release(repo: str) -> str | None:
    return json.loads((REPOS / repo / "config.json").read_text()).get("transformers_version")


def test_there_are_five_repos_one_of_an_older_release():
    assert len(ALL) >= 5 and any(_release(r) for r in ALL)


@pytest.mark.parametrize("repo", ALL)
def test_reduces_to_a_module_that_stands_alone(repo):
    reduction = reduce_source(resolve(REPOS / repo))
    tree = ast.parse(reduction.code)
    imported = {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
    assert {m for m in imported if m.split(".")[0] not in {"torch", "math"}} <= ALLOWED_IMPORTS, reduction.code
    assert undefined_names(reduction.code) == [], reduction.code


@pytest.mark.parametrize("repo", [r for r in ALL if not _release(r)])
def test_verifies_under_the_installed_release(repo):
    report = verify(REPOS / repo, trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    assert "remote code" in report.reference


@pytest.mark.corpus
@pytest.mark.parametrize("repo", [r for r in ALL if _release(r)])
def test_verifies_under_the_release_its_config_names(repo):
    report = verify(REPOS / repo, trust_code=True)
    assert report.match and report.padded is not None, report.to_text()
    assert f"transformers {_release(repo)}, subprocess" in report.reference, report.reference
