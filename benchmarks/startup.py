"""Time to first paint of `archread nemotron` (its loading screen), to the reader with both reductions on
screen, and the wall time of `archread diff nemotron`, cold (empty reduction cache) and warm, each in a
fresh process on this machine. Median of 5.

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
import asyncio, os, time
from archread.cli import build_app  # what `archread nemotron` runs, up to app.run()
from archread.ui.screens.loading import LoadingScreen
from archread.ui.screens.reader import ReaderScreen

app = build_app("nemotron", "llama")

async def main():
    async with app.run_test(size=(120, 36)) as pilot:
        while not (app.screen.is_mounted and isinstance(app.screen, {screens})):
            await pilot.pause()
        await pilot.pause()  # composed and painted
        # seconds since the launch (the process then ends as usual, after its reducing children)
        print(time.time() - float(os.environ["ARCHREAD_LAUNCHED"]), flush=True)

asyncio.run(main())
"""
FIRST_PAINT = APP.replace("{screens}", "(LoadingScreen, ReaderScreen)")  # the first screen archread paints
READER = APP.replace("{screens}", "ReaderScreen")  # the reader with both reductions on screen


def wall(argv, env) -> float:
    """Launch to the moment the script reports (the first paint), or to its exit when it reports nothing."""
    start = time.time()
    out = subprocess.run(argv, env={**env, "ARCHREAD_LAUNCHED": repr(start)}, check=True, capture_output=True, text=True)
    end = time.time()
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return end - start


def measure(argv, cold: bool) -> float:
    times = []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "ARCHREAD_CACHE": cache}
            if not cold:
                wall(argv, env)  # fill the cache
            times.append(wall(argv, env))
    return statistics.median(times)


def _goal(target) -> str:
    return f" (target {target} s)" if target else ""


def main() -> None:
    runs = (
        ("first paint, archread nemotron", [sys.executable, "-c", FIRST_PAINT], (1.0, 0.5)),
        ("reader on screen, archread nemotron", [sys.executable, "-c", READER], (None, None)),
        ("archread diff nemotron", [sys.executable, "-m", "archread.cli", "diff", "nemotron"], (1.0, 1.0)),
    )
    for name, argv, target in runs:
        cold, warm = measure(argv, True), measure(argv, False)
        print(f"{name:<36} cold {cold:.2f} s{_goal(target[0])}   cached {warm:.2f} s{_goal(target[1])}")


if __name__ == "__main__":
    main()
