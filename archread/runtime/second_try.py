"""The original on archread's tiny configuration, else on the configuration's own widths with two layers.

The tiny widths can break a relation between sizes that the shrinking does not know (RetNet's value width against
its heads, Evo's `hidden_size % num_filters`): the second try keeps every width and takes one layer of each kind.
Shared by the in-process verify and the release runner."""

from __future__ import annotations

from archread.errors import ArchreadError
from archread.runtime.cuda_paths import asks_for_cuda
from archread.runtime.tiny import fewer_layers


def tiny_then_own_widths(attempt, tiny, full):
    """attempt(tiny), else attempt(fewer_layers(full)). archread's own errors (a stand-in used while computing, a
    model too large) and a call for CUDA are no matter of widths: raised as they are; where the second try fails
    too, the first error says more, unless the second is one of those."""
    try:
        return attempt(tiny)
    except ArchreadError:
        raise
    except Exception as first:  # noqa: BLE001 - the model's own errors, whatever their type
        wider = None if asks_for_cuda(first) else fewer_layers(full)
        if wider is None:
            raise
        try:
            return attempt(wider)
        except Exception as second:  # noqa: BLE001
            raise (second if isinstance(second, ArchreadError) or asks_for_cuda(second) else first) from None
