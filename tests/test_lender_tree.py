"""Which transformers tree remote code that names no release is read against: the installed one where it defines
what the code imports from transformers' model files, else the newest release at hand that does."""

from archread.parsers.lender_tree import defining_root, lender_root
from archread.parsers.source import transformers_root


def _release(corpus, version, body):
    models = corpus / version / "transformers" / "models" / "llama"
    models.mkdir(parents=True)
    (models / "modeling_llama.py").write_text(body)
    return corpus / version / "transformers"


def _code(tmp_path, name):
    here = tmp_path / "repo" / "modeling_x.py"
    here.parent.mkdir()
    here.write_text(f"from transformers.models.llama.modeling_llama import LlamaMLP, {name}\n")
    return here


def test_the_newest_release_at_hand_that_defines_the_imported_names_is_read(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    old = _release(corpus, "4.40.0", "from ...activations import ACT2FN\nclass LlamaMLP:\n    pass\n"
                   "if True:\n    ARCHREAD_GONE_CLASSES = {'eager': LlamaMLP}\n")
    _release(corpus, "4.39.0", "class LlamaMLP:\n    pass\nARCHREAD_GONE_CLASSES = {}\n")
    _release(corpus, "4.50.0", "class LlamaMLP:\n    pass\n")  # newer, and without it
    monkeypatch.setenv("ARCHREAD_CORPUS", str(corpus))
    here = _code(tmp_path, "ARCHREAD_GONE_CLASSES")
    assert defining_root(here) == old and lender_root(here) == old


def test_code_the_installed_release_can_read_is_read_against_it(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    _release(corpus, "4.40.0", "class LlamaMLP:\n    pass\n")
    monkeypatch.setenv("ARCHREAD_CORPUS", str(corpus))
    assert defining_root(_code(tmp_path, "LlamaModel")) == transformers_root()


def test_where_no_release_at_hand_defines_them_the_installed_one_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHREAD_CORPUS", str(tmp_path / "empty"))
    assert defining_root(_code(tmp_path, "ARCHREAD_NOWHERE")) == transformers_root()
