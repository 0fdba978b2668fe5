"""A hostile client cannot run script in the learner's JupyterLab.

A notebook in the lab starts a `spreadlab.rooms.live.LiveRoom` running the Spread
server, connects one client of its own and shows a `spreadlab.views.board.Board` on
the room.  From this test process, a real TCP client then joins the room and
sends lines that would run script if they reached the page as HTML
(``ipywidgets.HTML`` does not sanitise, see ../shared/DESIGN.md).  Each must
show on the board as the literal text it is, and the canary ``window.__pwned``
must stay undefined.  The same is tried through the board's own "send" box, in
the browser.  A screenshot is saved as test-artifacts/screenshots/hostile-live-board.png.
"""

from __future__ import annotations

import socket
import time

import pytest

pytestmark = pytest.mark.browser

HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    "<svg onload=window.__pwned=4>&amp; </div></pre>",
]
TYPED = '<img src=y onerror="window.__pwned=3">'

NOTEBOOK = [
    ("md", "# A live room under attack\n\nA board on a live room; a test client sends hostile lines."),
    "from pathlib import Path\n"
    "from spreadlab import SpreadFactory\n"
    "from spreadlab.rooms.live import LiveRoom\n"
    "from spreadlab.views.board import Board\n"
    "room = LiveRoom(SpreadFactory())\n"
    "watcher = room.connect()\n"
    "Path({port_file!r}).write_text(str(room.port))\n"
    "print('listening on', room.address)",
    "board = Board(room)\nboard",
]


def _canary(page) -> str:
    return page.evaluate("() => typeof window.__pwned === 'undefined' ? 'undefined' : String(window.__pwned)")


def _wait_for_text(page, needles: list[str], timeout: float = 60) -> str:
    """Wait until the notebook's text shows every needle; return that text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.locator(".jp-Notebook").inner_text()
        if all(n in text for n in needles):
            return text
        time.sleep(0.5)
    missing = [n for n in needles if n not in text]
    raise AssertionError(f"not shown as text on the board: {missing!r}\n--- page text ---\n{text[-3000:]}")


@pytest.mark.timeout(900)
def test_hostile_lines_show_as_text_and_never_run(lab, lab_server, notebook_factory, tmp_path):
    port_file = tmp_path / "room-port.txt"
    cells = [c if isinstance(c, tuple) else c.format(port_file=str(port_file)) for c in NOTEBOOK]
    path = lab_server.add_notebook(notebook_factory(*cells), "_harness/hostile_live_board.ipynb")

    with lab.open(path) as nb:
        nb.run_all()
        before = nb.collect()
        assert not before.problems(), before.report()
        page = nb.page
        port = int(port_file.read_text())

        # A real TCP client, from outside the kernel, as a student's `nc` would be.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as attacker:
            for line in HOSTILE:
                attacker.sendall(line.encode() + b"\n")
            attacker.sendall(b"\xff\xfe<b>not bold</b>\n")  # undecodable bytes, then markup
            text = _wait_for_text(page, HOSTILE + ["<b>not bold</b>"])

            # The same through the board's own text box, typed in the browser.
            page.locator(".jp-Notebook .widget-dropdown", has_text="from").locator("select").select_option(
                label="client 1"
            )
            box = page.get_by_placeholder("a line to send")
            box.fill(TYPED)
            page.locator(".jp-Notebook button", has_text="send").first.click()
            text = _wait_for_text(page, [TYPED])
            nb.settle()

            assert _canary(page) == "undefined", "a hostile line ran script in JupyterLab"
            injected = page.evaluate(
                """() => ({
                  imgs: document.querySelectorAll('.jp-Notebook img[src="x"], .jp-Notebook img[src="y"]').length,
                  scripts: [...document.querySelectorAll('.jp-Notebook script')]
                             .filter((s) => s.textContent.includes('__pwned')).length,
                  svgs: document.querySelectorAll('.jp-Notebook svg[onload]').length,
                  bold: [...document.querySelectorAll('.jp-Notebook b')]
                          .filter((b) => b.textContent === 'not bold').length,
                })"""
            )
            assert injected == {"imgs": 0, "scripts": 0, "svgs": 0, "bold": 0}, injected
            after = nb.collect()
            after.screenshot = shot = nb.screenshot("hostile-live-board")

    print(after.report())
    assert not after.problems(), after.report()
    assert "listening on 127.0.0.1:" in text
    assert shot.stat().st_size > 10_000
