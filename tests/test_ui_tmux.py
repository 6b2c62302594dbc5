"""The real executable in a real terminal (tmux), as a new user tries it: open nemotron, see its first class
whole, press n until it wraps (every changed component named on the way), quit. A tmux server of the test's
own, started from this process, so the executable sees this environment (PYTHONPATH, the cache)."""

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("archread")
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None or not EXE.exists(), reason="needs tmux and the installed script")


SOCKET = f"archread-test-{uuid.uuid4().hex[:8]}"


def tmux(*args) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=True).stdout


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


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_new_user_opens_nemotron_and_n_visits_every_changed_component(size):
    import json

    out = subprocess.run([str(EXE), "diff", "nemotron", "--format", "json"], capture_output=True, text=True, check=True)
    changed = [c["name"] for c in json.loads(out.stdout)["components"] if c["changed"]]
    session = f"archread-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]))
    try:
        tmux("resize-window", "-t", session, "-x", str(size[0]), "-y", str(size[1]))
        tmux("send-keys", "-t", session, f"{EXE} nemotron", "Enter")
        screen = wait_for(session, "class NemotronLayerNorm1P(nn.LayerNorm):")  # whole, on the first screen
        status = screen.rstrip("\n").splitlines()[-2]
        assert status.startswith(" difference") and not status.rstrip().endswith(("…", "·")), status  # whole parts
        seen = []
        for _ in range(60):
            title = screen.splitlines()[0]
            seen += [name for name in changed if f"· {name} ·" in title and name not in seen]
            tmux("send-keys", "-t", session, "n")
            time.sleep(0.4)
            screen = tmux("capture-pane", "-p", "-t", session)
            if "wrapped" in screen:
                break
        assert "wrapped" in screen and seen == changed, (seen, changed, screen)
        tmux("send-keys", "-t", session, "q")
        wait_for(session, "the shell prompt", check=at_prompt)  # the app quit cleanly
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
