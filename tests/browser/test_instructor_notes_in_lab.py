"""Instructor notes stay out of a self-learner's way in real JupyterLab.

Each lesson keeps its instructor notes at the end, under one "Instructor
notes" heading stored folded (``jp-MarkdownHeadingCollapsed``).  Opened in
JupyterLab 4 in headless Chromium, the heading shows, folded, and the notes
under it do not; one click on its fold button shows them.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

LESSON = "03-factory.ipynb"
A_NOTE = "Users should not call this function themselves"  # from a note of that lesson


@pytest.mark.timeout(300)
def test_instructor_notes_open_folded_and_unfold_on_a_click(lab):
    with lab.open(LESSON) as nb:
        page = nb.page
        heading = page.locator(".jp-MarkdownCell", has=page.locator("h2", has_text="Instructor notes"))
        heading.wait_for(state="visible")
        page.wait_for_timeout(1000)  # let JupyterLab apply the stored fold
        assert "jp-MarkdownHeadingCollapsed" in (heading.get_attribute("class") or "")
        note = page.locator(".jp-MarkdownCell", has_text=A_NOTE)
        assert note.count() == 1
        assert not note.is_visible(), "an instructor note shows although its heading is folded"
        assert page.locator(".jp-MarkdownCell", has_text="Summary").first.is_visible()
        heading.locator(".jp-collapseHeadingButton").dispatch_event("click")  # the fold button shows on hover
        note.wait_for(state="visible")
