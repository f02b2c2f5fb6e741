"""Message catalogs: extract the UI strings, merge them into the English catalog, check it is complete.

    python scripts/i18n.py extract   # webapp/locale/messages.pot from babel.cfg
    python scripts/i18n.py update    # extract, then merge into webapp/locale/en/LC_MESSAGES/messages.po
    python scripts/i18n.py check     # exit 1 listing msgids untranslated, fuzzy or missing in en

The guide's Chinese words are the source strings (msgid); zh-CN needs no catalog. The service reads the .po
at start (webapp/i18n.py), so there is no compile step. Python is extracted with the keywords ``_``, ``N_``
and ``ngettext``; templates with Jinja's extractor (keyword arguments such as ``_("第{n}步", n=1)`` are
fine: only the first, literal argument is the msgid).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "babel.cfg"
LOCALE_DIR = ROOT / "webapp" / "locale"
TEMPLATE = LOCALE_DIR / "messages.pot"
LANGUAGES = ("en",)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")

PROJECT = "Shiming"
HEADER = "Shiming 实名 — UI strings. The msgids are the guide's Chinese words (zh-CN)."


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def extract(root: Path = ROOT) -> Catalog:
    """Every msgid of the sources named in babel.cfg, with file locations (no line numbers)."""
    with MAPPING.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, filename=str(MAPPING))
    catalog = Catalog(project=PROJECT, header_comment=f"# {HEADER}", charset="utf-8")
    catalog.creation_date = datetime(2026, 1, 1, tzinfo=UTC)  # stable output: no churn from timestamps
    for filename, lineno, message, comments, context in extract_from_dir(
        root,
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        catalog.add(
            message,
            None,
            [(Path(filename).as_posix(), lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def msgid_text(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text.replace("{{", "").replace("}}", "")))


def problems(catalog: Catalog, expected: Iterable[str] = ()) -> list[str]:
    """What keeps the catalog from being complete: missing, untranslated, fuzzy, placeholder mismatches."""
    found: list[str] = []
    present = {msgid_text(m) for m in catalog if m.id}
    found += [f"missing: {msgid}" for msgid in sorted(set(expected) - present)]
    for message in catalog:
        if not message.id:
            continue
        msgid = msgid_text(message)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if not all(strings):
            found.append(f"untranslated: {msgid}")
        elif message.fuzzy:
            found.append(f"fuzzy: {msgid}")
        else:
            wanted = placeholders(msgid)
            for string in strings:
                if placeholders(string) != wanted:
                    found.append(f"placeholders differ: {msgid} -> {string}")
    return found


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, include_lineno=False, ignore_obsolete=True, sort_by_file=False)


def read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def command_extract() -> Catalog:
    template = extract()
    write(template, TEMPLATE)
    print(f"{TEMPLATE.relative_to(ROOT)}: {sum(1 for m in template if m.id)} msgids")
    return template


def command_update() -> None:
    template = command_extract()
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            catalog = read(path, language)
        else:
            catalog = Catalog(locale=language, project=PROJECT, header_comment=f"# {HEADER}")
        catalog.update(template, update_header_comment=False)
        write(catalog, path)
        todo = problems(catalog)
        print(f"{path.relative_to(ROOT)}: {sum(1 for m in catalog if m.id)} msgids, {len(todo)} to translate")


def command_check() -> int:
    expected = {msgid_text(m) for m in extract() if m.id}
    status = 0
    for language in LANGUAGES:
        path = po_path(language)
        if not path.exists():
            print(f"{path.relative_to(ROOT)}: missing")
            status = 1
            continue
        found = problems(read(path, language), expected)
        for line in found:
            print(f"{language}: {line}")
        if found:
            status = 1
        else:
            print(f"{language}: {len(expected)} msgids, all translated")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("extract", "update", "check"))
    command = parser.parse_args(argv).command
    if command == "extract":
        command_extract()
        return 0
    if command == "update":
        command_update()
        return 0
    return command_check()


if __name__ == "__main__":
    sys.exit(main())
