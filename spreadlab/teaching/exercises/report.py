"""What a checker answers: which checks passed, and a hint for each that did not.

A checker runs a learner's Protocol or Factory through scenarios in a
`MemoryRoom` and fills a `Report`, one `step` per behaviour::

    report = Report("An echo that shouts")
    with report.step("a line comes back in upper case",
                     hint="dataReceived gets bytes: bytes have .upper() too"):
        client = room.connect()
        client.send(b"hello\\n")
        expect(client.received == b"HELLO\\n", f"the client received {client.received!r}")
    return report

A step fails when an `expect` inside it fails, or when the learner's code
raises; the hint points at the concept, never at the answer.  A report is
truthy when everything passed, prints as text, and shows as a coloured list
in a notebook.  Everything from the learner's code is escaped before it
reaches HTML.
"""

from __future__ import annotations

import contextlib
import html
import traceback
from dataclasses import dataclass


class Miss(Exception):
    """A check did not hold; its message says what was seen instead."""


def expect(condition: object, seen: str = "") -> None:
    """Fail the current step unless *condition* is true; *seen* describes
    what happened instead, in the learner's terms."""
    if not condition:
        raise Miss(seen)


@dataclass
class Result:
    """One checked behaviour: what it is, whether it held, what was seen,
    and a hint when it did not."""

    what: str
    passed: bool
    seen: str = ""
    hint: str = ""


class Report:
    """The answer of one checker (see the module docstring)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.results: list[Result] = []

    @contextlib.contextmanager
    def step(self, what: str, hint: str):
        """Check one behaviour; record it as passed unless the block fails."""
        try:
            yield
        except Miss as miss:
            self.results.append(Result(what, False, str(miss), hint))
        except Exception as error:  # the learner's code raised
            where = traceback.extract_tb(error.__traceback__)[-1]
            seen = f"your code raised {type(error).__name__}: {error} (line {where.lineno}, in {where.name})"
            self.results.append(Result(what, False, seen, hint))
        else:
            self.results.append(Result(what, True))

    # --- reading ---------------------------------------------------------

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        good = sum(r.passed for r in self.results)
        if self.passed:
            return f"{self.title}: all {good} checks passed. Well done!"
        return f"{self.title}: {good} of {len(self.results)} checks passed."

    def __str__(self) -> str:
        lines = [self.summary()]
        for r in self.results:
            lines.append(f"  {'✔' if r.passed else '✘'} {r.what}")
            if not r.passed:
                if r.seen:
                    lines.append(f"      seen: {r.seen}")
                lines.append(f"      hint: {r.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Report {self.summary()!r}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#b35900"
        items = []
        for r in self.results:
            mark = "✔" if r.passed else "✘"
            item = f"<li><b style='color:{'#1a7f37' if r.passed else '#cf222e'}'>{mark}</b> {html.escape(r.what)}"
            if not r.passed:
                if r.seen:
                    item += f"<br><span style='color:#555'>seen: <code>{html.escape(r.seen)}</code></span>"
                item += f"<br><span><b>Hint:</b> {html.escape(r.hint)}</span>"
            items.append(item + "</li>")
        return (
            f"<div class='spreadlab-report' style='border-left:4px solid {colour};padding:4px 10px'>"
            f"<b style='color:{colour}'>{html.escape(self.summary())}</b>"
            f"<ul style='list-style:none;padding-left:4px;margin:4px 0'>{''.join(items)}</ul></div>"
        )
