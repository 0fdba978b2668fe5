"""The learner's language: the catalogs match the source, and the library speaks what a lesson chose.

The catalog check extracts every marked message from spreadlab's source now (Babel) and compares it
with each language's ``.po``: nothing missing, nothing stale, nothing untranslated or fuzzy, the same
``{placeholders}``, and the shipped ``.mo`` is the compiled ``.po``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from spreadlab import i18n
from spreadlab.publish import catalog


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    i18n.set_language("en")


@pytest.mark.parametrize("locale", catalog.TRANSLATED)
def test_every_message_in_the_source_is_translated_and_compiled(locale, request):
    template = catalog.extract()
    problems = catalog.check(locale, template)
    assert not problems, "\n" + problems.report(locale) + "\n(run `make catalog`, then translate)"
    from conftest import report_count
    report_count(request.config, f"catalog messages translated ({locale})", len([m for m in template if m.id]))


def test_the_check_finds_a_message_the_catalog_lacks(tmp_path, monkeypatch):
    """The check above can fail: a message added to the source is reported missing."""
    template = catalog.extract()
    template.add("A message no catalog has yet.", None, [("spreadlab/new.py", 1)])
    problems = catalog.check("zh_CN", template)
    assert problems.missing == ["A message no catalog has yet."]


def test_a_lesson_chooses_its_language_and_the_quiz_answers_in_it():
    from spreadlab import quiz

    assert i18n.set_language("zh-CN") == "zh-CN"
    box = quiz("?", ["a", "b"], 0, "because")
    box.check()
    assert box.feedback.value == "<i>请先选一个答案。</i>"
    i18n.set_language("en")
    box.check()  # the words are looked up when shown, so the same quiz now speaks English
    assert box.feedback.value == "<i>Pick an answer first.</i>"


@pytest.mark.parametrize("tag", ["fr", "zh-TW", ""])
def test_an_unknown_language_is_refused_by_name(tag):
    with pytest.raises(ValueError, match="spreadlab speaks en, zh-CN"):
        i18n.set_language(tag)


@pytest.mark.parametrize("environment, expected", [
    ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
    ({"LANGUAGE": "fr:zh_CN", "LANG": "fr_FR.UTF-8"}, "zh-CN"),
    ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "en"),
    ({}, "en"),
])
def test_without_a_choice_the_environment_decides(environment, expected):
    """A fresh interpreter, as a kernel starts, with only these locale variables set."""
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(environment)
    code = "from spreadlab import i18n; print(i18n.language(), i18n._('Check'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == [expected, "检查" if expected == "zh-CN" else "Check"]
