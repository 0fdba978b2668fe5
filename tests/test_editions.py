"""The Chinese edition is kept in step with the English one, cell by cell.

Each lesson in ``notebooks/zh-CN/`` has the English lesson's cells: the same ids, in the same order,
of the same kinds, with the same metadata (slide types, tags, folding), and the same notebook
metadata. Its prose is translated (a markdown cell with English sentences has Chinese in the other
edition), and its code differs only in strings and comments: the two cells parse to the same Python
once every string is blanked (magics compared as written), and so do the code blocks in markdown
(the folded solutions a learner copies). Each edition's first code cell says its own language.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parent.parent
ENGLISH = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHINESE_DIR = ROOT / "notebooks" / "zh-CN"
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Magics whose body is Python (the rest of the cell is compared as code).
PYTHON_CELL_MAGICS = {"writefile", "expect_error", "needs_network", "capture", "time", "timeit"}


def _pairs():
    return [(path, CHINESE_DIR / path.name) for path in ENGLISH]


PAIRS = _pairs()
IDS = [english.stem for english, _ in PAIRS]


def test_the_two_editions_have_the_same_lessons():
    chinese = sorted(p.name for p in CHINESE_DIR.glob("*.ipynb"))
    assert chinese == [p.name for p in ENGLISH], "notebooks/zh-CN/ must hold one translation of each English lesson"


class _BlankStrings(ast.NodeTransformer):
    def visit_Constant(self, node):
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant(value=""), node)
        return node

    def visit_JoinedStr(self, node):  # an f-string: its expressions must match, its text may not
        values = [self.visit(v) for v in node.values if not isinstance(v, ast.Constant)]
        return ast.copy_location(ast.JoinedStr(values=values), node)


def code_shape(source: str) -> str:
    """What must be equal in both editions: the Python with every string blanked and comments
    gone; IPython magic and shell lines as written."""
    lines = source.splitlines()
    magics = []
    if lines and lines[0].startswith("%%"):
        magics.append(lines[0])
        if lines[0][2:].split()[0] not in PYTHON_CELL_MAGICS:
            return "\n".join(lines)  # not Python (e.g. %%bash): the whole cell as written
        lines = lines[1:]
    python = []
    for line in lines:
        if line.lstrip().startswith(("%", "!")):
            magics.append(line.strip())
            python.append(line[: len(line) - len(line.lstrip())] + "pass")
        else:
            python.append(line)
    tree = _BlankStrings().visit(ast.parse("\n".join(python)))
    return "\n".join(magics) + "\n" + ast.dump(tree, include_attributes=False)


def fenced_python(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, re.S)


def _load(english: Path, chinese: Path):
    if not chinese.exists():
        pytest.fail(f"{chinese.relative_to(ROOT)} is missing: the Chinese edition of {english.name}")
    return nbformat.read(english, as_version=4), nbformat.read(chinese, as_version=4)


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_same_cells_same_ids_same_kinds_same_metadata(english, chinese):
    en, zh = _load(english, chinese)
    assert [(c.id, c.cell_type) for c in zh.cells] == [(c.id, c.cell_type) for c in en.cells], \
        f"{chinese.name}: the cells (ids and kinds, in order) differ from the English lesson's"
    for i, (a, b) in enumerate(zip(en.cells, zh.cells)):
        assert b.metadata == a.metadata, f"{chinese.name}: cell {i} ({a.id}) has metadata {b.metadata}, English {a.metadata}"
    assert zh.metadata == en.metadata, f"{chinese.name}: notebook metadata differ"


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_code_differs_only_in_strings_and_comments(english, chinese):
    en, zh = _load(english, chinese)
    for i, (a, b) in enumerate(zip(en.cells, zh.cells)):
        if a.cell_type == "code":
            assert code_shape(b.source) == code_shape(a.source), \
                f"{chinese.name}: code cell {i} ({a.id}) differs from the English one in more than strings and comments"
        elif a.cell_type == "markdown":
            ours, theirs = fenced_python(b.source), fenced_python(a.source)
            assert len(ours) == len(theirs), f"{chinese.name}: cell {i} ({a.id}) has {len(ours)} Python blocks, English {len(theirs)}"
            for block_zh, block_en in zip(ours, theirs):
                try:
                    wanted = code_shape(block_en)
                except SyntaxError:  # a fragment, not a program: compared as prose
                    continue
                assert code_shape(block_zh) == wanted, \
                    f"{chinese.name}: a Python block in cell {i} ({a.id}) differs in more than strings and comments"


def _prose(markdown: str) -> str:
    """A markdown cell without its code (fenced and inline), links' targets and HTML tags."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"<[^>]+>", "", text)


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_every_sentence_is_translated(english, chinese):
    en, zh = _load(english, chinese)
    untranslated = []
    for i, (a, b) in enumerate(zip(en.cells, zh.cells)):
        if a.cell_type != "markdown":
            continue
        words = re.findall(r"[A-Za-z]{3,}", _prose(a.source))
        if len(words) >= 4 and not CJK.search(_prose(b.source)):
            untranslated.append(f"cell {i} ({a.id}): {b.source[:60]!r}")
    assert not untranslated, f"{chinese.name}: markdown left in English:\n" + "\n".join(untranslated)


def _language_call(nb) -> str | None:
    first = next(c.source for c in nb.cells if c.cell_type == "code")
    match = re.search(r"""set_language\(["']([\w-]+)["']\)""", first)
    return match.group(1) if match else None


@pytest.mark.parametrize("english, chinese", PAIRS, ids=IDS)
def test_each_edition_says_its_language_in_its_first_code_cell(english, chinese):
    en, zh = _load(english, chinese)
    assert _language_call(en) == "en", f"{english.name}: the first code cell should call set_language(\"en\")"
    assert _language_call(zh) == "zh-CN", f"{chinese.name}: the first code cell should call set_language(\"zh-CN\")"


def test_the_shape_check_can_fail():
    """What the check above tells apart: strings and comments may change, code may not."""
    english = 'print("hello")  # say it\nx = f"{n} lines"\n%time f(1)'
    assert code_shape('print("你好")  # 打招呼\nx = f"{n} 行"\n%time f(1)') == code_shape(english)
    assert code_shape('print("hello")\nx = f"{m} lines"\n%time f(1)') != code_shape(english)
    assert code_shape('print("hello", 2)\nx = f"{n} lines"\n%time f(1)') != code_shape(english)
    assert code_shape('print("hello")\nx = f"{n} lines"\n%time f(2)') != code_shape(english)
