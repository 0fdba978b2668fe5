"""Every checker answers in the lesson's language: a wrong answer run after ``set_language("zh-CN")``
fails at the same check as in English, and the learner reads that check, its hint and what was
seen in Chinese, exactly as the catalog translates the English report; right answers still pass.

The wrong and right answers are the ones the English tests try (tests/test_exercises_answers.py,
test_clients_lesson.py, test_reactor_rules_lesson.py, test_server_program.py). The Chinese
expected here is not written in this file: it is the English report translated through the shipped
catalog (``spreadlab.po``, read by Babel on its own, not through spreadlab.i18n), message by message, the values in a
message's ``{placeholders}`` carried over (and translated too when they are messages themselves).
A check whose text is missing from the catalog, or left untranslated, fails: its text would contain
no Chinese.
"""

from __future__ import annotations

import html
import re
import string
from functools import lru_cache

import pytest
from babel.messages.pofile import read_po
from conftest import report_count

import test_clients_lesson as clients_lesson
import test_exercises_answers as answers
import test_reactor_rules_lesson as reactor_lesson
import test_server_program as program_lesson
from spreadlab import i18n
from spreadlab.teaching.exercises import check_patient, check_server_program, check_visitor

pytestmark = pytest.mark.timeout(240)

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    i18n.set_language("en")


# --- the catalog, read on its own ---------------------------------------------------------------


@lru_cache(maxsize=None)
def _messages() -> dict[str, str]:
    """English -> Chinese for every message of the shipped catalog (both forms of a plural)."""
    with open(i18n.LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po", "rb") as po:
        catalog = read_po(po, locale="zh_CN")
    messages = {}
    for message in catalog:
        if message.id:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            messages.update((english, strings[0]) for english in ids)
    return messages


@lru_cache(maxsize=None)
def _patterns() -> list[tuple[re.Pattern, str]]:
    """(a regex matching the English message with any values in its fields, its translation) for
    every message with placeholders, the most specific first (most literal text)."""
    patterns = []
    for msgid, msgstr in _messages().items():
        if "{" not in msgid:
            continue
        regex, literal, seen = "", 0, set()
        for text, field, _spec, _conversion in string.Formatter().parse(msgid):
            regex += re.escape(text)
            literal += len(text)
            if field is not None:
                regex += f"(?P={field})" if field in seen else f"(?P<{field}>.*?)"
                seen.add(field)
        patterns.append((literal, re.compile(regex, re.DOTALL), msgstr))
    return [(regex, msgstr) for _literal, regex, msgstr in sorted(patterns, key=lambda p: -p[0])]


@lru_cache(maxsize=None)
def translated(text: str) -> str:
    """*text*, an English text a checker showed, as the catalog says it in Chinese: the message
    itself if the catalog has it, else the message whose fields match it, with the values found in
    the fields translated the same way. Where a text can be read as more than one message (a
    message inside a field of another), the reading that leaves the least English wins."""
    readings = [text]
    if _messages().get(text):
        readings.append(_messages()[text])
    for regex, msgstr in _patterns():
        match = regex.fullmatch(text)
        if match:
            values = {name: translated(value) for name, value in match.groupdict().items()}
            readings.append("".join(literal + (values[field] if field is not None else "")
                                    for literal, field, _spec, _conversion in string.Formatter().parse(msgstr)))
    return min(readings, key=lambda reading: len(LATIN.findall(reading)))


def shown(text: str) -> str:
    """*text* as the report shows it in the language chosen now (the report looks up what the
    checkers' tables keep in English when it is shown)."""
    return i18n._(text) if text else ""


def _numbers_as_n(text: str) -> str:
    """Measured numbers (seconds, ports) differ between two runs; everything else may not."""
    return re.sub(r"\d+(\.\d+)?", "N", text)


# --- one wrong answer, in English and in Chinese ------------------------------------------------


def _run_in(language: str, check):
    i18n.set_language(language)
    answers._forget_shared_state()
    try:
        return check()
    finally:
        answers._forget_shared_state()


def _assert_same_check_in_chinese(check, step: str, label: str, compare_seen: bool = True) -> None:
    """*check* (a call of a checker on a wrong answer) fails *step* in English; run in zh-CN, the
    same check fails, and its text, hint and what was seen are the catalog's Chinese."""
    english = _run_in("en", check)
    index = next((i for i, r in enumerate(english.results) if r.what == step and not r.passed), None)
    assert index is not None, f"{label}: {step!r} did not fail in English:\n{english}"
    wanted = english.results[index]

    chinese = _run_in("zh-CN", check)
    assert [r.passed for r in chinese.results] == [r.passed for r in english.results], \
        f"{label}: not the same checks failed in Chinese:\n{chinese}"
    got = chinese.results[index]
    for part in ("what", "hint") + (("seen",) if compare_seen else ()):
        english_text, chinese_text = getattr(wanted, part), shown(getattr(got, part))
        expected = translated(english_text)
        if part == "seen":
            english_text, chinese_text, expected = map(_numbers_as_n, (english_text, chinese_text, expected))
        assert chinese_text == expected, f"{label}: the {part} in Chinese\n  {chinese_text!r}\nis not the " \
                                         f"catalog's\n  {expected!r}\n(English: {english_text!r})"
        if english_text:
            assert CJK.search(chinese_text), f"{label}: the {part} is not translated: {chinese_text!r}"
        if part != "seen":  # as the learner reads it: the report printed, and drawn in the notebook
            assert expected in str(chinese) and html.escape(expected) in chinese._repr_html_(), str(chinese)
    assert CJK.search(shown(chinese.title)) or chinese.title in ("/nick", "/who"), chinese.title  # commands stay


WRONG = [(name, label, answer, step) for name, label, answer, step, _words in answers.WRONG_CASES]


@pytest.mark.parametrize("name, label, answer, step", WRONG, ids=[f"{n}: {lbl}" for n, lbl, *_ in WRONG])
def test_a_wrong_answer_fails_at_the_same_check_with_the_chinese_hint(request, name, label, answer, step):
    _assert_same_check_in_chinese(lambda: answers._verdict(name, answer), step, label)
    report_count(request.config, "wrong answers rejected in Chinese")


def test_every_checker_is_tried_in_chinese():
    """The cases above and below cover every checker the lessons call."""
    from spreadlab.teaching import exercises

    checkers = {name for name in exercises.__all__ if name.startswith("check_")}
    tried = {name for name, *_ in WRONG} | {"check_visitor", "check_patient", "check_server_program"}
    assert checkers == tried


# The live checkers run real TCP and processes (seconds each, twice here): one or two answers each.
VISITOR_WRONG = [(answer, step) for answer, step, _named in clients_lesson.WRONG
                 if answer in (clients_lesson.ChunkIsALine, clients_lesson.SpeaksFirst)]


@pytest.mark.parametrize("answer, step", VISITOR_WRONG, ids=[a.__name__ for a, _ in VISITOR_WRONG])
def test_a_wrong_visitor_fails_at_the_same_check_with_the_chinese_hint(request, answer, step):
    _assert_same_check_in_chinese(lambda: check_visitor(answer), step, answer.__name__)
    report_count(request.config, "wrong answers rejected in Chinese")


PATIENT_WRONG = [wrong for wrong in reactor_lesson.WRONG if wrong[0] == "time.sleep"]


@pytest.mark.parametrize("name, line_received, step, _named", PATIENT_WRONG, ids=[w[0] for w in PATIENT_WRONG])
def test_a_wrong_slow_command_fails_at_the_same_check_with_the_chinese_hint(request, name, line_received, step,
                                                                            _named):
    factory = reactor_lesson.factory_for(line_received)
    _assert_same_check_in_chinese(lambda: check_patient(factory), step, name)
    report_count(request.config, "wrong answers rejected in Chinese")


PROGRAM_WRONG = ["a Python error"]


@pytest.mark.parametrize("name", PROGRAM_WRONG)
def test_a_wrong_server_program_fails_at_the_same_check_with_the_chinese_hint(request, name, tmp_path):
    main, step, _named = program_lesson.WRONG[name]
    script = tmp_path / "spread_rooms.py"
    script.write_text(program_lesson.HEAD + main + program_lesson.TAIL, encoding="utf-8")
    # What a failed program printed (its traceback, its temporary paths) is its own, in no language.
    _assert_same_check_in_chinese(lambda: check_server_program(script), step, name, compare_seen=False)
    report_count(request.config, "wrong answers rejected in Chinese")


# --- right answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("name, label, answer", answers.RIGHT_CASES, ids=[f"{n}: {lbl}" for n, lbl, _ in answers.RIGHT_CASES])
def test_a_right_answer_still_passes_in_chinese(request, name, label, answer):
    i18n.set_language("zh-CN")
    report = answers._verdict(name, answer)
    assert report.passed, f"{label}:\n{report}"
    assert CJK.search(shown(report.title)) or report.title in ("/nick", "/who"), report.title
    report_count(request.config, "right answers accepted in Chinese")


def test_the_solutions_of_the_live_checkers_still_pass_in_chinese():
    i18n.set_language("zh-CN")
    for report in (check_visitor(clients_lesson.Visitor), check_patient(reactor_lesson.PatientFactory),
                   check_server_program(program_lesson.SOLVED)):
        assert report.passed, str(report)


# --- the translator above can fail -------------------------------------------------------------


def test_the_expected_chinese_comes_from_the_catalog_and_an_english_text_is_not_it():
    assert translated("hello comes back as HELLO") == "hello 返回时变成 HELLO"
    assert translated("after client 1 closed its connection: numProtocols == 3, not 2") == \
        "client 1 关闭连接之后：numProtocols == 3，而不是 2"
    assert translated("A sentence no catalog has.") == "A sentence no catalog has."
    assert not CJK.search(translated("A sentence no catalog has."))
