"""environment.yml (conda, and Binder through repo2docker) asks for the same packages as pyproject.toml.

A class served from Binder or a JupyterHub image built from environment.yml must get the same
dependency set, with the same version floors, as `pip install -e .` (`make lab`). Conda and pip
spell these packages alike; CONDA_TO_PYPI maps a conda-forge name that differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
