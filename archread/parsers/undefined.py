"""Names a reduced module reads that nothing binds: what would raise NameError once the code runs.

Read with Python's own symbol tables (the compiler's scoping rules: class bodies, comprehensions, `global`),
never by running the module. A name counts as bound where the module binds it anywhere at its top level
(an import, an assignment, a def or class, also inside `if`/`try`) or it is a builtin; a module with a star
import binds what it cannot say, so it has none to report.
"""

from __future__ import annotations

import builtins
import symtable

_MODULE_NAMES = {"__name__", "__file__", "__doc__", "__spec__", "__package__", "__loader__", "__builtins__",
                 "__annotations__", "__path__", "__dict__"}


def undefined_names(code: str, filename: str = "reduced") -> list[str]:
    """The sorted names code reads from the module or the builtins that neither binds."""
    top = symtable.symtable(code, filename, "exec")
    if any(sym.is_imported() and sym.get_name() == "*" for sym in top.get_symbols()):
        return []
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    known = bound | set(dir(builtins)) | _MODULE_NAMES
    missing: set[str] = set()
    todo = [top]
    while todo:
        table = todo.pop()
        todo.extend(table.get_children())
        for sym in table.get_symbols():
            if not sym.is_referenced() or sym.get_name() in known:
                continue
            if table is top or sym.is_global() or (table.get_type() == "class" and not sym.is_local() and not sym.is_free()):
                missing.add(sym.get_name())
    return sorted(missing)
