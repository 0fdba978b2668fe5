"""The README in both languages: the Chinese one beside the English one, the same course.

Each lists every lesson with the same number, notebook and minutes (README.md's table is the
one tests/test_notebooks.py checks against the lessons), each links to the other, and both
say how to choose the Chinese edition with the commands that exist.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_ROW = re.compile(r"^\| (\d+) \| `([\w-]+)` \| .+ \| ([^|]+) \|$", re.M)


def _lessons(readme: str) -> list[tuple[str, str, str]]:
    return [(n, name, minutes.strip()) for n, name, minutes in _ROW.findall(readme)]


def test_the_chinese_readme_lists_the_same_lessons_with_the_same_minutes():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert len(_lessons(english)) >= 13
    assert _lessons(chinese) == _lessons(english)
    lessons = {p.stem for p in (ROOT / "notebooks").glob("[0-9]*.ipynb")}
    assert {name for _, name, _ in _lessons(chinese)} == lessons


def test_each_readme_links_to_the_other_and_names_the_edition_commands():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "(README.zh-CN.md)" in english.split("\n## ")[0]  # at the top
    assert "(README.md)" in chinese.split("\n## ")[0]
    for readme in (english, chinese):
        for command in ("make lab EDITION=zh-CN", 'set_language("zh-CN")', '--edition zh-CN', "zh-CN/index.html",
                        "fonts-wqy-zenhei", "jupyterlab-language-pack-zh-CN"):
            assert command in readme, command
    # the commands they name are the Makefile's
    dry = subprocess.run(["make", "-n", "-C", str(ROOT), "lab", "EDITION=zh-CN", "VENV=/nonexistent"],
                         capture_output=True, text=True, timeout=30)
    assert dry.returncode == 0 and "--notebook-dir=notebooks/zh-CN" in dry.stdout, dry.stderr
    assert "jupyterlab-language-pack-zh-CN>=4.5.post3,<5" in dry.stdout
    assert "jupyterlab-language-pack-zh-CN>=4.5.post3,<5" in english and "jupyterlab-language-pack-zh-CN>=4.5.post3,<5" in chinese
