"""Every lesson runs top to bottom in a fresh kernel and is stored clean.

Executes each notebook in notebooks/ with nbclient in a new kernel (the one
this test runs in, so the installed spreadlab is used), as a learner's "Restart
Kernel and Run All Cells" would, and fails on any error output.  Also checks
that notebooks are committed without outputs or execution counts, that
every cell carries slide metadata for the instructor's decks, and the course's
shape: each lesson states an honest duration of 20 to 35 minutes (checked
against a written-down pacing rule), the welcome page and the README list all
13 lessons with those minutes, every lesson's "Next" link leads to the next
lesson, and instructor notes sit at the end, folded, out of a learner's way.
All of it for both editions: English (notebooks/) and Simplified Chinese
(notebooks/zh-CN/), whose lessons state the same minutes as the English ones
(the pacing rule is measured on the English text).
"""

from __future__ import annotations

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

ENGLISH = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
CHINESE = sorted((pathlib.Path(__file__).parent.parent / "notebooks" / "zh-CN").glob("*.ipynb"))
NOTEBOOKS = ENGLISH + CHINESE
IDS = [p.stem if p in ENGLISH else f"zh-CN/{p.stem}" for p in NOTEBOOKS]
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}

pytestmark = pytest.mark.kernel


def test_there_are_lessons():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb file"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_cell_has_slide_metadata(path):
    nb = nbformat.read(path, as_version=4)
    missing = [
        i for i, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("slideshow", {}).get("slide_type") not in SLIDE_TYPES
    ]
    assert not missing, f"{path.name}: cells {missing} lack metadata.slideshow.slide_type"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_top_to_bottom_in_a_fresh_kernel(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first error output
    errors = [
        (i, out.get("ename"), out.get("evalue"))
        for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
        for out in cell.outputs if out.output_type == "error"
    ]
    assert not errors, f"{path.name}: error outputs {errors}"


# ------------------------------------------------- the course's shape and pace

import re

ROOT = pathlib.Path(__file__).parent.parent
#: The course's lessons, by number (the welcome page and the README list them all).
COURSE = {
    0: "00-welcome", 1: "01-start-here", 2: "02-protocol", 3: "03-factory", 4: "04-transport",
    5: "05-flow-control", 6: "06-spread-site", 7: "07-going-live", 8: "08-server-program",
    9: "09-reactor-rules", 10: "10-clients", 11: "11-testing-your-protocols", 12: "12-broadcast-board",
}
LESSONS = [p for p in ENGLISH if p.stem != "00-welcome"]
CHINESE_LESSONS = [p for p in CHINESE if p.stem != "00-welcome"]


class Edition:
    """The fixed forms each edition writes, that these tests read."""

    def __init__(self, folder, readme, duration, notes):
        self.folder, self.readme, self.duration, self.notes = folder, readme, duration, notes


EDITIONS = {
    "en": Edition(ROOT / "notebooks", ROOT / "README.md",
                  r"about (\d+) minutes(?:,? \(?and (\d+) more)?", "## Instructor notes"),
    "zh-CN": Edition(ROOT / "notebooks" / "zh-CN", ROOT / "README.zh-CN.md",
                     r"约\s*(\d+)\s*分钟(?:[^。\n]*?另需\s*(\d+)\s*分钟)?", "## 讲师备注"),
}


def edition_of(path) -> Edition:
    return EDITIONS["zh-CN" if path.parent.name == "zh-CN" else "en"]


def _slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "")


def stated_minutes(path) -> tuple[int, int]:
    """What a lesson's first cell promises: (minutes, optional minutes)."""
    first = nbformat.read(path, as_version=4).cells[0].source
    match = re.search(edition_of(path).duration, first)
    assert match, f"{path.name}: the first cell states no duration ('about N minutes' / '约 N 分钟')"
    return int(match.group(1)), int(match.group(2) or 0)


def estimated_minutes(path) -> tuple[float, float]:
    """A self-learner's time, as measured by doing the lessons and written down
    as a rule: reading at 120 words a minute (folded solutions and instructor
    notes not counted), half a minute per code cell plus six seconds per line
    (read it, run it, look at what it shows), eight minutes per exercise (a
    checker run on the learner's own code) and one per quiz.  Sections under a
    "Going further" heading are counted apart, as optional, up to the summary."""
    minutes = {"core": 0.0, "optional": 0.0}
    part = "core"
    for cell in nbformat.read(path, as_version=4).cells:
        if _slide_type(cell) == "notes":
            continue
        source = cell.source
        if cell.cell_type == "markdown":
            heading = re.search(r"^#{1,3}\s+(.*)$", source, re.M)
            if heading and "going further" in heading.group(1).lower():
                part = "optional"
            elif heading and heading.group(1).strip().lower() == "summary":
                part = "core"
            minutes[part] += len(re.sub(r"<details>.*?</details>", "", source, flags=re.S).split()) / 120
        elif "quiz(" in source:
            minutes[part] += 1
        elif re.fullmatch(r"check_\w+\([^\n]*\)", source.strip()) or (
                "exercise" in cell.metadata.get("tags", []) and re.search(r"^check_\w+\(", source, re.M)):
            minutes[part] += 8
        else:
            minutes[part] += 0.5 + 0.1 * len(source.splitlines())
    return minutes["core"], minutes["optional"]


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_each_lesson_states_an_honest_duration_of_20_to_35_minutes(path):
    stated, optional = stated_minutes(path)
    core, extra = estimated_minutes(path)
    assert 20 <= stated <= 35, f"{path.name}: {stated} minutes; a lesson takes 20 to 35"
    assert abs(stated - core) <= max(4, 0.2 * core), f"{path.name}: states {stated} minutes, takes about {core:.0f}"
    assert abs(optional - extra) <= 4, f"{path.name}: states {optional} optional minutes, takes about {extra:.0f}"


@pytest.mark.parametrize("path", CHINESE_LESSONS, ids=[f"zh-CN/{p.stem}" for p in CHINESE_LESSONS])
def test_a_chinese_lesson_states_the_minutes_of_the_english_one(path):
    english = ROOT / "notebooks" / path.name
    assert stated_minutes(path) == stated_minutes(english), \
        f"zh-CN/{path.name} states {stated_minutes(path)} minutes, the English lesson {stated_minutes(english)}"


def _table_minutes(text: str, number_and_name) -> dict[int, str]:
    rows = {}
    for number, name in number_and_name:
        row = next((line for line in text.splitlines() if line.startswith(f"| {number} |") and name in line), None)
        assert row is not None, f"lesson {number} ({name}) is missing from the table"
        rows[number] = row.rstrip(" |").rsplit("|", 1)[1].strip()
    return rows


@pytest.mark.parametrize("tag", EDITIONS)
def test_the_welcome_and_the_readme_list_every_lesson_with_its_stated_duration(tag):
    edition = EDITIONS[tag]
    welcome = "\n".join(c.source for c in nbformat.read(edition.folder / "00-welcome.ipynb", as_version=4).cells)
    readme = edition.readme.read_text(encoding="utf-8")
    in_welcome = _table_minutes(welcome, [(n, f"({name}.ipynb)") for n, name in COURSE.items() if n])
    in_readme = _table_minutes(readme, [(n, f"`{name}`") for n, name in COURSE.items()])
    for number, name in COURSE.items():
        path = edition.folder / f"{name}.ipynb"
        if number == 0:
            continue
        assert in_welcome[number] == in_readme[number], f"{name}: {in_welcome[number]} in 00-welcome, {in_readme[number]} in README"
        if path.exists():  # lessons written on other branches are checked once they are here
            stated, optional = stated_minutes(path)
            expected = f"{stated} (+{optional})" if optional else f"{stated}"
            assert in_welcome[number] == expected, f"{name} states {expected} minutes; the tables say {in_welcome[number]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_next_points_to_the_next_lesson(path):
    number = int(path.stem[:2])
    following = COURSE.get(number + 1, "00-welcome")
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    links = re.findall(r"\]\(([\w-]+\.ipynb)\)", text)
    assert f"{following}.ipynb" in links, f"{path.name} does not link to {following}.ipynb"
    for link in links:  # and no link is stale
        assert link[:-6] in COURSE.values(), f"{path.name} links to {link}, which is no lesson"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_instructor_notes_are_folded_away_at_the_end(path):
    """A self-learner meets no instructor note: they sit at the end, under one
    "Instructor notes" heading that JupyterLab opens folded
    (``jp-MarkdownHeadingCollapsed``), and are the decks' speaker notes."""
    cells = nbformat.read(path, as_version=4).cells
    notes = [i for i, c in enumerate(cells) if _slide_type(c) == "notes"]
    if not notes:
        return
    heading = cells[notes[0]]
    assert heading.source.startswith(edition_of(path).notes), f"{path.name}: cell {notes[0]} is a note outside the notes section"
    assert heading.metadata.get("jp-MarkdownHeadingCollapsed") is True, f"{path.name}: the notes heading is not folded"
    assert notes == list(range(notes[0], len(cells))), f"{path.name}: lesson cells after the instructor notes"
    for i in notes[1:]:
        assert not re.search(r"^#{1,2}\s", cells[i].source, re.M), f"{path.name}: cell {i} has a heading that would unfold the notes"
