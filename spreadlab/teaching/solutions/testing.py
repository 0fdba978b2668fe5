"""Solutions for lesson 11 (Testing your protocols): tests that notice every
planted bug of `spreadlab.teaching.exercises.check_your_tests`.

Each test takes the factory class to test, as the checker and the pytest
fixture in the lesson pass it.
"""

from ...rooms.memory import MemoryRoom

__all__ = ["test_no_echo", "test_line_in_pieces", "test_close", "test_count_after_abort", "test_two_servers"]


def test_no_echo(factory_class):
    room = MemoryRoom(factory_class())
    alice, bob = room.connect(), room.connect()
    before = alice.received
    alice.send(b"hello\r\n")
    assert bob.lines[-1] == "client 1: hello"
    assert alice.received == before


def test_line_in_pieces(factory_class):
    room = MemoryRoom(factory_class())
    alice, bob = room.connect(), room.connect()
    alice.send(b"hello\r\n", chunks="bytes")
    assert bob.lines[1:] == ["client 1: hello"]


def test_close(factory_class):
    room = MemoryRoom(factory_class())
    alice, bob = room.connect(), room.connect()
    alice.send(b"close\r\n")
    assert not alice.connected
    assert bob.lines[1:] == []


def test_count_after_abort(factory_class):
    factory = factory_class()
    room = MemoryRoom(factory)
    alice, bob = room.connect(), room.connect()
    bob.abort()
    assert factory.numProtocols == 1


def test_two_servers(factory_class):
    one, two = MemoryRoom(factory_class()), MemoryRoom(factory_class())
    alice, bob = one.connect(), one.connect()
    carol = two.connect()
    alice.send(b"hello\r\n")
    assert len(carol.lines) == 1  # just its welcome
