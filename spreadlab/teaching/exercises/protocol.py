"""Checkers for lesson 02, Protocol.

- `check_shouting_echo`: an echo that answers in upper case, whatever the
  chunking and whatever the text (the seed's Chinese welcome included);
- `check_line_counter`: a protocol that answers each complete line with how
  many lines its connection has sent so far, however the stream is cut.

Each runs the learner's class in a `MemoryRoom` and returns a `Report`; a
checker never raises because of the learner's code.

The small helpers at the bottom are shared with the factory and transport
checkers.
"""

from __future__ import annotations

import contextlib
import os
import traceback

from twisted.internet.protocol import Factory

from ...rooms.memory import MemoryRoom
from ...rooms.trace import show_bytes
from .report import Miss, Report, expect

__all__ = ["check_shouting_echo", "check_line_counter"]

#: The lessons' UTF-8 example: the start of the seed's welcome.
CHINESE = "欢迎来到Spread Site"


def check_shouting_echo(protocol_class) -> Report:
    """Check a Protocol that writes back every byte it receives, upper-cased."""
    report = Report(f"{_name(protocol_class)}: an echo that shouts")
    with report.step(
        "a line comes back in upper case",
        hint="dataReceived is given bytes, and transport.write takes bytes, never str: change the letters "
             "without leaving bytes (bytes have many of str's text methods).",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"hello\n")
        _expect_received(client, b"HELLO\n", sent=b"hello\n")
    with report.step(
        "every chunk is answered, even one byte at a time",
        hint="TCP is a stream: the same bytes may reach dataReceived in any number of calls. "
             "Answer each chunk as it comes; do not wait for a whole message.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"spread site\n", chunks="bytes")
        _expect_received(client, b"SPREAD SITE\n", sent=b"spread site\n", how="one byte at a time")
    with report.step(
        "Chinese text cut inside a character still comes back whole",
        hint="A UTF-8 character is 1 to 4 bytes and a chunk may end inside one, so decoding a chunk on "
             "its own can fail. Stay in bytes: changing the case of bytes touches only a-z and leaves "
             "every other byte alone.",
    ):
        sent = (CHINESE + "\n").encode("utf-8")
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(sent, chunks="split-utf8")
        _expect_received(client, (CHINESE.upper() + "\n").encode("utf-8"), sent=sent,
                         how="in two chunks, cut inside 欢")
    with report.step(
        "each client hears only its own echo",
        hint="Twisted builds one Protocol instance per connection, each with its own self.transport: "
             "answer through that one.",
    ):
        with _learner_code():
            room = _room(protocol_class)
            one, two = room.connect(), room.connect()
            one.send(b"hi\n")
        expect(one.received and two.received == b"",
               f"client 1 sent b'hi\\n'; client 1 received {one.received!r}, client 2 received {two.received!r}")
    return report


def check_line_counter(protocol_class) -> Report:
    """Check a Protocol that answers each complete line (ending in b"\\n")
    with the number of lines its connection has sent so far: b"1\\n",
    b"2\\n", ..."""
    report = Report(f"{_name(protocol_class)}: a line counter")
    with report.step(
        "one line sent whole is counted",
        hint="dataReceived is given bytes: look for b'\\n', not '\\n'. In Python 3 bytes never equal str, "
             "and bytes methods refuse str arguments. What you write must be bytes too.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"hello\n")
        _expect_received(client, b"1\n", sent=b"hello\n")
    with report.step(
        "two lines merged into one chunk are both counted",
        hint="TCP is a stream, not messages: one dataReceived call can carry several lines. "
             "Count every line end in the chunk, not the calls.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"hello\n", b"world\n")
        _expect_received(client, b"1\n2\n", sent=b"hello\nworld\n", how="in one chunk")
    with report.step(
        "a line cut into one-byte chunks is counted once",
        hint="One line can arrive in many dataReceived calls: a call is not a line. Only a line end ends a line.",
    ):
        with _learner_code():
            room, client = _room_with_client(protocol_class)
            client.send(b"hello\n", chunks="bytes")
        _expect_received(client, b"1\n", sent=b"hello\n", how="one byte at a time")
    with report.step(
        "each connection counts its own lines",
        hint="Twisted builds one Protocol instance per connection: keep the count on self "
             "(start it in __init__ or connectionMade), not on the class or in a global.",
    ):
        with _learner_code():
            room = _room(protocol_class)
            one, two = room.connect(), room.connect()
            one.send(b"a\nb\n")
            two.send(b"c\n")
        expect(two.received == b"1\n",
               f"client 1 sent two lines, then client 2 sent one; client 2 received {two.received!r}")
    return report


# --- helpers shared by the lesson checkers -----------------------------------

import twisted as _twisted  # noqa: E402
import zope.interface as _zope  # noqa: E402

import spreadlab as _spreadlab  # noqa: E402

# Frames from these folders are not the learner's (Twisted, zope, spreadlab).
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (_twisted.__file__, _zope.__file__, _spreadlab.__file__)
)


def _name(cls) -> str:
    return getattr(cls, "__name__", repr(cls))


def _room(protocol_class) -> MemoryRoom:
    """A room serving *protocol_class* through Twisted's own factory."""
    return MemoryRoom(Factory.forProtocol(protocol_class))


def _room_with_client(protocol_class):
    room = _room(protocol_class)
    return room, room.connect()


def _show(data: bytes) -> str:
    """bytes as a learner reads them: b'...' for ASCII, and UTF-8 text shown
    as text (b"欢迎\\n") rather than as escapes."""
    if data.isascii():
        return repr(data)
    return 'b"' + show_bytes(data, limit=None).replace('"', '\\"') + '"'


def _expect_received(client, wanted: bytes, *, sent: bytes, how: str = "whole") -> None:
    expect(client.received == wanted,
           f"the client sent {_show(sent)} ({how}) and received {_show(client.received)}, not {_show(wanted)}")


def describe_error(error: BaseException) -> str:
    """'your code raised TypeError: ... (line 7, in dataReceived)', naming the
    deepest frame that is the learner's, not Twisted's or spreadlab's."""
    frames = traceback.extract_tb(error.__traceback__)
    theirs = [f for f in frames if not f.filename.startswith(_LIBRARY_DIRS)]
    where = (theirs or frames or [None])[-1]
    text = f"your code raised {type(error).__name__}: {error}"
    if where is not None:
        text += f" (line {where.lineno}, in {where.name})"
    return text


@contextlib.contextmanager
def _learner_code():
    """Turn an exception from the learner's code into a failed check whose
    'seen' names the learner's own line."""
    try:
        yield
    except Miss:
        raise
    except Exception as error:
        raise Miss(describe_error(error)) from None
