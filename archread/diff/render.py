"""ArchDiff as text, markdown, json or one self-contained HTML page."""

from __future__ import annotations

import html
import json

from archread.diff.align import ArchDiff


def fact_value(v) -> str:
    return "yes" if v is True else "no" if v is False else "—" if v is None else str(v)


def _when(f) -> str:
    return f" when {f.when}" if getattr(f, "when", "") else ""


def _headline(d: ArchDiff) -> str:
    changed = sum(c.changed for c in d.components)
    return (f"{d.model} vs {d.reference}: {len(d.differing)} facts differ, "
            f"{changed} of {len(d.components)} components changed")


def to_text(d: ArchDiff) -> str:
    lines = [_headline(d), ""]
    if d.differing:
        width = max(len(f.key) for f in d.differing)
        for f in d.differing:
            at = f"  (line {f.model_line})" if f.model_line else ""
            lines.append(f"  {f.key:<{width}}  {fact_value(f.model):<14} {d.reference.split()[0]}: {fact_value(f.reference)}{at}"
                         f"{_when(f)}")
    else:
        lines.append("  no fact differs")
    lines.append("")
    for c in d.components:
        mark = "changed" if c.changed else "same"
        lines.append(f"  {c.part.role:<14} {c.part.name:<36} ↔ {c.other.name if c.other else '(none)':<30} {mark}")
    for c in d.components:
        if c.unified:
            lines += ["", *c.unified]
    return "\n".join(lines) + "\n"


def to_markdown(d: ArchDiff) -> str:
    lines = [f"# {_headline(d)}", "", "| fact | " + d.model + " | " + d.reference + " | line | when |", "|---|---|---|---|---|"]
    lines += [f"| `{f.key}` | {fact_value(f.model)} | {fact_value(f.reference)} | {f.model_line or ''} | {f.when} |"
              for f in d.differing]
    lines += ["", "## Components", "", "| role | component | reference | |", "|---|---|---|---|"]
    lines += [f"| {c.part.role} | `{c.part.name}` | `{c.other.name if c.other else '-'}` | "
              f"{'changed' if c.changed else 'same'} |" for c in d.components]
    for c in d.components:
        if c.unified:
            lines += ["", f"### {c.part.name}", "", "```diff", *c.unified, "```"]
    return "\n".join(lines) + "\n"


def to_json(d: ArchDiff) -> str:
    return json.dumps(d.to_json(), indent=2, default=str) + "\n"


_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}
th{background:#f4f4f4}code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#fafafa;padding:8px;overflow:auto}
.add{background:#e6ffec}.del{background:#ffebe9}.hunk{color:#888}.same{color:#999}"""


def to_html(d: ArchDiff) -> str:
    e = html.escape
    rows = "".join(f"<tr><td><code>{e(f.key)}</code></td><td>{e(fact_value(f.model))}</td>"
                   f"<td>{e(fact_value(f.reference))}</td><td>{f.model_line or ''}</td><td>{e(f.when)}</td></tr>"
                   for f in d.differing)
    parts = "".join(f"<tr class='{'' if c.changed else 'same'}'><td>{e(c.part.role)}</td><td><code>{e(c.part.name)}"
                    f"</code></td><td><code>{e(c.other.name if c.other else '-')}</code></td>"
                    f"<td>{'changed' if c.changed else 'same'}</td></tr>" for c in d.components)
    diffs = []
    for c in d.components:
        if not c.unified:
            continue
        body = "".join(f"<span class='{'add' if ln.startswith('+') else 'del' if ln.startswith('-') else 'hunk' if ln.startswith('@') else ''}'>"
                       f"{e(ln)}</span>\n" for ln in c.unified)
        diffs.append(f"<h3><code>{e(c.part.name)}</code></h3><pre>{body}</pre>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(_headline(d))}</title><style>{_CSS}</style>"
            f"</head><body><h1>{e(d.model)} vs {e(d.reference)}</h1><p>{e(_headline(d))}</p>"
            f"<h2>Facts that differ</h2><table><tr><th>fact</th><th>{e(d.model)}</th><th>{e(d.reference)}</th>"
            f"<th>line</th><th>when</th></tr>{rows}</table><h2>Components</h2><table><tr><th>role</th><th>component</th>"
            f"<th>reference</th><th></th></tr>{parts}</table>{''.join(diffs)}"
            f"<p class='same'>made by archread</p></body></html>\n")


RENDER = {"text": to_text, "markdown": to_markdown, "json": to_json, "html": to_html}
