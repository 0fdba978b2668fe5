"""Build the browser edition: the in-memory lessons as one offline JupyterLite site.

Run it as::

    python -m spreadlab.publish.lite [--out build/lite] [--cache build/lite-cache] [notebooks...]

(``make lite`` does the same.)  The result, ``build/lite/``, is a static folder: put it
on any web server (``python -m http.server -d build/lite``) and every learner gets the
lessons in a browser tab, with Python (Pyodide), Twisted, ipywidgets and spreadlab
inside it, and nothing to install.  At run time the site loads nothing from any other
host: JupyterLite's app, Pyodide's runtime and every wheel are files of the site.

How it is put together (the facts come from an experiment on the development machine,
see the README's *Browser edition*):

0. **The tools** (JupyterLite 0.8.6 and its Pyodide kernel, `BUILD_TOOLS`) in a virtual
   environment of their own in the cache: next to JupyterLab, the kernel's labextension
   breaks JupyterLab's pages.
1. **Pyodide** (the version the Pyodide kernel pins, `PYODIDE_VERSION`) from npm (``npm pack``):
   the runtime only, no wheels.  It goes to ``<lite dir>/static/pyodide/``, where
   JupyterLite's build finds it and points the kernel at it (``pyodideUrl``) instead of
   the CDN.
2. **Wheels**, all pure Python, next to the runtime: what the kernel needs to start
   (micropip, IPython, jedi and their dependencies, at the versions Pyodide's lock
   names), plus Twisted, ipywidgets and their dependencies (at the versions installed
   here), plus a wheel of spreadlab made from this checkout.  PyPI has no pure wheel of
   zope.interface, so one is built from its sdist without the optional C speedups.
3. **The lock** (``pyodide-lock.json``) is rewritten: only the packages present are
   kept, with the sha256 of *these* files (Pyodide checks them, and PyPI's builds
   differ from Pyodide's), and entries are added for the packages Pyodide does not
   ship.  The kernel loads ``spreadlab`` (and so everything it needs) as it starts
   (``loadPyodideOptions.packages``): a lesson's first cell imports, nothing installs.
4. **The lessons** chosen and rewritten by `spreadlab.publish.lite_lessons`, plus a
   landing page (``index.html``) that lists them and a zip of them to download; the
   Chinese edition's (``notebooks/zh-CN/``) in ``files/zh-CN/``, with its own landing
   page, ``zh-CN/index.html``.  spreadlab's wheel carries the package's data, the
   compiled message catalogs (``spreadlab/locale/**/*.mo``) with it, so a lesson's
   ``set_language("zh-CN")`` speaks Chinese in the browser too.
5. ``jupyter lite build`` in a fresh working folder, every time: a stale doit
   database silently drops ``pyodideUrl`` and sends the kernel back to the CDN.

Downloads (PyPI with pip, npm with ``npm pack``; the tools) happen only when something is not in
the cache (``build/lite-cache/`` by default); a later build needs no network.  When
something cannot be had, the build stops and says what is missing.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from . import lite_lessons
from .editions import EDITIONS, edition_folder

__all__ = ["LiteBuildError", "LiteSite", "build", "main", "ensure_tools", "BUILD_TOOLS", "PYODIDE_VERSION",
           "KERNEL_PACKAGES", "BROWSER_REQUIRES"]

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO_ROOT / "spreadlab"
DEFAULT_NOTEBOOKS_DIR = Path("notebooks")
DEFAULT_OUT = Path("build/lite")
DEFAULT_CACHE = Path("build/lite-cache")

#: The build's tools, installed by the build into a virtual environment of their own
#: (``<cache>/tools``), never next to JupyterLab: there, the Pyodide kernel's labextension
#: breaks every JupyterLab page ("Shared module @jupyterlite/services doesn't exist in
#: shared scope default").  jupyter_server is needed by the build; jupyterlab_widgets
#: (the widget manager, at the version installed here) is added by `ensure_tools`.
BUILD_TOOLS = ("jupyterlite-core==0.8.6", "jupyterlite-pyodide-kernel==0.8.6", "jupyter_server>=2")
#: The Pyodide that jupyterlite-pyodide-kernel 0.8.6 pins (checked against it at build time).
PYODIDE_VERSION = "314.0.6"

#: What the Pyodide kernel installs as it starts (from Pyodide's lock).
KERNEL_PACKAGES = ("micropip", "packaging", "ipython", "jedi")
#: What spreadlab needs in the browser: the rest of its dependencies (JupyterLab,
#: ipykernel, nest-asyncio2) are the kernel's side, which JupyterLite replaces.
BROWSER_REQUIRES = ("twisted", "ipywidgets")
#: Front-end only (the widget manager's labextension is built into the site; the
#: Pyodide kernel ships a stub of widgetsnbextension): no wheel needed in the kernel.
FRONTEND_ONLY = {"widgetsnbextension", "jupyterlab-widgets"}
#: Packages with no pure wheel on PyPI, built here from the sdist without C speedups.
BUILT_FROM_SDIST = {"zope-interface"}

#: Environment markers as Pyodide's Python sees them.
PYODIDE_MARKERS = {
    "python_version": "3.14", "python_full_version": "3.14.2", "sys_platform": "emscripten",
    "platform_system": "Emscripten", "platform_machine": "wasm32", "os_name": "posix",
    "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
}


class LiteBuildError(RuntimeError):
    """The build cannot go on; the message says what is missing and what to do."""


@dataclass
class LiteSite:
    """What a build made: the folder, its lessons, its size and how long it took."""

    out: Path
    lessons: list
    files: int
    bytes: int
    seconds: float


# ------------------------------------------------------------------ names and versions


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_name(path: Path) -> tuple[str, str]:
    """(canonical project name, version) from a wheel's file name."""
    name, version = path.name.split("-")[:2]
    return _canonical(name), version


def ensure_tools(cache: Path) -> Path:
    """The Python of the build's tools environment (made, or remade when the pins
    changed, with pip from PyPI); checks that its kernel pins `PYODIDE_VERSION`."""
    venv = cache / "tools"
    python = venv / "bin" / "python"
    wanted = [*BUILD_TOOLS, f"jupyterlab_widgets=={_installed_version('jupyterlab_widgets')}"]
    stamp = venv / ".spreadlab-tools"
    if not (stamp.exists() and stamp.read_text() == "\n".join(wanted) and python.exists()):
        if venv.exists():
            shutil.rmtree(venv)
        _run([sys.executable, "-m", "venv", str(venv)], "making the build's tools environment")
        _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted],
             f"installing the build's tools from PyPI into {venv} ({', '.join(wanted)}; is PyPI reachable?)")
        stamp.write_text("\n".join(wanted))
    pinned = subprocess.run([str(python), "-c", "from jupyterlite_pyodide_kernel.constants import "
                             "PYODIDE_VERSION as v; print(v)"], capture_output=True, text=True).stdout.strip()
    if pinned != PYODIDE_VERSION:
        raise LiteBuildError(f"the Pyodide kernel in {venv} pins Pyodide {pinned!r}, the build expects "
                             f"{PYODIDE_VERSION}: update PYODIDE_VERSION with BUILD_TOOLS")
    return python


def _installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise LiteBuildError(
            f"{name} is not installed in this environment, so the build does not know which "
            f"version to put in the browser edition.\nInstall spreadlab with its dependencies "
            f"(make env, or pip install -e '.[test]')"
        ) from None


# ---------------------------------------------------------------------- the cache


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=900,
                          env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                               "npm_config_update_notifier": "false", "npm_config_fund": "false"})
    if proc.returncode != 0:
        raise LiteBuildError(f"{what} failed (exit {proc.returncode}): `{' '.join(cmd)}`\n"
                             f"{(proc.stderr or proc.stdout).strip()[-2500:]}")


def ensure_pyodide(cache: Path, version: str) -> Path:
    """The npm tarball of Pyodide ``version`` in ``cache`` (``npm pack`` once)."""
    tarball = cache / f"pyodide-{version}.tgz"
    if tarball.exists():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise LiteBuildError(
            f"missing: Pyodide {version} (not in {cache}).  The first build fetches it from the "
            "npm registry with Node's `npm`, which is not on PATH here.\n"
            "Install Node.js with npm (Debian/Ubuntu: `apt-get install nodejs npm`), or copy "
            f"pyodide-{version}.tgz (from `npm pack pyodide@{version}`) into {cache}."
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        _run([npm, "pack", f"pyodide@{version}", "--pack-destination", tmp],
             f"fetching Pyodide {version} from the npm registry (is it reachable?)", cwd=Path(tmp))
        (Path(tmp) / tarball.name).rename(tarball)
    return tarball


def _cached_wheel(wheels: Path, name: str, version: str) -> Path | None:
    for path in wheels.glob("*.whl"):
        if _wheel_name(path) == (name, version):
            return path
    return None


def ensure_wheels(wanted: dict[str, str], wheels: Path) -> dict[str, Path]:
    """A pure (``py3-none-any``) wheel for each ``{name: version}``, from the cache or PyPI."""
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [(n, v) for n, v in wanted.items() if _cached_wheel(wheels, n, v) is None]
    download = [f"{n}=={v}" for n, v in missing if n not in BUILT_FROM_SDIST]
    if download:
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
              "--python-version", PYODIDE_MARKERS["python_version"], "--implementation", "py",
              "--abi", "none", "--platform", "any", "--dest", str(wheels), *download],
             f"downloading pure wheels from PyPI ({', '.join(download)}; is PyPI reachable?)")
    for name, version in missing:
        if name in BUILT_FROM_SDIST:
            _build_pure_wheel(name, version, wheels)
    found = {n: _cached_wheel(wheels, n, v) for n, v in wanted.items()}
    lost = [f"{n}=={v}" for n, v in wanted.items() if found[n] is None]
    if lost:
        raise LiteBuildError(f"missing after download: a pure wheel of {', '.join(lost)} in {wheels}")
    return found


def _build_pure_wheel(name: str, version: str, wheels: Path) -> None:
    """Build a ``py3-none-any`` wheel from the sdist with its C extensions removed
    (zope.interface runs without its speedups)."""
    with tempfile.TemporaryDirectory(dir=wheels) as tmp:
        tmp = Path(tmp)
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary=:all:",
              "--dest", str(tmp), f"{name}=={version}"],
             f"downloading the source of {name} {version} from PyPI (is it reachable?)")
        sdist = next(tmp.glob("*.tar.gz"))
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp / "src", filter="data")
        source = next((tmp / "src").iterdir())
        setup_py = source / "setup.py"
        text = setup_py.read_text(encoding="utf-8")
        patched = re.sub(r"ext_modules\s*=\s*[^,\n]+", "ext_modules=[]", text)
        if patched == text:
            raise LiteBuildError(f"{name} {version}: its setup.py has no ext_modules to remove")
        setup_py.write_text(patched, encoding="utf-8")
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp / "dist"),
              str(source)], f"building a pure wheel of {name} {version}")
        built = next((tmp / "dist").glob("*-py3-none-any.whl"), None)
        if built is None:
            raise LiteBuildError(f"{name} {version}: the wheel built is not pure: {list((tmp / 'dist').iterdir())}")
        shutil.move(str(built), wheels / built.name)


# ----------------------------------------------------------------- which packages


def _requires(wheel: Path) -> list[str]:
    """Canonical names of what a wheel requires under Pyodide (markers evaluated)."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as whl:
        meta = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        headers = Parser().parsestr(whl.read(meta).decode("utf-8"))
    names = []
    for line in headers.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(PYODIDE_MARKERS):
            names.append(_canonical(req.name))
    return names


def resolve(lock: dict, wheels: Path) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """Every package the kernel and spreadlab need: ``({name: wheel}, {name: depends})``.

    Packages Pyodide's lock names come at the lock's version with the lock's
    dependencies; the others at the version installed here, with their wheel's.
    """
    packages = {_canonical(k): v for k, v in lock["packages"].items()}
    found: dict[str, Path] = {}
    depends: dict[str, list[str]] = {}
    todo = [*KERNEL_PACKAGES, *BROWSER_REQUIRES]
    while todo:
        batch = {}
        for name in todo:
            name = _canonical(name)
            if name in found or name in batch or name in FRONTEND_ONLY:
                continue
            batch[name] = packages[name]["version"] if name in packages else _installed_version(name)
        found.update(ensure_wheels(batch, wheels))
        todo = []
        for name in batch:
            if name in packages:
                depends[name] = [_canonical(d) for d in packages[name]["depends"]]
            else:
                depends[name] = [d for d in _requires(found[name]) if d not in FRONTEND_ONLY]
            todo += depends[name]
    return found, depends


# ---------------------------------------------------------------- spreadlab's wheel


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def spreadlab_wheel(dest: Path) -> Path:
    """A pure wheel of the checkout's ``spreadlab`` package (its Python files and
    package data), requiring what it needs in the browser."""
    from spreadlab import __version__

    dist_info = f"spreadlab-{__version__}.dist-info"
    files: dict[str, bytes] = {}
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            files[path.relative_to(REPO_ROOT).as_posix()] = path.read_bytes()
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: spreadlab\nVersion: {__version__}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in BROWSER_REQUIRES)
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: spreadlab.publish.lite\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{dist_info}/top_level.txt"] = b"spreadlab\n"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files.items():
        writer.writerow([name, _record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    wheel = dest / f"spreadlab-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as whl:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
    return wheel


def _top_level(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        top = next((n for n in names if n.endswith(".dist-info/top_level.txt")), None)
        if top:
            return [t for t in whl.read(top).decode().split() if t]
    return sorted({n.split("/")[0].removesuffix(".py") for n in names
                   if ".dist-info/" not in n and (n.endswith(".py") or "/" in n)})


# ---------------------------------------------------------------------- the runtime


def install_pyodide(tarball: Path, target: Path, wheels: dict[str, Path],
                    depends: dict[str, list[str]]) -> dict:
    """Unpack the runtime into ``target``, copy the wheels next to it and write the
    lock that names exactly them, with their own sha256.  Returns the lock."""
    target.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            if member.isfile() and not member.name.endswith((".map", ".d.ts", ".html", ".md")):
                member.name = member.name.split("/", 1)[1]  # drop npm's "package/"
                tar.extract(member, target, filter="data")
    lock = json.loads((target / "pyodide-lock.json").read_text(encoding="utf-8"))
    known = {_canonical(k): v for k, v in lock["packages"].items()}
    packages = {}
    for name, wheel in sorted(wheels.items()):
        shutil.copyfile(wheel, target / wheel.name)
        entry = dict(known.get(name) or {
            "name": name, "version": _wheel_name(wheel)[1], "install_dir": "site",
            "package_type": "package", "imports": _top_level(wheel), "unvendored_tests": False,
        })
        entry.update(file_name=wheel.name, depends=depends[name],
                     sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
        packages[name] = entry
    lock["packages"] = packages
    (target / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True), encoding="utf-8")
    return lock


# -------------------------------------------------------------------------- the site


def jupyter_lite_json() -> dict:
    """The site's JupyterLite settings: no PyPI fallback, spreadlab loaded at kernel start."""
    return {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "spreadlab in the browser",
            "litePluginSettings": {
                "@jupyterlite/pyodide-kernel-extension:kernel": {
                    "disablePyPIFallback": True,
                    "loadPyodideOptions": {"packages": ["spreadlab"]},
                },
            },
        },
    }


def _jupyter_lite(tools: Path, args: list[str], cwd: Path) -> None:
    _run([str(tools.with_name("jupyter-lite")), *args], "jupyter lite build", cwd=cwd)


def build(notebooks: list[Path] | None = None, out: Path = DEFAULT_OUT, cache: Path = DEFAULT_CACHE,
          *, log=print) -> LiteSite:
    """Build the site into ``out`` (emptied first), from scratch every time."""
    started = time.monotonic()
    out, cache = Path(out).resolve(), Path(cache).resolve()
    if notebooks is None:  # both editions: notebooks/ and notebooks/zh-CN/
        notebooks = [path for edition in EDITIONS
                     for path in sorted(edition_folder(REPO_ROOT / DEFAULT_NOTEBOOKS_DIR, edition).glob("[0-9]*.ipynb"))]
    tarball = ensure_pyodide(cache, PYODIDE_VERSION)
    tools = ensure_tools(cache)
    with tarfile.open(tarball) as tar:
        lock = json.load(tar.extractfile("package/pyodide-lock.json"))
    log(f"lite: Pyodide {PYODIDE_VERSION}; resolving the kernel's and spreadlab's packages")
    wheels, depends = resolve(lock, cache / "wheels")

    work = out.with_name(out.name + "-work")
    for folder in (out, work):
        if folder.exists():
            shutil.rmtree(folder)
    lite_dir = work / "lite"
    lite_dir.mkdir(parents=True)
    own = work / "own-wheels"
    own.mkdir()
    wheels["spreadlab"] = spreadlab_wheel(own)
    depends["spreadlab"] = list(BROWSER_REQUIRES)
    install_pyodide(tarball, lite_dir / "static" / "pyodide", wheels, depends)
    (lite_dir / "jupyter-lite.json").write_text(json.dumps(jupyter_lite_json(), indent=1), encoding="utf-8")

    contents = work / "files"
    lessons = lite_lessons.write_browser_edition(notebooks, contents)
    log(f"lite: {sum(l.included for l in lessons)} of {len(lessons)} lessons in the browser edition")
    _jupyter_lite(tools, ["build", "--lite-dir", str(lite_dir), "--output-dir", str(out), "--apps", "lab",
                   "--contents", str(contents), "--no-sourcemaps", "--no-unused-shared-packages"],
                  cwd=lite_dir)
    _check_offline(out)
    lite_lessons.write_landing(out, lessons)
    shutil.rmtree(work)
    files = [p for p in out.rglob("*") if p.is_file()]
    site = LiteSite(out, lessons, len(files), sum(p.stat().st_size for p in files), time.monotonic() - started)
    log(f"lite: {out} ({site.files} files, {site.bytes / 1e6:.1f} MB) in {site.seconds:.0f} s")
    return site


def _check_offline(out: Path) -> None:
    """The built site must point the kernel at its own Pyodide, not the CDN."""
    config = json.loads((out / "jupyter-lite.json").read_text(encoding="utf-8"))
    settings = config["jupyter-config-data"]["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    if settings.get("pyodideUrl") != "./static/pyodide/pyodide.mjs":
        raise LiteBuildError(f"the built site would load Pyodide from {settings.get('pyodideUrl')!r}, "
                             "not from its own ./static/pyodide/")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spreadlab.publish.lite", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="lessons (default: notebooks/[0-9]*.ipynb and notebooks/zh-CN/[0-9]*.ipynb)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the site's folder (emptied first)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="downloads kept between builds")
    args = parser.parse_args(argv)
    try:
        site = build(args.notebooks or None, args.out, args.cache)
    except LiteBuildError as error:
        print(f"make lite: cannot build the browser edition: {error}", file=sys.stderr)
        return 1
    print(f"Serve it with: python -m http.server -d {args.out}   (then open http://localhost:8000/)")
    return 0 if site.lessons else 1


if __name__ == "__main__":
    sys.exit(main())
