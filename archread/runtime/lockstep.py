"""Forward passes of several models over one checkpoint in lockstep: each decoder layer read once, shared.

Every pass (the original in float32, the original in the run's dtype, the reduced model; each on the plain and
the padded batch) runs in a thread of its own, on a model whose layers hold no weights. A hook before each
layer waits until that layer's tensors are on the device and binds them (converted to the pass's dtype, one
copy per dtype); a hook after it unbinds them. No pass runs more than `window` layer calls ahead of the
slowest, so a few layers are resident at a time, and the next layer is read while this one computes.

Steps are counted in layer calls, not indices: every pass of one checkpoint calls its layers in the same
order, so the k-th call of any pass is the layer the first pass to get there recorded, whatever the order
(a shared block called between the layers of another list is only read again).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import torch
from torch import nn


class Lockstep:
    def __init__(self, reader, layers: dict[str, list[str]], device: str, window: int = 2, on_layer=None):
        self.reader, self.layers, self.device, self.window = reader, layers, device, window
        self.on_layer = on_layer  # called once per layer call of the leading pass (a progress bar)
        self.order = list(layers)
        self._cond = threading.Condition()
        self._loads = ThreadPoolExecutor(1, thread_name_prefix="archread-layer")
        self._loaded: dict[str, Future] = {}
        self._converted: dict[tuple[str, torch.dtype], dict[str, torch.Tensor]] = {}
        self._convert_lock = threading.Lock()
        self._steps: dict = {}
        self._finished: set[str] = set()
        self._inside: dict[str, int] = {}
        self._sequence: list[str] = []
        self._ahead: set[str] = set()  # read ahead of any pass's call

    def attach(self, model: nn.Module, pass_id, dtype: torch.dtype) -> None:
        """Hooks on the model's layers (its modules named in `layers`), for the pass of that name."""
        self._steps[pass_id] = 0
        for key in self.layers:
            layer = model.get_submodule(key)
            slots = [(mod, leaf, f"{key}.{name}.{leaf}" if name else f"{key}.{leaf}")
                     for name, mod in layer.named_modules() for leaf, p in mod._parameters.items() if p is not None]
            empty = [(mod, leaf, mod._parameters[leaf]) for mod, leaf, _ in slots]

            def before(_mod, _args, key=key, slots=slots):
                tensors = self._enter(pass_id, key, dtype)
                for mod, leaf, name in slots:
                    mod._parameters[leaf] = nn.Parameter(tensors[name], requires_grad=False)

            def after(_mod, _args, _out, key=key, empty=empty):
                for mod, leaf, placeholder in empty:
                    mod._parameters[leaf] = placeholder
                self._leave(key)

            layer.register_forward_pre_hook(before)
            layer.register_forward_hook(after)

    def run(self, jobs: dict[str, callable]) -> dict[str, object]:
        """Each job in its own thread; their results, or the first pass's error raised here."""
        results, errors = {}, {}

        def work(pass_id, job):
            try:
                results[pass_id] = job()
            except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
                errors[pass_id] = exc
            finally:
                self._finish(pass_id)

        threads = [threading.Thread(target=work, args=item, name=f"archread-pass-{i}") for i, item in enumerate(jobs.items())]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._loads.shutdown(wait=True)
        for pass_id in jobs:
            if pass_id in errors:
                raise errors[pass_id]
        return results

    # -- the gate ------------------------------------------------------------------------------------

    def _enter(self, pass_id, key: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        with self._cond:
            step = self._steps[pass_id]
            self._cond.wait_for(lambda: step < self._slowest() + self.window)
            self._steps[pass_id] = step + 1
            if step == len(self._sequence):
                self._sequence.append(key)
                if self.on_layer is not None:
                    self.on_layer(key)
            self._inside[key] = self._inside.get(key, 0) + 1
            self._ahead.discard(key)
            loaded = self._load(key)
            following = self.order.index(key) + 1
            if following < len(self.order) and self.order[following] not in self._loaded:
                self._ahead.add(self.order[following])
                self._load(self.order[following])
        raw = loaded.result()
        with self._convert_lock:
            if (key, dtype) not in self._converted:
                self._converted[(key, dtype)] = {n: t.to(dtype) if t.is_floating_point() else t for n, t in raw.items()}
            return self._converted[(key, dtype)]

    def _leave(self, key: str) -> None:
        with self._cond:
            self._inside[key] -= 1
            self._free()
            self._cond.notify_all()

    def _finish(self, pass_id) -> None:
        with self._cond:
            self._finished.add(pass_id)
            self._free()
            self._cond.notify_all()

    def _slowest(self) -> int:
        running = [s for p, s in self._steps.items() if p not in self._finished]
        return min(running) if running else 0

    def _load(self, key: str) -> Future:
        if key not in self._loaded:
            self._loaded[key] = self._loads.submit(self.reader.read, self.layers[key], self.device)
        return self._loaded[key]

    def _free(self) -> None:
        """Drop the layers no running pass is inside or will call next (by the sequence recorded so far)."""
        wanted = {k for k, n in self._inside.items() if n} | self._ahead
        for pass_id, step in self._steps.items():
            if pass_id not in self._finished:
                wanted.update(self._sequence[step:])
        for key in [k for k in self._loaded if k not in wanted]:
            del self._loaded[key]
            with self._convert_lock:
                for slot in [s for s in self._converted if s[0] == key]:
                    del self._converted[slot]

