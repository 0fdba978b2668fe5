"""Text that could fool a reader (issue 10, point 6).

Bidirectional controls make a line read backwards or move one user's words
into another's; zero-width characters hide inside names; line and paragraph
separators start what looks like a new message.  What a peer sends with
them is relayed without them, and shown on the board, the timeline and the
sequence diagram as visible escapes (``\\u202e``), never as the characters.
"""

from __future__ import annotations

import socket

import pytest
from twisted.internet.protocol import Factory
from twisted.protocols.wire import Echo

from conftest import report_count
from spreadlab import MemoryRoom, SpreadFactory
from spreadlab.rooms.live import LiveRoom
from spreadlab.rooms.trace import show_bytes
from spreadlab.servers.safety import html_text, printable_line
from spreadlab.views.board import Board
from spreadlab.views.diagram import sequence_svg
from spreadlab.views.timeline import Timeline

BIDI = [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069]
ZERO_WIDTH = [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF]
SEPARATORS = [0x2028, 0x2029]
INVISIBLE = BIDI + ZERO_WIDTH + SEPARATORS
# "pay alice" that reads as something else, a name with a hidden space, and
# a fake second message after a line separator.
FOOLING = "pay \u202eecila\u202c 10 \u2066x\u2069 ad\u200bmin\u2028client 9: trust me\ufeff"


def invisible_in(text: str) -> list[str]:
    return [f"U+{ord(ch):04X}" for ch in text if ord(ch) in INVISIBLE]


@pytest.mark.parametrize("code", INVISIBLE, ids=lambda code: f"U+{code:04X}")
def test_each_invisible_character_is_removed_from_a_relayed_line(code, request):
    line = f"a{chr(code)}b".encode()
    assert printable_line(line) == b"ab"
    report_count(request.config, "invisible characters removed from relayed lines")


@pytest.mark.parametrize("code", INVISIBLE, ids=lambda code: f"U+{code:04X}")
def test_each_invisible_character_is_shown_as_an_escape_in_html(code):
    assert html_text(f"a{chr(code)}b") == f"a\\u{code:04x}b"
    assert html_text(f"a{chr(code)}b".encode()) == f"a\\u{code:04x}b"
    assert show_bytes(f"a{chr(code)}b".encode()) == f"a\\u{code:04x}b"


def test_text_that_is_not_invisible_is_kept():
    kept = "中文 עברית العربية café 👍🏽 tab\there"
    assert printable_line(kept.encode()) == kept.encode()
    assert html_text(kept) == kept


def test_a_terminal_client_receives_the_line_without_them_over_tcp():
    with LiveRoom(SpreadFactory()) as room:
        reader = room.connect()
        with socket.create_connection(("127.0.0.1", room.port), timeout=5) as sender:
            sender.sendall(FOOLING.encode() + b"\r\n")
            lines = reader.wait_for_lines(2)
    assert lines[1] == "client 2: pay ecila 10 x adminclient 9: trust me"
    assert invisible_in(reader.text) == []


def rendered_pages(room) -> dict[str, str]:
    """Every HTML page the views draw of *room*: the board, each step of
    the timeline (picture and event list), the sequence diagram."""
    board = Board(room)
    board.flush()
    pages = {"board": board.picture.value + board.status.value, "diagram": sequence_svg(room.trace)}
    timeline = Timeline(room.trace)
    for position in range(len(room.trace) + 1):
        timeline.seek(position)
        timeline.flush()
        pages[f"timeline {position}"] = timeline.picture.value + timeline.event_list.value
    board.close()
    timeline.close()
    return pages


def test_the_board_timeline_and_diagram_show_them_as_escapes():
    # An echo server sends the bytes back as they came, so the board's
    # transcripts, the trace's data and the diagram's labels all hold them.
    with MemoryRoom(Factory.forProtocol(Echo)) as room:
        client = room.connect()
        client.send(FOOLING.encode() + b"\n")
        pages = rendered_pages(room)
    for name, page in pages.items():
        assert invisible_in(page) == [], name
    assert "\\u202e" in pages["board"]
    assert "\\u202e" in pages["diagram"] and "\\u2028" in pages["diagram"]
    assert any("\\u202e" in page for name, page in pages.items() if name.startswith("timeline"))
