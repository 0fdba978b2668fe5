"""The checkers as a learner meets them in the lessons.

- each worked solution (in spreadlab.teaching.solutions, and folded away in
  the notebooks) passes its checker;
- each starting point in the notebooks, unchanged, scores zero, and the
  first hint says how to begin;
- a checker never raises, whatever the learner's code does, and says which
  line of the learner's cell raised, in a real kernel too;
- check_your_tests: the solution's tests catch every planted bug.

Right and wrong answers, one by one, are in test_exercises_answers.py.
"""

from __future__ import annotations

import ast
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.basic import LineReceiver

import spreadlab
import spreadlab.teaching.exercises as exercises
from spreadlab import MemoryRoom, SpreadFactory, seed
from spreadlab.teaching.solutions import factory as solved_factory
from spreadlab.teaching.solutions import protocol as solved_protocol
from spreadlab.teaching.solutions import spread as solved_spread
from spreadlab.teaching.solutions import testing as solved_tests
from spreadlab.teaching.solutions import transport as solved_transport

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
CHECK_CALL = re.compile(r"^(check_\w+)\((\w+)\)\s*$", re.M)

SOLUTIONS = {
    "check_shouting_echo": solved_protocol.ShoutingEcho,
    "check_line_counter": solved_protocol.LineCounter,
    "check_counting_factory": solved_factory.CountingFactory,
    "check_refusing_factory": solved_factory.AtMostThree,
    "check_goodbye": solved_transport.Goodbye,
    "check_peer_report": solved_transport.WhoAmI,
    "check_spread_factory": solved_spread.MySpreadFactory,
    "check_nick_command": solved_spread.NickFactory,
    "check_idle_timeout": solved_spread.IdleFactory,
    "check_who_command": solved_spread.WhoFactory,
}


def test_every_checker_is_exported():
    for name in [*SOLUTIONS, "check_your_tests", "MUTANTS"]:
        assert name in exercises.__all__ and hasattr(spreadlab.teaching.exercises, name)


@pytest.mark.parametrize("name", SOLUTIONS)
def test_each_solution_passes_its_checker(name):
    report = getattr(exercises, name)(SOLUTIONS[name])
    assert report.passed, str(report)
    assert "Well done" in report.summary()


def test_the_library_server_passes_the_spread_checker():
    assert exercises.check_spread_factory(SpreadFactory)


# --- the exercises as the notebooks state them ---------------------------------------------


def _namespace() -> dict:
    ns = {name: getattr(spreadlab, name) for name in spreadlab.__all__}
    ns.update(Protocol=Protocol, Factory=Factory, LineReceiver=LineReceiver)
    ns.update({name: getattr(exercises, name) for name in exercises.__all__})
    return ns


def _exercises():
    """(notebook, checker, class name, starter code, solution code or None)
    for each call of one of these checkers, check_x(Name), in the lessons."""
    found = []
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        for index, cell in enumerate(cells):
            match = CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
            if not match or cell.source.strip() != match.group(0).strip() or match.group(1) not in SOLUTIONS:
                continue
            starter = next(c.source for c in reversed(cells[:index]) if c.cell_type == "code")
            folded = next((c.source for c in cells[index + 1:index + 3]
                           if "<summary>Solution</summary>" in c.source), "")
            code = re.findall(r"```python\n(.*?)```", folded, flags=re.S)
            found.append((path.stem, match.group(1), match.group(2), starter, code[0] if code else None))
    return found


EXERCISES = _exercises()


def test_the_lessons_state_every_exercise_with_a_starting_point_and_a_solution():
    checkers = {checker for _nb, checker, *_ in EXERCISES}
    assert checkers >= set(SOLUTIONS), set(SOLUTIONS) - checkers
    assert all(solution for *_, solution in EXERCISES)


# What each starting point builds on: the worked solution of the exercise before it.
BUILDS_ON = {"AtMostThree": {"CountingFactory": solved_factory.CountingFactory, "Counted": solved_factory.Counted},
             "NickFactory": {"MySpreader": solved_spread.MySpreader, "MySpreadFactory": solved_spread.MySpreadFactory}}


@pytest.mark.parametrize("notebook, checker, name, starter, solution", EXERCISES,
                         ids=[f"{nb}: {checker}" for nb, checker, *_ in EXERCISES])
def test_an_unchanged_starting_point_scores_zero_with_a_hint_to_begin(notebook, checker, name, starter, solution):
    ns = _namespace()
    ns.update(BUILDS_ON.get(name, {}))
    exec(compile(starter, f"<{notebook} starting point>", "exec"), ns)
    report = ns[checker](ns[name])
    assert report.score == 0, f"{notebook}: the starting point of {name} scores {report.score}:\n{report}"
    assert report.results[0].hint.startswith("To begin"), str(report)


def _without_classes(source: str, names: set[str]) -> str:
    """*source* without the classes called *names*."""
    tree = ast.parse(source)
    tree.body = [node for node in tree.body if not (isinstance(node, ast.ClassDef) and node.name in names)]
    return ast.unparse(tree)


@pytest.mark.parametrize("notebook, checker, name, starter, solution", EXERCISES,
                         ids=[f"{nb}: {checker}" for nb, checker, *_ in EXERCISES])
def test_the_folded_solution_passes(notebook, checker, name, starter, solution):
    """The solution under the exercise, put in place of the classes it
    defines in the starting point (as a learner would paste it)."""
    ns = _namespace()
    ns.update(BUILDS_ON.get(name, {}))
    exec(compile(solution, f"<{notebook} solution>", "exec"), ns)
    given = {node.name for node in ast.parse(solution).body if isinstance(node, ast.ClassDef)}
    exec(compile(_without_classes(starter, given), f"<{notebook} starting point>", "exec"), ns)
    report = ns[checker](ns[name])
    assert report.passed, f"{notebook}: the folded solution for {name} fails:\n{report}"


def test_the_testing_lessons_folded_tests_catch_every_bug():
    (path,) = [p for p in NOTEBOOKS if p.stem.endswith("testing-your-protocols")]
    cells = nbformat.read(path, as_version=4).cells
    (folded,) = [c.source for c in cells if "<summary>Solution</summary>" in c.source]
    ns = _namespace()
    ns["check_your_tests"] = lambda *tests: ns.setdefault("report", exercises.check_your_tests(*tests))
    exec(re.search(r"```python\n(.*?)```", folded, flags=re.S).group(1), ns)
    assert ns["report"].passed, str(ns["report"])
    assert len(ns["report"].results) == 2 * len(exercises.MUTANTS)


def test_the_testing_lessons_given_test_catches_one_bug_only():
    report = exercises.check_your_tests(solved_tests.test_no_echo)
    caught = [r.what for r in report.results if r.passed and r.what.startswith("a test fails")]
    assert caught == ["a test fails on a server that sends every line back to its sender too"]


# --- a checker never raises, and names the learner's line ---------------------------------------


ALL_CHECKERS = [getattr(exercises, name) for name in SOLUTIONS]


@pytest.mark.parametrize("checker", ALL_CHECKERS, ids=[c.__name__ for c in ALL_CHECKERS])
def test_a_class_that_cannot_be_made_is_reported_not_raised(checker):
    class Broken(Protocol, Factory):
        def __init__(self, *args, **kwargs):
            raise RuntimeError("half-written")

    report = checker(Broken)
    assert report.score == 0
    assert "RuntimeError: half-written" in report.results[0].seen
    assert "(line " in report.results[0].seen and "in __init__" in report.results[0].seen


@pytest.mark.parametrize("checker", ALL_CHECKERS, ids=[c.__name__ for c in ALL_CHECKERS])
def test_an_instance_instead_of_a_class_is_explained(checker):
    report = checker(Protocol())
    assert not report.passed
    assert "pass the class itself" in report.results[0].hint and checker.__name__ in report.results[0].hint


def test_an_error_in_connection_made_is_reported_with_its_line():
    class Greets(Protocol):
        def connectionMade(self):
            self.transport.write("hello")  # str

    report = exercises.check_peer_report(Greets)
    assert "TypeError" in report.results[0].seen and "in connectionMade" in report.results[0].seen
    assert "transport.write takes bytes" in report.results[0].hint


def test_peer_text_is_escaped_in_the_report_html():
    class Markup(Protocol):
        def connectionMade(self):
            self.transport.write(b"<img src=x onerror=alert(1)>\n")

    html = exercises.check_peer_report(Markup)._repr_html_()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_blogs_server_fails_where_the_lesson_says():
    report = exercises.check_spread_factory(seed.SpreadFactory)
    seed.clients.clear()
    failed = {r.what for r in report.failed}
    assert {"a half line is not spread until its end arrives", "two servers do not share their clients",
            "two clients typing at once: each one's line arrives whole",
            "the word close is not spread to the others"} <= failed


def test_idle_timeout_with_another_length():
    class QuickIdle(solved_spread.IdleSpreader):
        idle = 5

    assert exercises.check_idle_timeout(type("Quick", (SpreadFactory,), {"protocol": QuickIdle}), seconds=5)
    assert not exercises.check_idle_timeout(solved_spread.IdleFactory, seconds=5)


def test_each_planted_bug_is_caught_by_some_solution_test():
    tests = [getattr(solved_tests, name) for name in solved_tests.__all__]
    for what, make, _hint in exercises.MUTANTS:
        caught = []
        for test in tests:
            try:
                test(make())
            except AssertionError:
                caught.append(test.__name__)
        assert caught, what


def test_no_tests_is_reported():
    assert not exercises.check_your_tests()
    assert "pass the functions themselves" in exercises.check_your_tests("test_no_echo").results[0].hint


# --- in a real kernel, with the learner's class defined in a cell -----------------------------


@pytest.mark.kernel
def test_in_a_kernel_the_report_names_the_line_of_the_learners_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from twisted.internet.protocol import Protocol\n"
                                  "from spreadlab.teaching.exercises import check_shouting_echo"),
        nbformat.v4.new_code_cell("class ShoutingEcho(Protocol):\n"
                                  "    def dataReceived(self, data):\n"
                                  "        text = data.decode().upper()\n"
                                  "        self.transport.write(text)\n"),
        nbformat.v4.new_code_cell("check_shouting_echo(ShoutingEcho)"),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    shown = nb.cells[2].outputs[0]["data"]
    assert "TypeError" in shown["text/plain"] and "(line 4, in dataReceived)" in shown["text/plain"]
    assert "transport.write takes bytes" in shown["text/html"]
    assert "0 of 5 checks passed" in shown["text/plain"]


# --- checkers written step by step (Report.step), as the client and reactor checkers are -------------


def test_a_step_reports_a_miss_with_its_own_hint_and_the_learners_error_with_its_line():
    from spreadlab.teaching.exercises.report import Report, expect
    from spreadlab.teaching.exercises.spread import _timed

    class Raises(Protocol):
        def dataReceived(self, data):
            raise ValueError("no")

    report = Report("steps")
    with report.step("a silent client is dropped after 30 s", hint="the step's hint"):
        with _timed(solved_spread.IdleFactory) as room:
            client = room.connect()
            room.advance(31)
            expect(not client.connected, "still connected")
    with report.step("a miss with a hint of its own", hint="the step's hint"):
        expect(False, "seen this", "the miss's hint")
    with report.step("the learner's code raises", hint="the step's hint"):
        MemoryRoom(Factory.forProtocol(Raises)).connect().send(b"x")
    assert [r.passed for r in report.results] == [True, False, False]
    assert (report.results[1].seen, report.results[1].hint) == ("seen this", "the miss's hint")
    assert "ValueError: no" in report.results[2].seen and "in dataReceived" in report.results[2].seen
    assert report.results[2].hint == "the step's hint"
