"""archread reduce as a user runs it: outputs, --stats, -o/--force, and every kind of bad input."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archread.cli import main

DATA = Path(__file__).parent / "data"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,words", [
    (["reduce", "/no/such/modeling_x.py"], "no such file"),
    (["reduce", str(DATA / "no_modeling")], "no modeling_*.py"),
    (["reduce", str(DATA / "binary.py")], "binary"),
    (["reduce", str(DATA / "latin1.py")], "not UTF-8"),
    (["reduce", str(DATA / "syntax_error.py")], "syntax_error.py:2:"),
    (["reduce", str(DATA / "no_model.py")], "no nn.Module model"),
    (["reduce", str(DATA / "flax_model.py")], "no nn.Module model"),  # an LM head by name, but no forward
    (["reduce", str(DATA / "empty.py")], "empty file"),
    (["reduce", "nemotrn"], "did you mean nemotron"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("archread: ")
    assert words in err
    assert "Traceback" not in err and out == ""


def test_reduce_prints_runnable_module_and_stats(capsys):
    code, out, err = run(capsys, "reduce", "llama", "--stats")
    assert code == 0
    compile(out, "reduced", "exec")
    assert "class LlamaForCausalLM(Module)" in out and "super().__init__()" not in out
    assert "past_key_value" not in out and "flash" not in out.lower() and '"""' not in out
    assert "non-blank lines" in err and "docstrings" in err


def test_output_is_not_overwritten_without_force(capsys, tmp_path):
    target = tmp_path / "reduced.py"
    target.write_text("keep me")
    code, _, err = run(capsys, "reduce", "llama", "-o", str(target))
    assert code == 2 and "--force" in err and target.read_text() == "keep me"
    code, _, _ = run(capsys, "reduce", "llama", "-o", str(target), "--force")
    assert code == 0 and "LlamaForCausalLM" in target.read_text()


def test_reading_never_executes_the_input(capsys, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setenv("ARCHREAD_MARKER", str(marker))
    code, out, _ = run(capsys, "reduce", str(DATA / "modeling_marker.py"))
    assert code == 0 and "MarkerForCausalLM" in out
    assert not marker.exists()


@pytest.mark.parametrize("module,banned", [
    ("archread.parsers", ("torch", "textual", "transformers")),
    ("archread.parsers.pipeline, archread.parsers.facts, archread.parsers.lint, archread.parsers.cache",
     ("torch", "textual", "transformers")),
    ("archread.diff, archread.diff.render", ("torch", "textual", "transformers")),
    ("archread.runtime.verify, archread.runtime.run, archread.runtime.bind, archread.runtime.kernels", ("textual",)),
])
def test_import_hygiene(module, banned):
    probe = f"import sys, {module}; print(' '.join(m for m in {banned!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert result.stdout.strip() == ""


def test_prefetch_reduces_in_children_and_collect_reads_their_cache(tmp_path, monkeypatch):
    from archread.parsers import reduce_source, resolve
    from archread.parsers.cache import collect, is_cached, prefetch

    monkeypatch.setenv("ARCHREAD_CACHE", str(tmp_path))
    monkeypatch.delenv("ARCHREAD_NO_CACHE", raising=False)
    sources = resolve("nemotron"), resolve("llama")
    pids = prefetch(*sources)
    assert len(pids) == 1  # one child; it forks one more for the second source
    got = collect(pids, *sources)
    assert all(is_cached(s) for s in sources)
    assert [r.code for r in got] == [reduce_source(s).code for s in sources]
    assert prefetch(*sources) == []  # cached now: nothing to start


def test_version_and_help_state_the_reader_form_and_the_defaults(capsys):
    from archread import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"archread {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "archread FILE|NAME [--against REF]" in top and "archread nemotron" in top
    for command, default in (("verify", "(default cpu)"), ("run", "(default bfloat16)"), ("diff", "(default text)")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert default in " ".join(capsys.readouterr().out.split()), command
    with pytest.raises(SystemExit):
        main(["nemotron", "--help"])
    assert "(default llama)" in " ".join(capsys.readouterr().out.split())
