"""Time to first paint of `archread nemotron` and the wall time of `archread diff nemotron`, cold (empty
reduction cache) and warm, each in a fresh process on this machine. Median of 5.

    python benchmarks/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

FIRST_PAINT = """
import asyncio
from archread.parsers import resolve
from archread.parsers.cache import collect, prefetch

sources = resolve("nemotron"), resolve("llama")  # what `archread nemotron` does, in the same order
children = prefetch(*sources)
from archread.ui.app import ArchreadApp
from archread.ui.screens.reader import ReaderScreen

app = ArchreadApp(*collect(children, *sources))

async def main():
    async with app.run_test(size=(120, 36)) as pilot:
        while not isinstance(app.screen, ReaderScreen) or not app.screen.is_mounted:
            await pilot.pause()
        await pilot.pause()  # the first screen is composed and painted

asyncio.run(main())
"""


def wall(argv, env) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(argv, cold: bool) -> float:
    times = []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "ARCHREAD_CACHE": cache}
            if not cold:
                wall(argv, env)  # fill the cache
            times.append(wall(argv, env))
    return statistics.median(times)


def main() -> None:
    paint = [sys.executable, "-c", FIRST_PAINT]
    diff = [sys.executable, "-m", "archread.cli", "diff", "nemotron"]
    for name, argv, target in (("first paint, archread nemotron", paint, (1.0, 0.5)),
                               ("archread diff nemotron", diff, (1.0, 1.0))):
        cold, warm = measure(argv, True), measure(argv, False)
        print(f"{name:<32} cold {cold:.2f} s (target {target[0]} s)   cached {warm:.2f} s (target {target[1]} s)")


if __name__ == "__main__":
    main()
