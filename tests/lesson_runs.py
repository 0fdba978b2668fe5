"""Running a lesson as a learner would, for tests that check what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


#: Where each edition's lessons are, and how it titles a folded solution.
EDITIONS = {"en": (NOTEBOOKS, "<summary>Solution</summary>"),
            "zh-CN": (NOTEBOOKS / "zh-CN", "<summary>参考答案</summary>")}


def run_lesson(name: str, folder: Path, *, solved: bool = False, edition: str = "en") -> tuple[str, str]:
    """Execute ``notebooks/<name>.ipynb`` (or the *edition*'s) in a fresh kernel, in *folder*; with
    *solved*, the exercise cell first replaced by the lesson's folded solution
    (as a learner who typed it in).  Returns (what was printed, what was
    shown as results), each joined into one text."""
    lessons, solution = EDITIONS[edition]
    nb = nbformat.read(lessons / f"{name}.ipynb", 4)
    if solved:
        exercise = next(c for c in nb.cells if "exercise" in c.metadata.get("tags", []))
        folded = next(c for c in nb.cells if c.cell_type == "markdown" and solution in c.source)
        exercise.source = re.search(r"```python\n(.*?)```", folded.source, re.S).group(1)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [out for c in nb.cells if c.cell_type == "code" for out in c.outputs]
    printed = "\n".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    shown = "\n".join(out.get("data", {}).get("text/plain", "") for out in outputs if "data" in out)
    return printed, shown
