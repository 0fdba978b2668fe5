"""Checkers for lesson 02, Protocol.

- `check_shouting_echo`: an echo that answers in upper case, whatever the
  chunking and whatever the text (the seed's Chinese welcome included); it
  may answer each chunk as it arrives or each line when it is complete;
- `check_line_counter`: a protocol that answers each complete line with how
  many lines its connection has sent so far, however the stream is cut.

Each is a table of cases (see `cases`) run on the learner's class in memory
rooms; an answer may end its lines with ``\\n`` or ``\\r\\n``.
"""

from __future__ import annotations

from ...i18n import N_, _
from .cases import Case, lines_in, protocol_factory, run_cases, show
from .report import Report, expect

__all__ = ["check_shouting_echo", "check_line_counter"]

#: The lessons' UTF-8 example: the start of the seed's welcome.
CHINESE = "欢迎来到Spread Site"


def _answered(client, sent: bytes, wanted: list[bytes], how: str = N_("whole"), hint: str = "") -> None:
    """*client* sent *sent* (cut as *how* says, an `N_` text) and must have
    received the lines *wanted*, with nothing after them."""
    got = client.received
    expect(lines_in(got) == wanted and got.endswith(b"\n"),
           _("the client sent {sent} ({how}) and received {got}").format(sent=show(sent), how=_(how), got=show(got)),
           hint)


def _counted(client, sent: bytes, wanted: list[bytes], how: str = N_("whole"), hint: str = "") -> None:
    """As `_answered`, for a new connection's count; answers that go on from
    other connections' lines (2, 3, 4 for its first three) are told so."""
    got = lines_in(client.received)
    numbers = [int(line) for line in got if line.isdigit()]
    carried = (len(numbers) == len(got) == len(wanted) and numbers[0] > 1
               and numbers == list(range(numbers[0], numbers[0] + len(numbers))))
    expect(not carried,
           _("the client, newly connected, sent {sent} ({how}) and received {got}").format(
               sent=show(sent), how=_(how), got=show(client.received)),
           _("A new connection's count starts at 1: this one went on from other connections' lines. Keep the count "
             "on self (start it in connectionMade), not on the class or in a global, which every connection shares."))
    _answered(client, sent, wanted, how, hint)


def _send_interleaved(one, two, first: bytes, second: bytes) -> None:
    """Two clients each send a line in two halves, their halves interleaved."""
    one.send(first[:3])
    two.send(second[:3])
    one.send(first[3:])
    two.send(second[3:])


# --- the shouting echo -------------------------------------------------------------


def _shouts_a_line(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hello\n")
    got = client.received
    expect(got != b"hello\n", _("the client sent b'hello\\n' and got it back unchanged"),
           _("To begin: the starting point writes back what it receives as it is; upper-case it before writing. "
             "dataReceived is given bytes, and bytes have many of str's text methods."))
    expect(got, _("the client sent b'hello\\n' and received nothing"),
           _("Nothing came back: write the answer with self.transport.write. With LineReceiver, set "
             "delimiter = b'\\n': its default, b'\\r\\n', never ends a line sent by nc."))
    sent_hello = _("the client sent b'hello\\n' and received {got}").format(got=show(got))
    expect(not got.upper().startswith(b"B'"), sent_hello,
           _("str() of bytes is how Python prints them, b'...' with its quotes and escapes, not the text they hold: "
             "stay in bytes (data.upper()), or decode('utf-8') a whole line and encode it back."))
    expect(got.upper() == got or got.rstrip(b"\r\n").upper() != b"HELLO", sent_hello,
           _("Upper case means every letter: .title() and .capitalize() change only first letters."))
    expect(not got.startswith(b"HELLO\n") or got == b"HELLO\n", sent_hello,
           _("Write back what arrived, upper-cased, and nothing more: it already holds its line end, and one more "
             "gives the client an empty line."))
    _answered(client, b"hello\n", [b"HELLO"],
              hint="" if got.endswith(b"\n") else _("Write back everything that arrived, the line end b'\\n' included."))


def _shouts_bytes_one_at_a_time(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"spread site\n", chunks="bytes")
    _answered(client, b"spread site\n", [b"SPREAD SITE"], how=N_("one byte at a time"))


def _shouts_merged_lines(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"one\n", b"two\n")
    _answered(client, b"one\ntwo\n", [b"ONE", b"TWO"], how=N_("in one chunk"))


def _shouts_chinese_cut_in_two(trial) -> None:
    (client,) = trial.clients(1)
    sent = (CHINESE + "\n").encode("utf-8")
    client.send(sent, chunks="split-utf8")
    _answered(client, sent, [CHINESE.upper().encode("utf-8")], how=N_("in two chunks, cut inside 欢"))


def _shouts_to_each_its_own(trial) -> None:
    one, two = trial.clients(2)
    _send_interleaved(one, two, b"hello\n", b"world\n")
    expect(lines_in(one.received) == [b"HELLO"] and lines_in(two.received) == [b"WORLD"],
           _("client 1 sent b'hello\\n' and client 2 b'world\\n', each in two halves, interleaved; client 1 "
             "received {one}, client 2 received {two}").format(one=show(one.received), two=show(two.received)))


SHOUTING_ECHO = [
    Case(N_("hello comes back as HELLO"),
         N_("dataReceived is given bytes, and transport.write takes bytes: change the letters without leaving bytes."),
         _shouts_a_line, first=True),
    Case(N_("a line sent one byte at a time comes back whole, in upper case"),
         N_("TCP is a stream: a line can reach dataReceived in any number of pieces. Answer each piece as it "
            "arrives, or collect the pieces until the line end; never assume one call is one line."),
         _shouts_bytes_one_at_a_time),
    Case(N_("two lines in one chunk both come back"),
         N_("TCP is a stream: one dataReceived call can carry several lines. Answer everything that arrived."),
         _shouts_merged_lines),
    Case(N_("Chinese text cut inside a character comes back whole"),
         N_("A UTF-8 character is 1 to 4 bytes and a chunk may end inside one, so decoding a chunk on its own "
            "breaks it (an error, or a character lost). Stay in bytes (bytes.upper changes only a-z), or decode "
            "only whole lines."),
         _shouts_chinese_cut_in_two),
    Case(N_("two clients at once: each hears its own line, even when their pieces interleave"),
         N_("Twisted builds one Protocol instance per connection: keep anything you collect on self (set it "
            "in connectionMade), not on the class or in a global, and answer through self.transport only."),
         _shouts_to_each_its_own),
]


def check_shouting_echo(protocol_class) -> Report:
    """Check a Protocol that writes back what it receives, upper-cased
    (each chunk as it arrives, or each line when complete)."""
    title = _("{name}: an echo that shouts").format(name=getattr(protocol_class, "__name__", "ShoutingEcho"))
    return run_cases(title, SHOUTING_ECHO, protocol_class, protocol_factory(protocol_class),
                     "check_shouting_echo(ShoutingEcho)")


# --- the line counter ------------------------------------------------------------------


def _counts_one_line(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hello\n")
    expect(client.received != b"1", _("the client sent b'hello\\n' and received b'1', with no line end"),
           _("End each answer with a line end, b'%d\\n' % n: without it the numbers run together (1, 2, 3 arrive "
             "as b'123') and the client's terminal shows no line."))
    if not client.received:
        (telnet,) = trial.clients(1)
        telnet.send(b"hello\r\n")
        expect(not telnet.received,
               _("the client sent b'hello\\n' and received nothing (a line ending in b'\\r\\n' was answered)"),
               _("nc ends a line with b'\\n' alone; only telnet sends b'\\r\\n'. Count the b'\\n' bytes: every line "
                 "ends with one, whichever client sent it. (With LineReceiver, set delimiter = b'\\n'.)"))
    expect(client.received, _("the client sent b'hello\\n' and received nothing"),
           _("To begin: in dataReceived, count the line ends (b'\\n') that arrived and write the count so far, "
             "as bytes (b'%d\\n' % n), once per line. With LineReceiver, set delimiter = b'\\n'."))
    _counted(client, b"hello\n", [b"1"])


def _counts_merged_lines(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"a\n", b"b\n", b"c\n")
    got = lines_in(client.received)
    hint = _("TCP is a stream: one dataReceived call can carry several lines: answer each line in it, not each call.")
    _counted(client, b"a\nb\nc\n", [b"1", b"2", b"3"], how=N_("in one chunk"), hint=hint if len(got) == 1 else "")


def _counts_a_line_in_pieces(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"hel")
    expect(not client.received,
           _("the client sent b'hel' (no line end yet) and received {got}").format(got=show(client.received)),
           _("A piece of a line is not a line: answer only when a line end arrives."))
    client.send(b"lo\n", chunks="bytes")
    _counted(client, b"hel", [b"1"], how=N_("then b'lo\\n' one byte at a time"))


def _counts_a_chinese_line_cut_in_two(trial) -> None:
    (client,) = trial.clients(1)
    sent = (CHINESE + "\n").encode("utf-8")
    client.send(sent, chunks="split-utf8")
    _counted(client, sent, [b"1"], how=N_("in two chunks, cut inside 欢"))


def _counts_telnet_lines(trial) -> None:
    (client,) = trial.clients(1)
    client.send(b"one\r\ntwo\r\n", chunks=[4])
    _counted(client, b"one\r\ntwo\r\n", [b"1", b"2"], how=N_("cut between a \\r and its \\n"))


def _counts_per_connection(trial) -> None:
    one, two = trial.clients(2)
    one.send(b"a\n")  # one line per chunk: this check is about connections, not the stream
    one.send(b"b\n")
    two.send(b"c\n")
    one.send(b"d\n")
    expect(lines_in(two.received) == [b"1"] and lines_in(one.received) == [b"1", b"2", b"3"],
           _("client 1 sent two lines, client 2 one, client 1 one more: client 1 received {one}, "
             "client 2 received {two}").format(one=show(one.received), two=show(two.received)))


LINE_COUNTER = [
    Case(N_("one line sent whole is answered 1"),
         N_("dataReceived is given bytes: look for b'\\n' (bytes never equal str in Python 3), and write bytes."),
         _counts_one_line, first=True),
    Case(N_("three lines in one chunk are answered 1, 2, 3"),
         N_("TCP is a stream, not messages: one dataReceived call can carry several lines. Count the line ends, "
            "not the calls, and answer each line."),
         _counts_merged_lines),
    Case(N_("a line cut into pieces is counted once, when its end arrives"),
         N_("One line can arrive in many dataReceived calls: a call is not a line. Only a line end ends a line."),
         _counts_a_line_in_pieces),
    Case(N_("a Chinese line cut inside a character is counted"),
         N_("A chunk may end anywhere, even inside a UTF-8 character: the piece before the cut is not a line. "
            "Count the b'\\n' bytes themselves (a line end is one byte, never cut), not chunks or their pieces."),
         _counts_a_chinese_line_cut_in_two),
    Case(N_("telnet's \\r\\n is one line end, even cut between \\r and \\n"),
         N_("Only b'\\n' ends a line here; telnet's b'\\r\\n' is one line end. (splitlines() also splits at a "
            "lone b'\\r', so it counts a line too many when a chunk ends between the two.)"),
         _counts_telnet_lines),
    Case(N_("each connection counts its own lines"),
         N_("Twisted builds one Protocol instance per connection: keep the count on self (start it in "
            "connectionMade), not on the class or in a global, which every connection shares."),
         _counts_per_connection),
]


def check_line_counter(protocol_class) -> Report:
    """Check a Protocol that answers each complete line (ending in b"\\n")
    with the number of lines its connection has sent so far: b"1\\n",
    b"2\\n", ... (b"1\\r\\n" is as good)."""
    title = _("{name}: a line counter").format(name=getattr(protocol_class, "__name__", "LineCounter"))
    return run_cases(title, LINE_COUNTER, protocol_class, protocol_factory(protocol_class),
                     "check_line_counter(LineCounter)")
