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

import contextlib
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
    for name in ("jupyter", "jupyter-lab"):
        (bin_dir / name).symlink_to(here / name)
    # A script, not a symlink: a symlinked interpreter outside its venv loses the venv (its
    # prefix becomes the base Python's), and `make lab EDITION=zh-CN` installs with it.
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    stamp = tmp_path / "venv" / ".spreadlab-installed"
    stamp.touch()
    later = (ROOT / "pyproject.toml").stat().st_mtime + 10
    os.utime(stamp, (later, later))
    return tmp_path / "venv"


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


@contextlib.contextmanager
def running_make_lab(venv: Path, tmp_path: Path, *make_args: str):
    """``make lab`` (with *make_args*) on a free loopback port; yields ``(url, token)`` once the
    server answers, then stops make and the server it started, by their process group."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           # the user's own JupyterLab settings: an edition must not write there
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings")}
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token}"
    log = open(tmp_path / "lab.log", "w+b")
    process = subprocess.Popen(
        ["make", "-C", str(ROOT), "lab", f"VENV={venv}", f"LAB_ARGS={args}", *make_args],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"`make lab {' '.join(make_args)}` exited ({process.returncode}) as uid {os.getuid()}:\n"
                            f"{log.read().decode(errors='replace')[-3000:]}")
            assert time.monotonic() < deadline, "`make lab` did not answer within 90 s"
            try:
                _get(f"http://127.0.0.1:{port}/api/status?token={token}")
                break
            except OSError:
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", token
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the server it started, by their group
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _lessons_listed(url: str, token: str) -> set[str]:
    status, body = _get(f"{url}/api/contents?token={token}")
    assert status == 200
    return {item["name"] for item in json.loads(body)["content"]}


def _menu_bar(url: str, token: str, screenshot: str) -> list[str]:
    """The labels of JupyterLab's menu bar, as headless Chromium shows them (a screenshot is saved)."""
    from playwright.sync_api import sync_playwright

    from browser.conftest import CHROMIUM_ARGS, SCREENSHOTS, chromium_executable
    from browser.glyphs import assert_cjk_renders

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}/lab?token={token}", wait_until="domcontentloaded", timeout=120_000)
            labels = page.locator("#jp-menu-panel .lm-MenuBar-itemLabel")
            labels.first.wait_for(state="visible", timeout=120_000)
            page.wait_for_timeout(1000)  # the translation is applied as the shell starts
            texts = [t.strip() for t in labels.all_inner_texts()]
            if any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t):
                assert_cjk_renders(page, "".join(texts), "#jp-menu-panel .lm-MenuBar-itemLabel")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"))
            return texts
        finally:
            browser.close()


def test_make_lab_opens_the_lessons_for_this_user(ready_venv, tmp_path):
    with running_make_lab(ready_venv, tmp_path) as (url, token):
        lessons = _lessons_listed(url, token)
        assert {"01-start-here.ipynb", "11-testing-your-protocols.ipynb"} <= lessons  # the lessons' folder
        status, page = _get(f"{url}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in page


@pytest.mark.browser
def test_make_lab_stays_english(ready_venv, tmp_path):
    with running_make_lab(ready_venv, tmp_path) as (url, token):
        menus = _menu_bar(url, token, "make-lab-en")
    assert menus[:3] == ["File", "Edit", "View"], menus


@pytest.mark.browser
def test_make_lab_chinese_edition_opens_the_chinese_lessons_with_chinese_menus(ready_venv, tmp_path):
    """`make lab EDITION=zh-CN`: the Chinese lessons, JupyterLab's own menus in Chinese (its
    language pack, installed into the venv the first time), the user's settings untouched."""
    with running_make_lab(ready_venv, tmp_path, "EDITION=zh-CN") as (url, token):
        chinese = {p.name for p in (ROOT / "notebooks" / "zh-CN").glob("[0-9]*.ipynb")}
        assert chinese, "notebooks/zh-CN/ holds no lessons"
        assert {n for n in _lessons_listed(url, token) if n.endswith(".ipynb")} == chinese  # its root
        first = sorted(chinese)[0]
        status, body = _get(f"{url}/api/contents/{first}?token={token}")
        code = [c["source"] for c in json.loads(body)["content"]["cells"] if c["cell_type"] == "code"]
        assert 'set_language("zh-CN")' in code[0], code[0]
        menus = _menu_bar(url, token, "make-lab-zh-CN")
    assert menus[:3] == ["文件", "编辑", "查看"], menus
    user_settings = tmp_path / "user-settings"
    assert not user_settings.exists() or not any(user_settings.rglob("*.jupyterlab-settings")), \
        "the Chinese edition wrote into the user's own JupyterLab settings"


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
