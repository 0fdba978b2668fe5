"""What a checker answers: which checks passed, and a hint for each that did not.

A checker runs a learner's Protocol or Factory through scenarios (see
`cases`) and fills a `Report`, one `Result` per behaviour.  A check fails
when an `expect` in its scenario fails, or when the learner's code raises;
the hint points at the concept, never at the answer.  A report is truthy
when everything passed, prints as text, and shows as a coloured list in a
notebook.  Everything from the learner's code is escaped before it reaches
HTML.

The report speaks the learner's language (`spreadlab.set_language`): its own
words are looked up when it is shown, and so are each result's ``what``,
``seen`` and ``hint``, which the checkers' tables keep in English (marked with
``N_``), so a report made before the language was chosen still shows in it.
"""

from __future__ import annotations

import contextlib
import html
import os
from dataclasses import dataclass

import twisted as _twisted
import zope.interface as _zope

from ...i18n import _


class Miss(Exception):
    """A check did not hold; its message says what was seen instead, and
    *hint* (when given) names the misconception that explains it, in place of
    the check's general hint."""

    def __init__(self, seen: str = "", hint: str = "") -> None:
        super().__init__(seen)
        self.hint = hint


def expect(condition: object, seen: str = "", hint: str = "") -> None:
    """Fail the current check unless *condition* is true; *seen* describes
    what happened instead, in the learner's terms; *hint*, when given, is the
    hint for this particular way of failing."""
    if not condition:
        raise Miss(seen, hint)


# Frames from these folders are not the learner's (Twisted, zope, spreadlab).
_SPREADLAB_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_LIBRARY_DIRS = tuple(
    folder + os.sep
    for folder in (os.path.dirname(os.path.abspath(_twisted.__file__)),
                   os.path.dirname(os.path.abspath(_zope.__file__)), _SPREADLAB_DIR)
)


def is_learners(filename: str) -> bool:
    """Whether code in *filename* is the learner's (a notebook cell, a file of
    their own), not Twisted's, zope's or spreadlab's."""
    return not os.path.abspath(filename).startswith(_LIBRARY_DIRS)


def describe_error(error: BaseException, frames=None) -> str:
    """'your code raised TypeError: ... (line 7, in dataReceived)', naming the
    deepest frame that is the learner's (a notebook cell's lines count from
    the cell's top), not Twisted's or spreadlab's; when no frame is the
    learner's, the method it inherits that raised.  *frames* are
    (function, file, line) triples when the traceback is kept elsewhere
    (a Twisted Failure)."""
    if frames is None:
        tb, frames = error.__traceback__, []
        while tb is not None:
            code = tb.tb_frame.f_code
            frames.append((code.co_name, code.co_filename, tb.tb_lineno))
            tb = tb.tb_next
    theirs = [f for f in frames if is_learners(f[1])]
    what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if theirs:
        name, _file, line = theirs[-1]
        return _("your code raised {error} (line {line}, in {function})").format(
            error=what, line=line, function=name)
    if frames:  # raised by a method the learner's class inherits and has not replaced
        # Translators: {function} is a method's name (dataReceived); {error} is Python's exception.
        return _("{error} was raised in {function}, a method your class inherits").format(
            error=what, function=frames[-1][0])
    return _("your code raised {error}").format(error=what)


def shown(text: str) -> str:
    """*text* in the learner's language, if the catalog has it (an English
    text from a checker's table); as it is otherwise (what was already
    translated, or came from the learner).  ``""`` stays ``""``: gettext
    would answer it with the catalog's header."""
    return _(text) if text else ""


@dataclass
class Result:
    """One checked behaviour: what it is, whether it held, what was seen,
    and a hint when it did not."""

    what: str
    passed: bool
    seen: str = ""
    hint: str = ""


class Report:
    """The answer of one checker: its title and one `Result` per check."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.results: list[Result] = []

    @contextlib.contextmanager
    def step(self, what: str, hint: str):
        """Check one behaviour written as a block of code (for a checker that
        is not a table of cases): recorded as passed unless an `expect` in the
        block fails or the learner's code raises in it."""
        try:
            yield
        except Miss as miss:
            self.results.append(Result(what, False, str(miss), miss.hint or hint))
        except Exception as error:
            self.results.append(Result(what, False, describe_error(error), hint))
        else:
            self.results.append(Result(what, True))

    # --- reading ---------------------------------------------------------

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    @property
    def score(self) -> int:
        """How many checks passed."""
        return sum(r.passed for r in self.results)

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        """One line: the title and how many checks passed, in the learner's language."""
        if self.passed:
            return _("{title}: all {count} checks passed. Well done!").format(
                title=shown(self.title), count=self.score)
        return _("{title}: {passed} of {count} checks passed.").format(
            title=shown(self.title), passed=self.score, count=len(self.results))

    def __str__(self) -> str:
        lines = [self.summary()]
        for r in self.results:
            lines.append(f"  {'✔' if r.passed else '✘'} {shown(r.what)}")
            if not r.passed:
                if r.seen:
                    # Translators: what the checker saw instead (a line of a checker's report).
                    lines.append("      " + _("seen: {seen}").format(seen=shown(r.seen)))
                lines.append("      " + _("hint: {hint}").format(hint=shown(r.hint)))
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
            item = f"<li><b style='color:{'#1a7f37' if r.passed else '#cf222e'}'>{mark}</b> {html.escape(shown(r.what))}"
            if not r.passed:
                if r.seen:
                    seen = html.escape(_("seen: {seen}")).format(seen=f"<code>{html.escape(shown(r.seen))}</code>")
                    item += f"<br><span style='color:#555'>{seen}</span>"
                label = html.escape(_("Hint:"))
                item += f"<br><span><b>{label}</b> {html.escape(shown(r.hint))}</span>"
            items.append(item + "</li>")
        return (
            f"<div class='spreadlab-report' style='border-left:4px solid {colour};padding:4px 10px'>"
            f"<b style='color:{colour}'>{html.escape(self.summary())}</b>"
            f"<ul style='list-style:none;padding-left:4px;margin:4px 0'>{''.join(items)}</ul></div>"
        )
