"""Each lesson has one title per edition, wherever the edition names it.

A learner meets a lesson's title three times: in the welcome page's table, in the lesson's first
heading ("NN · title" or "NN · title: subtitle"), and in the previous lesson's "next" link
("NN · title"). In each edition the three must read the same, so that a learner who follows the
table or the links recognises the lesson they land on.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import report_count

ROOT = Path(__file__).parent.parent
EDITIONS = {
    "en": (ROOT / "notebooks", ": ", r"\*\*Next[,:] \[(\d\d) · ([^\]]+)\]\((\d\d)-[^)]+\.ipynb\)"),
    "zh-CN": (ROOT / "notebooks" / "zh-CN", "：", r"\*\*下一课：\[(\d\d) · ([^\]]+)\]\((\d\d)-[^)]+\.ipynb\)"),
}
TABLE_ROW = re.compile(r"^\| *(\d+) *\| *\[([^\]]+)\]\((\d\d)-[^)]+\.ipynb\) *\|", re.MULTILINE)


def titles_in(edition: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The titles of the edition's lessons, by number: in the welcome table,
    in each lesson's first heading (before its subtitle), and in the links
    to the next lesson."""
    folder, colon, next_link = EDITIONS[edition]
    table, headings, links = {}, {}, {}
    for path in sorted(folder.glob("*.ipynb")):
        cells = nbformat.read(path, 4).cells
        text = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
        if path.name.startswith("00-"):
            table = {number: title for _, title, number in TABLE_ROW.findall(text)}
        else:
            first = next(cell.source for cell in cells if cell.cell_type == "markdown").splitlines()[0]
            number, _, title = first.removeprefix("# ").partition(" · ")
            headings[number] = title.split(colon)[0]
        for number, title, target in re.findall(next_link, text):
            assert number == target, f"{path.name}: the link to lesson {number} opens {target}"
            links[number] = title
    return table, headings, links


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_table_headings_and_next_links_name_each_lesson_alike(request, edition):
    table, headings, links = titles_in(edition)
    assert len(headings) == 12 and set(table) == set(headings), (table, headings)
    assert set(links) == set(headings), "every lesson is the next one of the lesson before it"
    differ = {number: (table[number], headings[number], links[number]) for number in headings
              if not table[number] == headings[number] == links[number]}
    assert not differ, f"{edition}: (table, heading, link) differ: {differ}"
    report_count(request.config, f"lesson titles agreeing ({edition})", len(headings))
