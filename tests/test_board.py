"""The broadcast board and its timeline, without a browser.

Widgets are built without a kernel: their Python side is what the page
shows.  Where drawing happens on the kernel's asyncio loop, a real loop is
run here; elsewhere ``flush()`` does what that loop would do.
"""

from __future__ import annotations

import asyncio
import html
import html.parser
import random
import socket
import threading
import time

import pytest
from twisted.internet.protocol import Factory
from twisted.protocols.wire import Echo

from spreadlab import MemoryRoom, SpreadFactory, Trace
from spreadlab import trace as T
from spreadlab.views.board import Board, Redrawer, show
from spreadlab.views.scene import SENT_COLOUR, WRITE_COLOUR, Scene
from spreadlab.views.timeline import SNAPSHOT_EVERY, Timeline

HOSTILE = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", '"><svg onload=alert(1)>']
# Tags the board itself writes; anything else would have come from a client.
OUR_TAGS = {"div", "span", "b", "code", "svg", "line", "polygon", "text", "table", "tr", "td"}


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))


def markup(text: str) -> list[tuple[str, list]]:
    """The tags (and their attributes) a browser would build from *text*."""
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def assert_inert(text: str) -> None:
    """Only the board's own tags, no event-handler attributes, no script."""
    for tag, attrs in markup(text):
        assert tag in OUR_TAGS, f"unexpected <{tag}> in the board's HTML"
        for name, _ in attrs:
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"


def card_html(board_or_picture, name: str) -> str:
    """The HTML of one client's card."""
    page = board_or_picture if isinstance(board_or_picture, str) else board_or_picture.picture.value
    start = page.index(f'data-client="{name}"')
    ends = [page.find(marker, start + 1) for marker in ('data-client="', "<svg")]
    return page[start : min(end for end in ends if end > 0)]


@pytest.fixture
def room():
    with MemoryRoom(SpreadFactory()) as room:
        yield room


def choices(board: Board) -> list[str]:
    """The clients the board offers to send from."""
    return [value for _, value in board.sender.options]


def click_send(board: Board, name: str, line: str, chunking="whole") -> None:
    board.sender.value = name
    board.line.value = line
    board.chunking.value = chunking
    board.send_button.click()
    board.flush()


# --- controls drive the room -------------------------------------------------


def test_a_line_sent_from_the_board_reaches_the_other_clients(room):
    board = Board(room)
    for _ in range(3):
        board.add_button.click()
    board.flush()
    assert choices(board) == ["client 1", "client 2", "client 3"]

    click_send(board, "client 1", "hello")

    assert room.client("client 2").lines[-1] == "client 1: hello"
    assert board.transcript("client 2")[-1] == "client 1: hello"
    assert board.transcript("client 3")[-1] == "client 1: hello"
    assert "client 1: hello" not in board.transcript("client 1")
    assert "client 1: hello" in card_html(board, "client 2")
    assert board.line.value == ""  # ready for the next line
    assert "numProtocols = <b>3</b>" in board.picture.value


def test_the_last_spread_is_drawn_from_sender_through_server_to_receivers(room):
    for _ in range(4):
        room.connect()
    board = Board(room)
    click_send(board, "client 2", "hi all")
    page = board.picture.value
    assert page.count(f'<line x1="') == 4  # one from the sender, three to receivers
    assert page.count(f'stroke="{SENT_COLOUR}"') == 1
    assert page.count(f'stroke="{WRITE_COLOUR}"') == 3
    assert "↑sent" in card_html(board, "client 2")
    assert all("↓got it" in card_html(board, f"client {n}") for n in (1, 3, 4))


def test_the_chunking_choice_cuts_what_dataReceived_gets(room):
    board = Board(room)
    board.add_button.click()
    board.add_button.click()
    click_send(board, "client 1", "abc", chunking="bytes")
    chunks = [e.data for e in room.trace.of(T.RECEIVED, "client 1")]
    assert chunks == [b"a", b"b", b"c", b"\n"]
    assert room.client("client 2").lines[-1] == "client 1: abc"


def test_close_and_abort_disconnect_the_chosen_client(room):
    board = Board(room)
    for _ in range(3):
        board.add_button.click()
    board.sender.value = "client 1"
    board.close_button.click()
    board.sender.value = "client 2"
    board.abort_button.click()
    board.flush()
    assert [c.name for c in room.clients] == ["client 3"]
    assert "ConnectionDone" in room.trace.of(T.LOST, "client 1")[0].detail
    assert "ConnectionLost" in room.trace.of(T.LOST, "client 2")[0].detail
    assert choices(board) == ["client 3"]
    assert "closed" in card_html(board, "client 1")
    assert "numProtocols = <b>1</b>" in board.picture.value


def test_an_error_in_the_protocol_shows_on_the_board():
    class Broken(Echo):
        def dataReceived(self, data):
            raise ZeroDivisionError("learner's bug")

    with MemoryRoom(Factory.forProtocol(Broken)) as room:
        board = Board(room)
        board.add_button.click()
        click_send(board, "client 1", "boom")
        assert "ZeroDivisionError" in board.status.value
        assert "learner&#x27;s bug" in board.status.value


# --- safety --------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_lines_are_shown_as_text_and_nothing_can_run(room, hostile):
    board = Board(room)
    board.add_button.click()
    board.add_button.click()
    click_send(board, "client 1", hostile)  # typed on the board
    room.client("client 2").send(hostile + "\n", chunks="bytes")  # sent by a client
    board.flush()
    for text in (board.picture.value, board.status.value):
        assert_inert(text)
    assert f"client 1: {hostile}" in board.transcript("client 2")
    assert html.escape(f"client 2: {hostile}", quote=True) in card_html(board, "client 1")
    timeline = Timeline(room.trace)
    for position in range(len(room.trace) + 1):
        timeline.seek(position)
        timeline.flush()
        assert_inert(timeline.picture.value)
        assert_inert(timeline.event_list.value)


def test_undecodable_bytes_are_shown_not_dropped():
    with MemoryRoom(Factory.forProtocol(Echo)) as room:  # echoes bytes as they are
        client = room.connect()
        client.send(b"caf\xc3\xa9 \xff\xfe bell\x07\n")
        board = Board(room)
        assert board.transcript("client 1") == ["café \\xff\\xfe bell\\x07"]
        card = card_html(board, "client 1")
        assert "café " in card
        for shown in ("\\xff", "\\xfe", "\\x07"):
            assert shown in card


# --- bounds and coalescing under a burst ----------------------------------------------


def test_a_10000_message_burst_costs_a_few_redraws_and_bounded_cards(room):
    loop = asyncio.new_event_loop()

    async def scenario():
        alice, bob, carol = room.connect(), room.connect(), room.connect()
        board = Board(room, lines=8)  # made in the loop, as in a kernel's cell
        for i in range(10_000):
            alice.send(f"message {i}\n")
        assert board.redraws == 1  # only the first drawing so far: the cell is still running
        await asyncio.sleep(0.3)  # the kernel goes idle; the loop draws
        return board

    try:
        board = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert board.redraws <= 3
    assert board.transcript("client 2")[-1] == "client 1: message 9999"
    assert len(board.transcript("client 2")) == 8
    assert board.hidden("client 2") == 10_000 + 1 - 8  # the welcome, then 10,000 lines
    assert "9,993 earlier lines hidden" in card_html(board, "client 2")
    assert len(board.picture.value) < 20_000  # what the browser gets stays small
    # ... and Python still has everything.
    assert len(room.trace.of(T.RECEIVED, "client 1")) == 10_000
    assert room.trace.written_to("client 2").count(b"\n") == 10_001


def test_events_recorded_in_another_thread_are_drawn_in_the_loops_thread_at_a_bounded_rate(room):
    """As a live room does: the reactor thread records, the kernel draws."""
    room.connect()
    loop = asyncio.new_event_loop()
    drawn_in: set[str] = set()

    async def scenario():
        board = Board(room, rate=20.0)
        original = board._draw

        def draw():
            drawn_in.add(threading.current_thread().name)
            original()

        board._redrawer._draw = draw

        def reactor():
            for i in range(10_000):
                room.trace.record(T.WRITE, "client 1", b"line %d\n" % i)

        started = loop.time()
        worker = threading.Thread(target=reactor, name="reactor")
        worker.start()
        while worker.is_alive():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        return board, loop.time() - started

    try:
        board, elapsed = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert drawn_in == {threading.current_thread().name}
    assert board.redraws <= 2 + elapsed * 20
    assert board.transcript("client 1")[-1] == "line 9999"
    assert board.scene.applied == len(room.trace)


def test_a_redrawer_without_a_loop_draws_only_when_flushed():
    drawings = []
    redrawer = Redrawer(lambda: drawings.append(1))
    for _ in range(10_000):
        redrawer.request()
    assert drawings == []
    assert redrawer.flush() is True
    assert redrawer.flush() is False
    assert len(drawings) == redrawer.redraws == 1


def test_cards_beyond_the_maximum_are_counted_not_drawn(room):
    for _ in range(12):
        room.connect()
    board = Board(room, max_cards=8)
    assert board.picture.value.count('data-client="') == 8
    assert "4 more clients not drawn" in board.picture.value
    assert "and 6 more" in board.picture.value  # the server's list of connected clients


# --- the timeline ----------------------------------------------------------------


@pytest.fixture
def scenario():
    """A recorded scenario: two clients, one line each way, one leaves."""
    with MemoryRoom(SpreadFactory()) as room:
        alice, bob = room.connect(), room.connect()
        alice.send("hi bob\n")
        bob.send("hi alice\n", chunks=[3])
        bob.close()
        return room.trace


def highlighted(timeline: Timeline) -> str:
    """The time of the event list's highlighted row ("start" before any)."""
    for tag, attrs in markup(timeline.event_list.value):
        attrs = dict(attrs)
        if tag == "tr" and "background:#fff3bf" in attrs.get("style", ""):
            return attrs.get("data-time", "start")
    raise AssertionError("no row highlighted")


def test_the_timeline_steps_back_and_scrubs_through_the_trace(scenario):
    timeline = Timeline(scenario)
    assert (timeline.position, timeline.current, timeline.slider.max) == (0, None, len(scenario))
    assert highlighted(timeline) == "start"

    timeline.step()
    timeline.flush()
    assert timeline.current == scenario[0]
    assert highlighted(timeline) == "1"

    timeline.step(3)
    timeline.back()
    timeline.flush()
    assert timeline.position == 3
    assert timeline.current == scenario[2]
    assert highlighted(timeline) == "3"

    timeline.slider.value = 9  # scrubbed in the page
    timeline.flush()
    assert timeline.current == scenario[8]
    assert highlighted(timeline) == "9"
    assert f"event 9 of {len(scenario)}" in timeline.picture.value

    timeline.step_button.click()
    timeline.back_button.click()
    timeline.back_button.click()
    assert timeline.position == 8
    timeline.play.value = 5  # the Play widget ticking in the page
    assert timeline.position == 5
    timeline.seek(10_000)
    assert timeline.position == len(scenario)
    timeline.seek(-3)
    assert timeline.position == 0


def test_the_timeline_picture_shows_the_room_as_it_was(scenario):
    timeline = Timeline(scenario)
    first_spread = next(e for e in scenario if e.kind == T.WRITE and e.data.startswith(b"client 1: "))
    timeline.seek(first_spread.time - 1).flush()
    assert "hi bob" not in card_html(timeline.picture.value, "client 2")
    timeline.step().flush()
    assert "client 1: hi bob" in card_html(timeline.picture.value, "client 2")
    assert f'stroke="{SENT_COLOUR}"' in timeline.picture.value
    timeline.seek(len(scenario)).flush()
    assert "closed" in card_html(timeline.picture.value, "client 2")
    timeline.back(len(scenario)).flush()
    assert 'data-client="' not in timeline.picture.value


def test_any_position_shows_the_same_picture_as_folding_from_the_start(room):
    for _ in range(3):
        room.connect()
    for i in range(400):
        room.clients[i % 3].send(f"line {i}\n")
    events = room.trace.events
    assert len(events) > 3 * SNAPSHOT_EVERY
    timeline = Timeline(room.trace)
    rng = random.Random(4)
    for position in [rng.randrange(len(events) + 1) for _ in range(25)] + [0, len(events)]:
        timeline.seek(position).flush()
        fresh = Scene(keep=8)
        fresh.extend(events[:position])
        shown = timeline._replay.scene
        assert shown.applied == position
        assert {n: (list(c.lines), c.hidden, c.state) for n, c in shown.cards.items()} == {
            n: (list(c.lines), c.hidden, c.state) for n, c in fresh.cards.items()
        }


def test_the_timeline_follows_a_running_room(room):
    room.connect()
    timeline = Timeline(room)  # a room: starts at "now"
    assert timeline.position == len(room.trace)
    room.connect()
    room.clients[0].send("later\n")
    timeline.flush()
    assert timeline.slider.max == timeline.play.max == len(room.trace)
    timeline.flush()
    assert timeline.position == len(room.trace)
    assert "client 1: later" in card_html(timeline.picture.value, "client 2")

    timeline.back(2)
    room.clients[0].send("even later\n")
    timeline.flush()
    assert timeline.slider.max == len(room.trace)
    assert timeline.position == len(room.trace) - 4  # looking back: it stays there


def test_show_makes_a_board_for_a_room_and_a_timeline_for_a_trace(room):
    assert isinstance(show(room), Board)
    assert isinstance(show(room.trace), Timeline)
    assert isinstance(show(Trace()), Timeline)


# --- a live room: real TCP, events from the reactor thread ----------------------------


async def until(predicate, timeout: float = 20.0) -> None:
    """Let the loop run (the kernel idle) until *predicate* holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the board did not show it in time"
        await asyncio.sleep(0.02)


def shows(board: Board, name: str, line: str) -> bool:
    card = board.scene.cards.get(name)
    return card is not None and line in board.transcript(name)


def test_a_board_on_a_live_room_follows_a_terminal_client_and_drives_the_room():
    from spreadlab.rooms.live import LiveRoom

    loop = asyncio.new_event_loop()
    drawn_in: set[str] = set()

    async def scenario():
        with LiveRoom(SpreadFactory()) as room:
            board = Board(room)  # made in the loop, as in a kernel's cell
            draw = board._redrawer._draw
            board._redrawer._draw = lambda: (drawn_in.add(threading.current_thread().name), draw())
            room.connect()
            with socket.create_connection(("127.0.0.1", room.port), timeout=10) as terminal:
                for hostile in HOSTILE:
                    terminal.sendall(hostile.encode() + b"\n")
                await until(lambda: shows(board, "client 1", f"client 2: {HOSTILE[-1]}"))
                assert_inert(board.picture.value)
                assert f"nc 127.0.0.1 {room.port}" in board.picture.value
                assert dict((v, label) for label, v in board.sender.options)["client 2"] == "client 2 (terminal)"
                assert "(terminal)" in card_html(board, "client 2")

                # the board's controls go through the room's API into the reactor thread
                board.sender.value = "client 1"
                board.line.value = "hello, terminal"
                board.send_button.click()
                terminal.settimeout(10)
                arrived = b""
                while b"client 1: hello, terminal\r\n" not in arrived:
                    arrived += terminal.recv(4096)

                # a burst from outside: coalesced redraws, bounded card
                redraws, started = board.redraws, time.monotonic()
                terminal.sendall(b"".join(b"burst %d\n" % i for i in range(10_000)))
                await until(lambda: shows(board, "client 1", "client 2: burst 9999"))
                elapsed = time.monotonic() - started
                assert board.redraws - redraws <= 2 + elapsed * 10
                assert board.hidden("client 1") > 9_990
                assert len(board.picture.value) < 20_000

                board.sender.value = "client 2"
                board.close_button.click()  # the server closes the terminal's connection
                terminal.settimeout(10)
                while terminal.recv(65536):
                    pass
                await until(lambda: board.scene.cards["client 2"].state == "closed")
                assert "numProtocols = <b>1</b>" in board.picture.value
            return room

    try:
        room = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert drawn_in == {threading.current_thread().name}
    assert len(room.trace.of(T.WRITE, "client 1")) >= 10_000  # Python keeps it all


def test_closing_a_board_stops_it_listening_and_closes_its_widgets(room):
    board = Board(room)
    button = board.send_button
    board.close()
    room.connect()
    assert not board._redrawer.pending  # no longer told about events
    assert button.comm is None and board.picture.comm is None


def test_a_huge_chunk_is_drawn_cut_short():
    from spreadlab.views.scene import bytes_html

    for data in (b"\xff" * 100_000, "你".encode() * 100_000, b"<" * 100_000):
        shown = bytes_html(data, 40)
        assert shown.endswith("…") and len(shown) < 5_000
        assert_inert(shown)


def test_the_sender_list_always_has_a_connected_client_chosen(room):
    room.connect()
    room.connect()
    board = Board(room)
    assert board.sender.value == "client 1"  # ready to send without picking
    board.sender.value = "client 2"
    board.add_button.click()
    board.flush()
    assert board.sender.value == "client 3"  # the one just added
    room.client("client 3").close()
    board.flush()
    assert board.sender.value == "client 1"
    for client in room.clients:
        client.close()
    board.flush()
    assert board.sender.value is None
    board.send_button.click()
    assert board.status.value == "add a client first"


@pytest.mark.kernel
def test_in_a_kernel_each_cell_leaves_the_board_drawn_and_the_notebook_keeps_it():
    """Run by nbclient, as the slides and exported HTML are: the drawing made
    when a cell finishes is part of that cell, so the saved widget state
    shows the board as the cell left it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (
            "from spreadlab import Board, MemoryRoom, SpreadFactory\n"
            "room = MemoryRoom(SpreadFactory())\n"
            "alice, bob = room.connect(), room.connect()\n"
            "board = Board(room)\nboard",
            "for i in range(10_000):\n    alice.send(f'burst {i}\\n')",
            "print(board.redraws)",
        )
    ]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    pictures = [m["state"]["value"] for m in state.values() if "spreadlab-scene" in m["state"].get("value", "")]
    assert len(pictures) == 1
    assert "client 1: burst 9999" in pictures[0]
    assert "9,993 earlier lines hidden" in pictures[0]  # the welcome and 10,000 lines, 8 shown
    assert int(nb.cells[2].outputs[0]["text"]) <= 3  # 10,000 messages, a few drawings


def test_a_snapshot_keeps_the_moment_it_was_taken(room):
    alice, bob = room.connect(), room.connect()
    board = Board(room)
    alice.send("<img src=x onerror=alert(1)>\n")
    still = board.snapshot()  # drawn now, without waiting for the loop
    bob.send("later\n")
    board.flush()
    assert "client 1: &lt;img src=x onerror=alert(1)&gt;" in still._repr_html_()
    assert "later" not in still._repr_html_()
    assert "client 2: later" in card_html(board, "client 1")
    assert_inert(still._repr_html_())


BOARD_CELL = "board = Board(room)\nboard"


@pytest.mark.kernel
@pytest.mark.timeout(120)
def test_a_board_cell_run_again_replaces_its_earlier_board_in_a_kernel():
    """Five runs of one Board cell in a real kernel (with the cell id JupyterLab
    sends): one listener on the trace, and one widget update per line sent, not
    five; a second cell's board is left alone."""
    from test_kernel import Kernel

    def picture_updates(msg_id: str, line: str) -> int:
        return sum(
            1 for m in kernel.messages
            if m["msg_type"] == "comm_msg" and m["parent_header"].get("msg_id") == msg_id
            and m["content"]["data"].get("method") == "update"
            and line in m["content"]["data"].get("state", {}).get("value", "")
        )

    kernel = Kernel()
    try:
        _, reply = kernel.run("from spreadlab import Board, MemoryRoom, SpreadFactory\n"
                              "room = MemoryRoom(SpreadFactory())\nalice, bob = room.connect(), room.connect()")
        assert reply["status"] == "ok", reply
        for _ in range(5):
            _, reply = kernel.run(BOARD_CELL, cell_id="the-board-cell")
            assert reply["status"] == "ok", reply
        sent, _ = kernel.run("alice.send('after five runs\\n')")
        assert picture_updates(sent, "client 1: after five runs") == 1
        listeners, _ = kernel.run("print(len(room.trace._listeners), board.picture.comm is not None)")
        assert kernel.output(listeners).split() == ["1", "True"]

        # another cell's board on the same room stays; both follow the room
        kernel.run("other = Board(room)\nother", cell_id="another-cell")
        kernel.run(BOARD_CELL, cell_id="the-board-cell")
        sent, _ = kernel.run("bob.send('two boards now\\n')")
        assert picture_updates(sent, "client 2: two boards now") == 2
        # one run making two boards keeps both
        kernel.run("first, second = Board(room), Board(room)", cell_id="pair-cell")
        both, _ = kernel.run("print(len(room.trace._listeners), first.picture.comm is not None)")
        assert kernel.output(both).split() == ["4", "True"]
    finally:
        kernel.client.stop_channels()
        kernel.manager.shutdown_kernel(now=True)


def _package_imports() -> dict[str, set[str]]:
    """module -> the spreadlab modules it imports (anywhere in it, functions too)."""
    import ast
    from pathlib import Path

    import spreadlab

    root = Path(spreadlab.__file__).parent

    def name(path: Path) -> str:
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name(p): p for p in root.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + [node.module]) if node.module else ".".join(base)
                names = [target] + [f"{target}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found.update(n for n in names if n in modules and n not in (module, "spreadlab"))
        graph[module] = found
    return graph


def test_no_view_is_in_an_import_cycle():
    """The board uses the timeline, the timeline uses neither the board nor anything
    that leads back to it (they share `spreadlab.views.redraw`)."""
    graph = _package_imports()
    assert "spreadlab.views.timeline" in graph["spreadlab.views.board"]
    for view in (m for m in graph if m.startswith("spreadlab.views.")):
        seen, todo = set(), list(graph[view])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        assert view not in seen, f"{view} imports itself through {sorted(seen)}"
