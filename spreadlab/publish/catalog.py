"""The translation catalogs: extract the library's English messages, update each language's
``.po`` from them and compile it to the ``.mo`` that :mod:`spreadlab.i18n` reads.

    python -m spreadlab.publish.catalog           # extract, update .po files, compile .mo (make catalog)
    python -m spreadlab.publish.catalog --check   # change nothing; list what is missing or stale

Babel does the work (a well-kept library; the stdlib has no extractor that knows ``N_`` and
``ngettext``, nor a ``.po`` reader). A message is marked in the source with ``_("...")``,
``N_("...")`` or ``ngettext("...", "...", n)`` from :mod:`spreadlab.i18n`; placeholders are
``{name}`` for ``str.format`` (never an f-string inside ``_``). The ``.po`` files are written sorted
by message and without line numbers, so that a change to the code moves no line of a catalog.
A development tool: it runs from a checkout, not from an installed package's users.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from ..i18n import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE_DIR = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
#: Editions that have a catalog (English is the source and needs none).
TRANSLATED = [locale for tag, locale in LANGUAGES.items() if tag != "en"]


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Catalog:
    """Every message marked in spreadlab's source, as a template catalog."""
    template = Catalog(project="spreadlab", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(PACKAGE_DIR), method_map=[("**.py", "python")], keywords=KEYWORDS,
            comment_tags=("Translators:",), strip_comment_tags=True):
        template.add(message, None, [(f"spreadlab/{filename}", lineno)], auto_comments=comments,
                     context=context)
    return template


def _read(path: Path, locale: str) -> Catalog:
    if path.exists():
        with path.open("rb") as handle:
            return read_po(handle, locale=locale)
    return Catalog(locale=locale, project="spreadlab", fuzzy=False)


def _po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False,
             ignore_obsolete=True)
    return out.getvalue()


def _mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


@dataclass
class Problems:
    """What keeps a catalog from matching the source."""

    missing: list[str] = field(default_factory=list)       # marked in the source, not in the .po
    stale: list[str] = field(default_factory=list)         # in the .po, no longer in the source
    untranslated: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)         # a guess by the updater, to be checked
    errors: list[str] = field(default_factory=list)        # placeholders that do not match
    mo_outdated: bool = False

    def __bool__(self) -> bool:
        return bool(self.missing or self.stale or self.untranslated or self.fuzzy or self.errors
                    or self.mo_outdated)

    def report(self, locale: str) -> str:
        lines = []
        for what, items in (("missing", self.missing), ("stale", self.stale),
                            ("untranslated", self.untranslated), ("fuzzy", self.fuzzy),
                            ("wrong placeholders", self.errors)):
            lines += [f"{locale}: {what}: {item!r}" for item in items]
        if self.mo_outdated:
            lines.append(f"{locale}: the .mo is not the compiled .po (run `make catalog`)")
        return "\n".join(lines)


def _key(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def check(locale: str, template: Catalog | None = None) -> Problems:
    """Compare *locale*'s catalog with the source, changing nothing."""
    template = template or extract()
    catalog = _read(po_path(locale), locale)
    problems = Problems()
    source = {_key(m) for m in template if m.id}
    known = {_key(m) for m in catalog if m.id}
    problems.missing = sorted(source - known)
    problems.stale = sorted(known - source)
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.untranslated.append(_key(message))
        if message.fuzzy:
            problems.fuzzy.append(_key(message))
    for message, errors in catalog.check():
        problems.errors += [f"{_key(message)}: {error}" for error in errors]
    problems.errors += _placeholder_mismatches(catalog)
    mo = po_path(locale).with_suffix(".mo")
    problems.mo_outdated = not mo.exists() or mo.read_bytes() != _mo_bytes(catalog)
    return problems


def _placeholder_mismatches(catalog: Catalog) -> list[str]:
    """Messages whose translation does not use exactly the source's ``{name}`` placeholders."""
    import string

    def names(text: str) -> set[str]:
        try:
            return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as error:
            return {f"<unparsable: {error}>"}

    mismatches = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(names(i) for i in ids))
        for translated in strings:
            if translated and names(translated) != wanted:
                mismatches.append(f"{_key(message)!r}: placeholders {sorted(names(translated))}, "
                                  f"source has {sorted(wanted)}")
    return mismatches


def update(locale: str, template: Catalog | None = None) -> Path:
    """Bring *locale*'s ``.po`` up to the source (new messages empty, changed ones fuzzy) and compile it."""
    template = template or extract()
    path = po_path(locale)
    catalog = _read(path, locale)
    creation = catalog.creation_date
    catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
    catalog.creation_date = creation
    catalog.revision_date = creation
    catalog.project, catalog.version = "spreadlab", "0.1"
    catalog.copyright_holder = "the spreadlab authors"
    catalog.msgid_bugs_address = ""
    catalog.last_translator = "the spreadlab translators"
    catalog.language_team = "spreadlab 简体中文"
    catalog.header_comment = (f"# spreadlab: what the library says to a learner, in {locale}.\n"
                              "# English is the source; `make catalog` updates this file from it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    new = _po_bytes(catalog)
    if not path.exists() or path.read_bytes() != new:
        path.write_bytes(new)
    with path.open("rb") as handle:  # compile what was written, as read back
        compiled = _mo_bytes(read_po(handle, locale=locale))
    mo = path.with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != compiled:
        mo.write_bytes(compiled)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spreadlab.publish.catalog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a catalog is out of step")
    args = parser.parse_args(argv)
    template = extract()
    status = 0
    for locale in TRANSLATED:
        if args.check:
            problems = check(locale, template)
            if problems:
                print(problems.report(locale))
                status = 1
            else:
                print(f"{locale}: {len(template)} messages, all translated and compiled")
        else:
            path = update(locale, template)
            problems = check(locale, template)
            print(f"{path}: {len(template)} messages"
                  + (f"; to do:\n{problems.report(locale)}" if problems else "; all translated"))
    return status


if __name__ == "__main__":
    sys.exit(main())
