"""The strip passes, in the order they run on each node (see pipeline.Chain).

The three inline passes (helpers, temporaries, statics: one job each, one `inline` line in the report) run
twice: first so that `outputs = (h,); return outputs` reads as the tuple return `returns`
takes apart and a helper's body sits in the `__init__` whose aliases dead code resolves, then to join what
`returns` leaves (`h = self.attn(x); return h`). `dead_code` runs again after them: an attribute only an argument
`signatures` dropped had read (`sliding_window=self.sliding_window`) is unread now; then `signatures` again, for
the parameter only that attribute had read (Qwen3 attention's `layer_idx`), and `keywords` on its call graph."""

from archread.parsers.passes.annotations import Annotations
from archread.parsers.passes.attention_backends import AttentionBackends
from archread.parsers.passes.autocast import Autocast
from archread.parsers.passes.checkpointing import Checkpointing
from archread.parsers.passes.custom_extensions import CustomExtensions
from archread.parsers.passes.dead_code import DeadCode
from archread.parsers.passes.decorators import Decorators
from archread.parsers.passes.docstrings import Docstrings
from archread.parsers.passes.dropout import Dropout
from archread.parsers.passes.format import Format
from archread.parsers.passes.glue import Glue
from archread.parsers.passes.guards import Guards
from archread.parsers.passes.imports import Imports
from archread.parsers.passes.inline import Inline
from archread.parsers.passes.inline_helpers import InlineHelpers
from archread.parsers.passes.inline_statics import InlineStatics
from archread.parsers.passes.keywords import Keywords
from archread.parsers.passes.kv_cache import KVCache
from archread.parsers.passes.logging_calls import LoggingCalls
from archread.parsers.passes.masks import Masks
from archread.parsers.passes.module_base import ModuleBase
from archread.parsers.passes.one_process import OneProcess
from archread.parsers.passes.optional_imports import OptionalImports
from archread.parsers.passes.outputs import Outputs
from archread.parsers.passes.returns import Returns
from archread.parsers.passes.signatures import Signatures
from archread.parsers.passes.simplify import Simplify
from archread.parsers.passes.tensor_parallel import TensorParallel
from archread.parsers.passes.whole_slices import WholeSlices

PASSES = [
    Docstrings, LoggingCalls, Annotations, Decorators, Guards, TensorParallel, OneProcess, AttentionBackends, Autocast, OptionalImports,
    CustomExtensions, Dropout,
    Checkpointing, KVCache, Outputs, Masks, Glue, Simplify, InlineHelpers, Inline, InlineStatics, DeadCode, Signatures, Returns,
    WholeSlices, InlineHelpers, Inline, InlineStatics, DeadCode, Signatures, Keywords, ModuleBase, Imports, Format,
]
