"""A multiple-choice question a learner answers in the notebook.

``quiz(question, options, answer, why)`` shows the question with its options
and a button; choosing an option tells whether it is right and, when it is
not, gives a nudge; once right, it explains why.  The text is the lesson's
(pass it in from the notebook), so a translated edition only changes the
notebook.  Outside a widget-capable front end (exported HTML, slides) the
question still shows as text.
"""

from __future__ import annotations

import html
import re

import ipywidgets as widgets

from ..i18n import _


def _text(prose: str) -> str:
    """*prose* as safe HTML, its `inline code` shown as code, as the lesson's markdown shows it."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(prose))


def quiz(question: str, options: list[str], answer: int, why: str = "",
         nudge: str | None = None) -> widgets.VBox:
    """Show *question* with *options*; *answer* is the index of the right one.

    The feedback's own words (the button, "Right.", the default *nudge*) are in the learner's
    language (`spreadlab.set_language`), looked up when the quiz is drawn.
    """
    if nudge is None:
        nudge = _("Not quite: read the question again, and the part of the lesson just above it.")
    if not 0 <= answer < len(options):
        raise ValueError("answer must be the index of one of the options")
    choice = widgets.RadioButtons(options=list(options), value=None, layout=widgets.Layout(width="auto"))
    button = widgets.Button(description=_("Check"), button_style="primary")
    feedback = widgets.HTML()

    def check(_button=None) -> None:
        if choice.index is None:
            feedback.value = "<i>" + html.escape(_("Pick an answer first.")) + "</i>"
        elif choice.index == answer:
            right = html.escape(_("Right."))
            feedback.value = f"<b style='color:#1a7f37'>✔ {right}</b> {_text(why)}"
        else:
            feedback.value = f"<b style='color:#cf222e'>✘</b> {_text(nudge)}"

    button.on_click(check)
    label = html.escape(_("Quiz:"))
    box = widgets.VBox([widgets.HTML(f"<b>{label}</b> {_text(question)}"), choice, button, feedback])
    box.check = check  # lets tests and scripts press the button
    box.choice = choice
    box.feedback = feedback
    return box
