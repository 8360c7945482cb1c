"""The build step pyproject.toml cannot declare: the translations' .po files are compiled to
the .mo files gettext reads (sheetfollow/i18n.py), into the wheel beside each .po.

An editable install and a source checkout have no .mo: sheetfollow compiles the .po into the
user's cache on first use instead.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path(self.build_lib, "sheetfollow", "locale").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as file:
                catalog = read_po(file, locale=po.parent.parent.name)
            with po.with_suffix(".mo").open("wb") as file:
                write_mo(file, catalog, use_fuzzy=False)


setup(cmdclass={"build_py": BuildWithCatalogs})
