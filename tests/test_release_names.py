"""Remote code that imports a transformers name later releases removed (`top_k_top_p_filtering`, gone in 4.39)
is run first under the cached releases whose source defines that name, read without importing them."""

from archread.runtime import release
from archread.runtime.release import missing_name, release_defines


def _release(root, version: str, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / version / "transformers" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def test_the_name_an_import_error_says_is_missing_is_read_off_the_message():
    message = "modeling_x.py does not import: ImportError: cannot import name 'top_k_top_p_filtering' from 'transformers' (/x)"
    assert missing_name(message) == ("transformers", "top_k_top_p_filtering")
    assert missing_name("modeling_x.py does not import: NameError: name 'x' is not defined") is None


def test_a_release_defines_a_name_by_def_assignment_import_or_its_lazy_structure(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "releases_dir", lambda: tmp_path)
    _release(tmp_path, "4.38.1", {"__init__.py": '_import_structure = {"generation": ["top_k_top_p_filtering"]}\n',
                                  "generation/utils.py": "def top_k_top_p_filtering(logits):\n    return logits\n",
                                  "utils/__init__.py": "from .import_utils import (\n    is_torch_fx_available,\n)\n"})
    _release(tmp_path, "4.48.3", {"__init__.py": '_import_structure = {"generation": ["GenerationMixin"]}\n',
                                  "generation/utils.py": "def sample(logits):\n    return logits  # top_k_top_p_filtering was here\n",
                                  "utils/__init__.py": "from .import_utils import is_torch_available\n"})
    assert release_defines("4.38.1", "transformers", "top_k_top_p_filtering")
    assert release_defines("4.38.1", "transformers.generation.utils", "top_k_top_p_filtering")
    assert release_defines("4.38.1", "transformers.utils", "is_torch_fx_available")
    assert not release_defines("4.48.3", "transformers", "top_k_top_p_filtering")
    assert not release_defines("4.48.3", "transformers.generation.utils", "top_k_top_p_filtering")
    assert not release_defines("4.48.3", "transformers.utils", "is_torch_fx_available")
    assert not release_defines("4.0.0", "transformers", "top_k_top_p_filtering")  # not installed: unknown, not defined
