"""The real executable in a real terminal (tmux), as a new user tries it: open nemotron, press n twice,
see the MLP difference, quit."""

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("archread")
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None or not EXE.exists(), reason="needs tmux and the installed script")


def tmux(*args) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def wait_for(session: str, words: str, timeout: float = 30.0, check=None) -> str:
    end = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < end:
        screen = tmux("capture-pane", "-p", "-t", session)
        if (check or (lambda s: words in s))(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{words!r} never appeared; the pane shows:\n{screen}")


def at_prompt(screen: str) -> bool:
    lines = [ln for ln in screen.splitlines() if ln.strip()]
    return bool(lines) and lines[-1].rstrip().endswith(("$", "#")) and "facts differ" not in screen


def test_new_user_opens_nemotron_and_finds_the_mlp_difference():
    session = f"archread-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40")
    try:
        tmux("resize-window", "-t", session, "-x", "140", "-y", "40")  # a detached session may keep 80×24
        tmux("send-keys", "-t", session, f"{EXE} nemotron", "Enter")
        wait_for(session, "facts differ")
        tmux("send-keys", "-t", session, "n")
        time.sleep(0.3)
        tmux("send-keys", "-t", session, "n")
        screen = wait_for(session, "class NemotronMLP")
        assert "class LlamaMLP" in screen and "mlp.gated" in screen
        tmux("send-keys", "-t", session, "q")
        wait_for(session, "the shell prompt", check=at_prompt)  # the app quit cleanly
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
