"""Time to first paint of `archread nemotron` (its loading screen), to the reader with both reductions on
screen, and the wall time of `archread diff nemotron`, cold (empty reduction cache) and warm, each in a
fresh process on this machine. Median of 5; [cpu] is the process's own CPU seconds to that moment, which
the machine's load moves far less than the wall time.

    python benchmarks/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

APP = """
import asyncio, os, resource, time
from archread.cli import build_app  # what `archread nemotron` runs, up to app.run()
from archread.ui.first_paint import pause_collection

pause_collection()  # as the CLI does before it builds the app
from archread.ui.screens.loading import LoadingScreen
from archread.ui.screens.reader import ReaderScreen

app = build_app("nemotron", "llama")

async def main():
    async with app.run_test(size=(120, 36)) as pilot:
        while not (app.screen.is_mounted and isinstance(app.screen, {screens})):
            await pilot.pause()
        await pilot.pause()  # composed and painted
        # seconds since the launch, and this process's CPU seconds (the process then ends as usual, after its
        # reducing children)
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        print(time.time() - float(os.environ["ARCHREAD_LAUNCHED"]), cpu.ru_utime + cpu.ru_stime, flush=True)

asyncio.run(main())
"""
FIRST_PAINT = APP.replace("{screens}", "(LoadingScreen, ReaderScreen)")  # the first screen archread paints
READER = APP.replace("{screens}", "ReaderScreen")  # the reader with both reductions on screen


def wall(argv, env) -> tuple[float, float | None]:
    """Launch to the moment the script reports (the first paint) and its CPU seconds by then, or the wall time to
    its exit (and no CPU figure) when it reports nothing."""
    start = time.time()
    out = subprocess.run(argv, env={**env, "ARCHREAD_LAUNCHED": repr(start)}, check=True, capture_output=True, text=True)
    end = time.time()
    try:
        seconds, cpu = map(float, out.stdout.strip().splitlines()[-1].split())
        return seconds, cpu
    except (ValueError, IndexError):
        return end - start, None


def measure(argv, cold: bool) -> tuple[float, float | None]:
    times, cpus = [], []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "ARCHREAD_CACHE": cache}
            if not cold:
                wall(argv, env)  # fill the cache
            seconds, cpu = wall(argv, env)
            times.append(seconds)
            cpus.append(cpu)
    return statistics.median(times), (statistics.median(cpus) if None not in cpus else None)


def _goal(target) -> str:
    return f" (target {target} s)" if target else ""


def _cpu(cpu) -> str:
    return f" [cpu {cpu:.2f}]" if cpu is not None else ""


def main() -> None:
    # the machine's state: wall times follow its load; bytecode not written means every run compiles archread
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores; bytecode "
          f"{'not written (PYTHONDONTWRITEBYTECODE)' if os.environ.get('PYTHONDONTWRITEBYTECODE') else 'cached'}")
    runs = (
        ("first paint, archread nemotron", [sys.executable, "-c", FIRST_PAINT], (1.0, 0.5)),
        ("reader on screen, archread nemotron", [sys.executable, "-c", READER], (None, None)),
        ("archread diff nemotron", [sys.executable, "-m", "archread.cli", "diff", "nemotron"], (1.0, 1.0)),
    )
    for name, argv, target in runs:
        (cold, cold_cpu), (warm, warm_cpu) = measure(argv, True), measure(argv, False)
        print(f"{name:<36} cold {cold:.2f} s{_cpu(cold_cpu)}{_goal(target[0])}   "
              f"cached {warm:.2f} s{_cpu(warm_cpu)}{_goal(target[1])}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
