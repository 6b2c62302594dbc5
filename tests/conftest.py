import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
if not torch.cuda.is_available():  # kernels run in Triton's interpreter; it reads this when a kernel is defined
    os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
CACHE = Path(os.environ.get("ARCHREAD_CORPUS", Path.home() / ".cache" / "archread" / "corpus"))


def release_tree(version: str) -> Path:
    """transformers==version's models/ tree, pip-downloaded once into the cache (no code from it is imported)."""
    root = CACHE / version
    marker = root / "transformers" / "models"
    if not marker.is_dir():
        wheel_dir = CACHE / "wheels"
        wheel_dir.mkdir(parents=True, exist_ok=True)
        wheel = wheel_dir / f"transformers-{version}-py3-none-any.whl"
        if not wheel.exists():
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"transformers=={version}",
                            "-d", str(wheel_dir)], check=True)
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root, [n for n in zf.namelist() if n.startswith("transformers/") and n.endswith(".py")])
    return root / "transformers"


def package_tree(requirement: str, wheel_glob: str) -> Path:
    """A pure-Python package's wheel (`ai2-olmo==0.6.0`), pip-downloaded once without its dependencies and its
    .py files unpacked into the cache, as the releases are: read, never imported."""
    root = CACHE / "packages" / requirement.replace("==", "-")
    if not root.is_dir():
        wheel_dir = CACHE / "wheels"
        wheel_dir.mkdir(parents=True, exist_ok=True)
        found = sorted(wheel_dir.glob(wheel_glob))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", requirement, "-d", str(wheel_dir)],
                           check=True)
            found = sorted(wheel_dir.glob(wheel_glob))
        with zipfile.ZipFile(found[-1]) as zf:
            zf.extractall(root.with_suffix(".tmp"), [n for n in zf.namelist() if n.endswith(".py")])
        root.with_suffix(".tmp").rename(root)
    return root


@pytest.fixture(scope="session")
def release():
    return release_tree
