"""A quiz shows the lesson's words as the lesson's markdown does, and nothing as markup."""

from spreadlab import quiz


def test_inline_code_is_shown_as_code_and_markup_as_text():
    box = quiz("What does `connectionMade` find set? <b>not bold</b>", ["a", "b"], 0, "`self.transport`, set by makeConnection")
    question = box.children[0].value
    assert "<code>connectionMade</code>" in question and "&lt;b&gt;not bold&lt;/b&gt;" in question
    box.choice.index = 1
    box.check()
    assert "✘" in box.feedback.value
    box.choice.index = 0
    box.check()
    assert box.feedback.value.endswith("<code>self.transport</code>, set by makeConnection")
