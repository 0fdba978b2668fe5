"""Setup everywhere a class runs: what the lessons need is what every install gives.

environment.yml (conda, and Binder through repo2docker) asks for the same packages as
pyproject.toml: a class served from Binder or a JupyterHub image built from environment.yml must
get the same dependency set, with the same version floors, as `pip install -e .` (`make lab`).
Conda and pip spell these packages alike; CONDA_TO_PYPI maps a conda-forge name that differs.

What a lesson imports (or runs, `!python -m pytest`) is among the runtime dependencies of both,
not only in the test extras; and lesson 11 is run in the environment environment.yml builds, as
far as this machine allows (a venv instead of conda).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI: dict[str, str] = {}  # e.g. {"pytables": "tables"}
NOT_PACKAGES = {"python", "pip"}


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _environment():
    with open(ROOT / "environment.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _as_map(lines):
    out = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(CONDA_TO_PYPI.get(req.name, req.name))
        assert name not in out, f"{name} listed twice"
        out[name] = str(req.specifier)
    return out


def _environment_split():
    conda, pip = [], []
    for dep in _environment()["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        else:
            conda.append(dep)
    return conda, pip


def test_environment_yml_has_the_same_dependencies_as_pyproject():
    conda, pip = _environment_split()
    conda_pkgs = [c.replace(" ", "") for c in conda if Requirement(c.replace(" ", "")).name not in NOT_PACKAGES]
    pip_pkgs = [p for p in pip if not p.strip().startswith(("-e", "."))]
    env = _as_map(conda_pkgs + pip_pkgs)
    project = _as_map(_pyproject()["dependencies"])
    assert env == project, (
        "environment.yml and pyproject.toml [project].dependencies differ:\n"
        f"  only in environment.yml: { {k: v for k, v in env.items() if project.get(k) != v} }\n"
        f"  only in pyproject.toml:  { {k: v for k, v in project.items() if env.get(k) != v} }"
    )


def test_environment_yml_installs_spreadlab_and_the_same_python():
    conda, pip = _environment_split()
    assert any(p.replace(" ", "") in ("-e.", ".") for p in pip), "environment.yml must pip-install the repo (-e .)"
    pythons = [Requirement(c.replace(" ", "")) for c in conda if c.replace(" ", "").startswith("python")]
    pythons = [r for r in pythons if r.name == "python"]
    assert len(pythons) == 1, "environment.yml must pin python"
    assert pythons[0].specifier == SpecifierSet(_pyproject()["requires-python"])


# --------------------------------------------------------------------------- what the lessons import

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
#: `!python -m X`, `!{sys.executable} -m X`, `%run -m X`: a module run as a program
_RUN_MODULE = re.compile(r"(?:^|\s)-m\s+([A-Za-z_][\w.]*)")


def _cell_python(source: str) -> list[str]:
    """The Python a code cell runs: the cell itself with IPython's syntax turned into
    calls, and the body of a ``%%writefile`` cell (a module that is run later)."""
    from IPython.core.inputtransformer2 import TransformerManager

    first, _, rest = source.lstrip().partition("\n")
    if first.startswith("%%writefile") and first.endswith(".py"):
        return [rest]
    if first.startswith("%%"):
        return []  # another language (bash, html, ...)
    return [TransformerManager().transform_cell(source)]


def imported_modules(source: str) -> set[str]:
    """The modules a cell imports or runs (dotted names as written)."""
    found: set[str] = set()
    for code in _cell_python(source):
        tree = ast.parse(code)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("system", "getoutput", "run_line_magic", "run_cell_magic"):
                text = " ".join(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
                found.update(_RUN_MODULE.findall(text))
    return found


@functools.lru_cache(maxsize=None)
def _packages_distributions() -> dict[str, list[str]]:
    """Top-level module -> the distributions that install it.  Python 3.10's
    ``packages_distributions`` reads only ``top_level.txt``, which wheels built
    by newer tools (Twisted's) do not have: the modules are read from each
    distribution's list of files too, as Python 3.11 does."""
    found = {top: list(names) for top, names in importlib.metadata.packages_distributions().items()}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        for path in dist.files or ():
            if path.suffix == ".py" and ".." not in path.parts:
                top = path.parts[0] if len(path.parts) > 1 else path.stem
                if name not in found.setdefault(top, []):
                    found[top].append(name)
    return found


def distribution_of(module: str) -> str | None:
    """The distribution (canonical name) that provides *module*, None for the
    standard library."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return None
    provided = _packages_distributions().get(top, [])
    for dotted in (".".join(module.split(".")[:2]), top):  # zope.interface before zope
        if canonicalize_name(dotted) in {canonicalize_name(d) for d in provided}:
            return canonicalize_name(dotted)
    assert len(provided) == 1, f"{module}: provided by {provided or 'no installed distribution'}"
    return canonicalize_name(provided[0])


def lesson_imports() -> dict[str, set[str]]:
    """distribution -> the lessons that import it (not spreadlab, not the standard library)."""
    import nbformat

    used: dict[str, set[str]] = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, 4).cells:
            if cell.cell_type == "code":
                for module in imported_modules(cell.source):
                    dist = distribution_of(module)
                    if dist and dist != "spreadlab":
                        used.setdefault(dist, set()).add(path.stem)
    return used


def test_the_import_collector_sees_every_way_a_cell_uses_a_module():
    cell = ("import json, zope.interface\nfrom twisted.internet import task\n"
            "!{sys.executable} -m pytest -q {folder}\n%run -m spreadlab serve\nx = !python -m nbclient --help")
    assert imported_modules(cell) == {"json", "zope.interface", "twisted.internet", "pytest", "spreadlab", "nbclient"}
    assert imported_modules("%%writefile {folder}/test_x.py\nimport hypothesis\n") == {"hypothesis"}
    assert imported_modules("%%bash\nimport this is not python\n") == set()
    assert distribution_of("zope.interface") == "zope-interface"
    assert distribution_of("twisted.internet.task") == "twisted"
    assert distribution_of("asyncio") is None


def test_what_the_lessons_import_is_in_the_runtime_dependencies_and_environment_yml(request):
    from conftest import report_count

    used = lesson_imports()
    report_count(request.config, "distributions the lessons import", len(used))
    assert {"twisted", "pytest"} <= set(used), used  # pytest: run by lesson 11 (`!... -m pytest`)
    runtime = set(_as_map(_pyproject()["dependencies"]))
    conda, pip = _environment_split()
    env = set(_as_map([c.replace(" ", "") for c in conda if Requirement(c.replace(" ", "")).name not in NOT_PACKAGES]
                      + [p for p in pip if not p.strip().startswith(("-e", "."))]))
    missing_runtime = {d: sorted(n) for d, n in used.items() if d not in runtime}
    missing_env = {d: sorted(n) for d, n in used.items() if d not in env}
    assert missing_runtime == {}, f"imported by lessons, not in pyproject's dependencies: {missing_runtime}"
    assert missing_env == {}, f"imported by lessons, not in environment.yml: {missing_env}"


# --------------------------------------------------------------------------- a conda / Binder user's environment


def _environment_requirements() -> list[str]:
    """What environment.yml installs, as pip requirements: its conda packages by their
    PyPI names (`CONDA_TO_PYPI`), then its pip section, ``-e .`` as this checkout."""
    conda, pip = _environment_split()
    reqs = []
    for dep in conda:
        req = Requirement(dep.replace(" ", ""))
        if req.name not in NOT_PACKAGES:
            reqs.append(f"{CONDA_TO_PYPI.get(req.name, req.name)}{req.specifier}")
    for dep in pip:
        dep = dep.split("#")[0].strip()
        reqs.append(str(ROOT) if dep in ("-e .", "-e.", ".") else dep)
    return reqs


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_lesson_11_runs_in_the_environment_environment_yml_builds(tmp_path):
    """As far as this machine allows (no conda): a fresh venv, pip-installing what
    environment.yml lists (pip's cache makes a second run quick), then lesson 11, which
    runs pytest from the notebook, executed in a fresh kernel of that venv, with nothing
    of this test's own environment (no PYTHONPATH, no user kernels)."""
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV"))}
    clean.update(JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
                 JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), IPYTHONDIR=str(tmp_path / "ipython"))
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-compile",
                              *_environment_requirements()],
                             capture_output=True, text=True, env=clean, timeout=800)
    assert install.returncode == 0, install.stderr[-3000:]

    lesson = ROOT / "notebooks" / "11-testing-your-protocols.ipynb"
    script = f"""
import json, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read({str(lesson)!r}, 4)
nb.cells.insert(0, nbformat.v4.new_code_cell("import sys, spreadlab; print(sys.prefix, spreadlab.__file__)"))
NotebookClient(nb, kernel_name="python3", timeout=300,
               resources={{"metadata": {{"path": {str(lesson.parent)!r}}}}}).execute()
print(json.dumps([[o.get("text", "") for o in c.get("outputs", []) if o.get("output_type") == "stream"]
                  for c in nb.cells if c.cell_type == "code"]))
"""
    run = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=clean, timeout=600,
                         cwd=str(tmp_path))
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    streams = json.loads(run.stdout.strip().splitlines()[-1])
    where = "".join(streams[0]).split()
    assert Path(where[0]).resolve() == venv.resolve(), where  # the kernel is the venv's
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join("".join(s) for s in streams))  # pytest's colours
    assert "No module named" not in text, text[-3000:]
    assert re.search(r"\b\d+ passed\b", text), text[-3000:]  # the lesson's own pytest run
