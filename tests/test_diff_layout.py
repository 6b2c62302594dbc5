"""Layout is not a difference: the same math laid out otherwise compares equal, in the facts and line by line."""

import dataclasses
import re

from archread.diff import diff_models
from archread.diff.hunks import align
from archread.diff.normal_form import statements
from archread.parsers import reduce_source, resolve


def rewrap(code: str, width: int) -> str:
    """Every statement wrapped over lines joined onto one; then lines longer than width broken after a comma
    inside brackets — the same statements at another line width."""
    lines, out, n = code.splitlines(), [], 0
    ends = {s.tokens[0].start[0]: s.last for s in statements(code)}
    while n < len(lines):
        last = ends.get(n + 1, n + 1)
        joined = lines[n] + "".join(" " + ln.strip() for ln in lines[n + 1:last])
        out.append(re.sub(r"([(\[]) ", r"\1", joined))
        n = last
    wrapped = []
    for line in out:
        indent = len(line) - len(line.lstrip())
        while len(line) > width and (cuts := _inner_commas(line, width)):
            wrapped.append(line[:cuts[-1] + 1])
            line = " " * (indent + 8) + line[cuts[-1] + 1:].lstrip()
        wrapped.append(line)
    return "\n".join(wrapped) + "\n"


def _inner_commas(line: str, width: int) -> list[int]:
    """Columns before width of commas inside brackets (where a line may break), outside strings."""
    depth, quote, out = 0, "", []
    for i, ch in enumerate(line[:width]):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth > 0 and i > len(line) - len(line.lstrip()) + 4:
            out.append(i)
    return out


def test_a_wrapped_call_equals_its_one_line_twin():
    one = "def f(x):\n    return g(x, 1.0, 'a')\n"
    wrapped = 'def f(x):\n    return (\n        g(\n            x,\n            1.,\n            "a",\n        )\n    )\n'
    a = align(one, wrapped)
    assert not a.hunks and not a.model_changed and not a.ref_changed
    assert align(one, "def f(x):\n    return g(x, 2.0, 'a')\n").hunks  # a changed value is a change


def test_a_one_element_tuple_keeps_its_comma():
    assert align("x = (a,)\n", "x = (a)\n").hunks


def test_a_file_rewrapped_at_another_width_has_no_changed_line():
    llama = reduce_source(resolve("llama"))
    for width in (60, 200):
        other = dataclasses.replace(llama, code=rewrap(llama.code, width))
        assert other.code != llama.code
        d = diff_models(other, llama)
        assert d.differing == []
        assert [c.part.name for c in d.components if c.changed] == []
        assert all(not c.model_changed and not c.reference_changed for c in d.components)


def test_llama_against_a_renamed_copy_of_itself(tmp_path):
    src = resolve("llama")
    config = src.path.with_name("configuration_llama.py")
    (tmp_path / "modeling_mymodel.py").write_text(src.text.replace("Llama", "MyModel").replace("llama", "mymodel"))
    (tmp_path / "configuration_mymodel.py").write_text(
        config.read_text().replace("Llama", "MyModel").replace("llama", "mymodel"))
    copy = reduce_source(resolve(str(tmp_path / "modeling_mymodel.py")))
    d = diff_models(copy, reduce_source(src))
    assert d.differing == [] and [c.part.name for c in d.components if c.changed] == []
    assert all("Llama" not in line for c in d.components for line in c.unified)  # names shown are the real ones
