"""The course's editions on disk: which edition a lesson is, and where an edition's files go.

The English lessons live in ``notebooks/``, each other edition's in a folder named by its
language tag (``notebooks/zh-CN/``, the same file names).  What is built from them (slide
decks, the browser edition's lessons and landing page) keeps that layout: English at the
top of the output, the others in ``<tag>/`` beside it.  Plain paths, no I/O but ``Path``.
"""

from __future__ import annotations

from pathlib import Path

from spreadlab.i18n import LANGUAGES, NATIVE_NAMES

__all__ = ["EDITIONS", "NATIVE_NAMES", "edition_of", "edition_folder", "edition_path"]

#: The editions, English (the source) first.
EDITIONS = tuple(LANGUAGES)


def edition_of(lesson: Path) -> str:
    """The edition *lesson* belongs to: the folder it lives in (``notebooks/zh-CN/``), English otherwise."""
    folder = Path(lesson).resolve().parent.name
    return folder if folder in EDITIONS and folder != "en" else "en"


def edition_folder(root: Path, edition: str) -> Path:
    """Where *edition*'s files go under *root*: English at the top, the others in a folder named by their tag."""
    return Path(root) if edition == "en" else Path(root) / edition


def edition_path(name: str, edition: str) -> str:
    """A file's path relative to the top, as a URL writes it: ``00-welcome.ipynb``, ``zh-CN/00-welcome.ipynb``."""
    return name if edition == "en" else f"{edition}/{name}"
