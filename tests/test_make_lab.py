"""`make lab` opens the lessons, also when the user is root (containers, lab images).

Jupyter stops at start-up as root ("Running as root is not recommended. Use
--allow-root to bypass.") unless told ``--allow-root``.  The test runs the
Makefile's own ``lab`` target with ``--no-browser`` on a free port, as this
machine's user (root here), and asks the server for the lessons; then stops it.
Its ``.venv`` is a folder whose ``bin/`` links to the project's interpreter and
``jupyter`` and whose install stamp is newer than pyproject.toml, so make runs
only the ``lab`` recipe (no installation).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ready_venv(tmp_path):
    """A stand-in for .venv that make takes as installed."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    here = Path(sys.executable).parent
    for name in ("python", "jupyter", "jupyter-lab"):
        (bin_dir / name).symlink_to(here / name)
    stamp = tmp_path / "venv" / ".spreadlab-installed"
    stamp.touch()
    later = (ROOT / "pyproject.toml").stat().st_mtime + 10
    os.utime(stamp, (later, later))
    return tmp_path / "venv"


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_make_lab_opens_the_lessons_for_this_user(ready_venv, tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    log = open(tmp_path / "lab.log", "w+b")
    process = subprocess.Popen(
        ["make", "-C", str(ROOT), "lab", f"VENV={ready_venv}", f"LAB_ARGS={args}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while status is None:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"`make lab` exited ({process.returncode}) as uid {os.getuid()}:\n"
                            f"{log.read().decode(errors='replace')[-3000:]}")
            assert time.monotonic() < deadline, "`make lab` did not answer within 60 s"
            try:
                status, body = _get(f"http://127.0.0.1:{port}/api/contents?token={token}")
            except OSError:
                time.sleep(0.3)
        assert status == 200
        lessons = {item["name"] for item in json.loads(body)["content"]}
        assert {"01-start-here.ipynb", "11-testing-your-protocols.ipynb"} <= lessons  # the lessons' folder
        status, page = _get(f"http://127.0.0.1:{port}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in page
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the server it started, by their group
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_allow_root_is_passed_only_to_root():
    """What make would run, for root and for another user."""
    def dry_run(*prefix):
        return subprocess.run([*prefix, "make", "-n", "-C", str(ROOT), "lab", "VENV=/nonexistent"],
                              capture_output=True, text=True, timeout=30).stdout

    if os.getuid() == 0:
        assert "--allow-root" in dry_run()
        setpriv = shutil.which("setpriv")
        if setpriv:
            as_nobody = dry_run(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups")
            assert "jupyter lab" in as_nobody and "--allow-root" not in as_nobody
    else:
        assert "--allow-root" not in dry_run()
