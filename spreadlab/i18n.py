"""The learner's language: what spreadlab says to a learner, in English or Simplified Chinese.

Everything the library says to a learner (checker reports and hints, quiz feedback, board and
timeline labels, errors meant for learners) is written in English in the source and looked up
through the standard :mod:`gettext` machinery in the catalogs shipped in ``spreadlab/locale/``
(``zh_CN/LC_MESSAGES/spreadlab.po``, compiled to ``.mo``; ``make catalog`` refreshes them).

A lesson chooses its language with one call at its top, ``set_language("zh-CN")`` (the English
edition says ``"en"``). Before any call the default comes from the environment, the way gettext
reads it (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), and is English when no catalog fits.

Messages are translated when they are shown, never at import: a table of texts built at import
marks them with :func:`N_` and passes them through :func:`_` where they are used, so that a
language chosen after ``import spreadlab`` still applies.

The choice is process-wide (one kernel runs one notebook) and may be read or made from any
thread: the reactor thread draws boards with it too.
"""

from __future__ import annotations

import gettext as _gettext
import os
from pathlib import Path

DOMAIN = "spreadlab"
LOCALE_DIR = Path(__file__).parent / "locale"

#: The editions: language tag (as notebooks and URLs write it) -> gettext locale name.
LANGUAGES = {"en": "en", "zh-CN": "zh_CN"}
#: What each edition calls itself.
NATIVE_NAMES = {"en": "English", "zh-CN": "简体中文"}

_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "c": "en", "posix": "en",
            "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "zh-sg": "zh-CN",
            "zh-hans-cn": "zh-CN"}

_language: str | None = None
_translation: _gettext.NullTranslations | None = None


def normalize(tag: str) -> str | None:
    """The edition *tag* names (``"zh_CN.UTF-8"``, ``"zh-Hans"`` and ``"zh"`` are ``"zh-CN"``), or None."""
    base = tag.split(".")[0].split("@")[0].replace("_", "-").strip().lower()
    if base in _ALIASES:
        return _ALIASES[base]
    return "en" if base.startswith("en-") else None


def _from_environment() -> str:
    """The first edition named by LANGUAGE, LC_ALL, LC_MESSAGES or LANG (gettext's order); English otherwise."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            for tag in value.split(":"):
                edition = normalize(tag)
                if edition:
                    return edition
            if variable != "LANGUAGE":  # gettext stops at the first of these that is set
                break
    return "en"


def set_language(tag: str | None = None) -> str:
    """Speak *tag* (``"en"`` or ``"zh-CN"``) from now on; None goes back to the environment's default.

    Returns the edition chosen. An unknown tag raises ValueError naming the ones there are.
    """
    global _language, _translation
    if tag is None:
        edition = _from_environment()
    else:
        edition = normalize(tag)
        if edition is None:
            raise ValueError(f"spreadlab speaks {', '.join(LANGUAGES)}; no catalog for {tag!r}")
    _translation = _gettext.translation(DOMAIN, LOCALE_DIR, languages=[LANGUAGES[edition]],
                                        fallback=True)
    _language = edition
    return edition


def language() -> str:
    """The edition spreadlab speaks now: ``"en"`` or ``"zh-CN"``."""
    if _language is None:
        set_language(None)
    return _language


def _catalog() -> _gettext.NullTranslations:
    if _translation is None:
        set_language(None)
    return _translation


def _(message: str) -> str:
    """*message* (English, as written in the source) in the learner's language."""
    return _catalog().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of *singular*/*plural* for *n*, in the learner's language."""
    return _catalog().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark *message* for the catalog without translating it yet (tables built at import)."""
    return message
