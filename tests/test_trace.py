"""The trace: order, logical clock, text form, listeners."""

import threading

import pytest

from spreadlab import MemoryRoom, SpreadFactory
from spreadlab import trace as T
from spreadlab.rooms.trace import Trace, show_bytes


def test_logical_clock_counts_events_in_order():
    room = MemoryRoom(SpreadFactory())
    room.connect().send(b"hi\n")
    assert [e.time for e in room.trace] == list(range(1, len(room.trace) + 1))


def test_text_form_is_readable():
    room = MemoryRoom(SpreadFactory())
    a, b = room.connect(), room.connect()
    a.send(b"hi\n")
    text = str(room.trace)
    assert 'client 1   dataReceived   "hi\\n"' in text
    assert 'client 2   write          "client 1: hi\\r\\n"' in text
    assert len(text.splitlines()) == len(room.trace)


def test_show_bytes_never_hides_a_byte():
    assert show_bytes(b"a\x1b[31m\xff\n\\") == "a\\x1b[31m\\xff\\n\\\\"
    assert show_bytes("你".encode()) == "你"
    assert show_bytes(b"x" * 100, limit=10) == "x" * 9 + "…"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        Trace().record("teleported", "client 1")


def test_listeners_hear_each_event_and_can_unsubscribe():
    trace, heard = Trace(), []
    stop = trace.subscribe(heard.append)
    trace.record(T.CONNECT, "client 1")
    stop()
    trace.record(T.MADE, "client 1")
    assert [e.kind for e in heard] == [T.CONNECT]


def test_recording_from_many_threads_keeps_a_gapless_clock():
    trace = Trace()

    def work():
        for _ in range(500):
            trace.record(T.WRITE, "client 1", b"x")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.time for e in trace] == list(range(1, 2001))


def test_filters():
    room = MemoryRoom(SpreadFactory())
    a, b = room.connect(), room.connect()
    a.send(b"one\n", b"two\n")
    assert room.trace.written_to("client 2").endswith(b"client 1: one\r\nclient 1: two\r\n")
    assert room.trace.received_from("client 1") == b"one\ntwo\n"
    assert {e.client for e in room.trace.of(T.WRITE)} == {"client 1", "client 2"}


def test_a_long_trace_shows_its_last_events_in_a_notebook():
    from IPython.lib.pretty import pretty

    trace = Trace()
    for i in range(Trace.SHOWN + 50):
        trace.record(T.WRITE, "client 1", b"%d" % i)
    shown = pretty(trace)
    assert shown.splitlines()[0] == "... 50 earlier events (print(trace) shows them all)"
    assert len(shown.splitlines()) == Trace.SHOWN + 1
    assert shown.splitlines()[-1].endswith(f'"{Trace.SHOWN + 49}"')
    assert len(str(trace).splitlines()) == Trace.SHOWN + 50

