"""However a stream of lines is cut into chunks, every other client receives
exactly the lines that were sent, behind the sender's prefix, in order."""

from hypothesis import given, settings
from hypothesis import strategies as st

from spreadlab import MemoryRoom, SpreadFactory
from spreadlab.servers.safety import printable_text

line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=40,
).filter(lambda s: s.strip().lower() != "close")


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(line_text, min_size=1, max_size=8),
    sizes=st.lists(st.integers(min_value=1, max_value=12), max_size=40),
    crlf=st.booleans(),
    receivers=st.integers(min_value=1, max_value=4),
)
def test_any_cut_delivers_every_line_in_order(lines, sizes, crlf, receivers):
    room = MemoryRoom(SpreadFactory())
    sender = room.connect()
    others = [room.connect() for _ in range(receivers)]
    end = "\r\n" if crlf else "\n"
    sender.send("".join(line + end for line in lines), chunks=sizes)
    expected = [f"client 1: {printable_text(line)}" for line in lines]
    for other in others:
        assert other.lines[1:] == expected
    assert sender.lines[1:] == []


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=200), sizes=st.lists(st.integers(1, 9), max_size=30))
def test_arbitrary_bytes_never_crash_the_server_nor_reach_others_as_control_codes(payload, sizes):
    room = MemoryRoom(SpreadFactory(max_line=64))
    sender, other = room.connect(), room.connect()
    sender.send(payload + b"\n", chunks=sizes)
    text = other.received.decode("utf-8")  # always valid UTF-8
    body = text.split("\r\n", 1)[1]
    assert not any(ord(ch) < 0x20 and ch not in "\t\r\n" for ch in body)
    assert "\x1b" not in body and not any(0x80 <= ord(ch) < 0xA0 for ch in body)
    assert other.connected
