"""What the passes, the facts and the readers of other files ask of a libcst tree, one answer each: what a node
reads, binds and calls (`names`, `nodes`), a module's imports (`module_imports`), its classes, their lookup
order and the model's roots (`classes`), its call graph (`calls`) and what signatures no longer need
(`parameters`), effect-free expressions (`expressions`), unread locals (`locals`), layout (`layout`); and the
rewrites several passes run (`rewrite`, `folding`).

Below the passes: nothing here imports a pass (tests/test_architecture.py checks it).
"""
