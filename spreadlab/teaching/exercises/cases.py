"""Checkers as tables of cases, and the trial each case runs in.

A checker is a list of `Case`s: what behaviour is checked, the hint for when
it does not hold, and a scenario, a function that gets a `Trial` and runs
the learner's class in fresh memory rooms, with `expect` on what the clients
received and whether they are still connected (what a user of the server
would see).  `run_cases` runs the table and fills a `Report`:

- a case marked ``first`` is the heart of the exercise; until it holds, the
  cases not so marked are listed as not checked yet, so an unchanged starting
  point scores zero and reads "begin here", never "almost there";
- whatever the learner's code raised, in a room or directly, becomes the
  check's "seen" (naming the learner's own line) with a hint for that kind of
  error when one applies;
- a scenario never makes the checker raise.

A case's ``what`` and ``hint`` (and the hints below) are English, marked with
``N_``: the report translates them when it is shown (`report.shown`).

Lines are compared as a client reads them: ``\\n`` and ``\\r\\n`` both end a
line, so an answer may use either.  Everything here runs in the caller's
thread (the notebook's): memory rooms use no reactor.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Callable

from twisted.internet.protocol import Factory

from ...i18n import N_, _
from ...rooms.memory import MemoryRoom
from ...rooms.trace import show_bytes
from .report import Miss, Report, Result, describe_error

__all__ = ["Case", "Trial", "run_cases", "run_table", "lines_in", "show"]


@dataclass(frozen=True)
class Case:
    """One row of a checker's table."""

    what: str
    hint: str
    scenario: Callable[["Trial"], None]
    first: bool = False


class Trial:
    """Fresh factories of the learner's class in fresh memory rooms, for one
    case; `errors` is what the learner's code raised in any of them."""

    def __init__(self, make_factory: Callable[[], object]) -> None:
        self.make_factory = make_factory
        self.rooms: list[MemoryRoom] = []

    def room(self, factory=None, **options) -> MemoryRoom:
        """A room for *factory* (by default a fresh one of the learner's)."""
        room = MemoryRoom(self.make_factory() if factory is None else factory, raise_errors=False, **options)
        self.rooms.append(room)
        return room

    def clients(self, count: int, room: MemoryRoom | None = None) -> list:
        """*count* clients connected one after the other (to a fresh room
        unless *room* is given)."""
        room = self.room() if room is None else room
        return [room.connect() for _ in range(count)]

    @property
    def errors(self) -> list:
        return [failure for room in self.rooms for failure in room.errors]

    def close(self) -> None:
        """Close every room (as if each client hung up); an error the
        learner's code raises then counts too, as it would on a real server."""
        for room in self.rooms:
            with contextlib.suppress(Exception):
                room.close()


#: Hints for what a learner's code commonly raises: (words of the error, hint).
ERROR_HINTS = [
    (("Data must be bytes",),
     N_("transport.write takes bytes, never str (nor a number): encode text as UTF-8 before writing, "
        "or build bytes directly (b'%d\\n' % n).")),
    (("can't concat str to bytes",),
     N_("bytes and str do not mix: what arrives is bytes, so keep the line, the name and the line end in bytes "
        "(or decode, work in str, and encode once at the end).")),
    (("can only concatenate str (not \"bytes\") to str",),
     N_("sendLine, like transport.write, takes bytes, never str (sendLine adds its bytes delimiter): encode "
        "text before you send it (text.encode('utf-8')).")),
    (("argument should be integer or bytes-like object, not 'str'", "a bytes-like object is required, not 'str'"),
     N_("bytes methods take bytes arguments: look for b'\\n', not '\\n'.")),
    (("can't decode byte", "unexpected end of data"),
     N_("a chunk may end inside a UTF-8 character, so decoding a chunk on its own can fail: stay in bytes, or "
        "decode only whole lines.")),
    (("'NoneType' object has no attribute 'clients'", "'NoneType' object has no attribute 'numProtocols'"),
     N_("self.factory is None: a buildProtocol of your own must give the protocol its factory (p = MySpreader(); "
        "p.factory = self; return p), or leave buildProtocol out and set protocol = MySpreader: Factory's own "
        "buildProtocol does both.")),
    (("has no attribute 'clients'", "has no attribute 'numProtocols'"),
     N_("What the whole server knows lives on the factory: create numProtocols and clients in the factory's "
        "__init__; each protocol adds itself in connectionMade and leaves in connectionLost (self.factory).")),
    (("NotImplementedError",),
     N_("To begin: write lineReceived. LineReceiver calls it with each complete line (bytes, without its line "
        "end), and its own version only raises NotImplementedError.")),
    (("AlreadyCalled", "AlreadyCancelled"),
     N_("a DelayedCall that already ran (or was cancelled) cannot be cancelled or reset: ask .active() first.")),
]


def _error_hint(text: str, default: str) -> str:
    for words, hint in ERROR_HINTS:
        if any(word in text for word in words):
            return hint
    return default


def _describe_failure(failure) -> str:
    frames = [(name, file, line) for name, file, line, *_ in failure.frames]
    return describe_error(failure.value, frames)


def run_case(case: Case, make_factory: Callable[[], object]) -> Result:
    """Run one case's scenario in a fresh `Trial`; the result says what was
    seen and which hint applies."""
    trial = Trial(make_factory)
    seen = hint = ""
    raised = False
    try:
        case.scenario(trial)
    except Miss as miss:
        seen, hint = str(miss), miss.hint
    except Exception as error:  # raised in the checker's own call: the learner's, or a consequence of it
        seen, raised = describe_error(error), True
        hint = _error_hint(f"{type(error).__name__}: {error}", "")
    finally:
        trial.close()
    errors = trial.errors
    if errors:  # what the learner's code raised inside a room comes first: it is the cause
        first = _describe_failure(errors[0])
        seen = first if raised or not seen else _("{error}; then {seen}").format(error=first, seen=_(seen))
        hint = _error_hint(first, "")
    if not seen:
        return Result(case.what, True)
    return Result(case.what, False, seen, hint or case.hint)


def run_cases(title: str, cases: list[Case], given, make_factory: Callable[[], object], call: str) -> Report:
    """Run a checker's table on *given*, the learner's class, making
    factories with *make_factory* (see the module docstring); *call* is how
    the checker is called in the lesson, shown when *given* is not a class."""
    if inspect.isclass(given):
        return run_table(title, cases, make_factory)
    report = Report(title)
    report.results.append(Result(
        N_("the checker was given a class"), False, _("it was given {value}").format(value=repr(given)),
        _("pass the class itself, as you defined it, without calling it: {call}").format(call=call)))
    return report


def run_table(title: str, cases: list[Case], make_factory: Callable[[], object]) -> Report:
    """Run the cases in order; a failed ``first`` case blocks the others."""
    report = Report(title)
    blocked = ""
    for case in cases:
        if blocked and not case.first:
            report.results.append(Result(
                case.what, False, N_("not checked yet: it builds on the check that failed above"),
                # Translators: {check} is the check that failed above, as the report names it.
                _("make '{check}' pass first, then run the checker again").format(check=_(blocked))))
            continue
        result = run_case(case, make_factory)
        report.results.append(result)
        if case.first and not result.passed:
            blocked = blocked or case.what
    return report


def protocol_factory(protocol_class) -> Callable[[], Factory]:
    """How to make a factory for a Protocol class: Twisted's own."""
    return lambda: Factory.forProtocol(protocol_class)


# --- reading what a client received ----------------------------------------------


def lines_in(data: bytes) -> list[bytes]:
    """The complete lines in *data*, each without its line end (``\\n`` or
    ``\\r\\n``: both end a line for a terminal)."""
    return [line[:-1] if line.endswith(b"\r") else line for line in data.split(b"\n")[:-1]]


def show(data: bytes) -> str:
    """bytes as a learner reads them: b'...' for ASCII, and UTF-8 text shown
    as text (b"欢迎\\n") rather than as escapes."""
    if data.isascii():
        return repr(data)
    return 'b"' + show_bytes(data, limit=None).replace('"', '\\"') + '"'


def ended(client) -> str:
    """'still connected' or 'closed', for a 'seen' text (in the learner's language)."""
    return _("still connected") if client.connected else _("closed")
