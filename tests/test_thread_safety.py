"""A reduction in a worker thread while another runs in the main thread gives what each gives alone: the passes'
remembered facts, the parse's skipped validation and libcst's replaced methods are no state one thread can
change under another (the reader reduces in worker threads)."""

import sys
import threading

from archread.parsers import resolve
from archread.parsers.pipeline import reduce_source


def _result(reduction):
    return reduction.code, dict(reduction.removed), list(reduction.warnings), reduction.roots


def test_reductions_in_two_threads_give_what_each_gives_alone():
    first, second = resolve("llama"), resolve("gemma2")
    alone = [_result(reduce_source(first)), _result(reduce_source(second))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as the interpreter lets them: the passes interleave
    try:
        for worker_source, main_source, expected in ((first, second, alone), (second, first, alone[::-1])):
            found = []
            worker = threading.Thread(target=lambda s=worker_source: found.append(_result(reduce_source(s))))
            worker.start()
            here = _result(reduce_source(main_source))
            worker.join()
            assert found == [expected[0]] and here == expected[1]
    finally:
        sys.setswitchinterval(interval)
