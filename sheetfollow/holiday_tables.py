"""Public holiday tables from the holidays package, loading only the countries asked for.

The package loads a country when it is first asked for, but importing any one country module
first runs the package `holidays.countries`, whose `__init__` imports all 250 of them: 0.07 s
of every command, for the four or five countries a team works in. Before the first country
is loaded, that package is registered without running its `__init__`, so a country's module
loads on its own; anything else asked of the package (a name it re-exports) runs the
`__init__` then, as before. The tables are the package's own either way.

The package's `holidays.version` asks importlib.metadata for the version, and importing that
(with the email parser it reads package metadata with) costs more than loading a country:
0.015 s of every command. So the version is read from the same METADATA file, the one in
the .dist-info folder installed beside the package, and a module holding it stands in for
`holidays.version`. A package installed some other way loads as it does.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import lru_cache
from types import ModuleType
from typing import Any

_COUNTRIES = "holidays.countries"
_VERSION = "holidays.version"


def package() -> Any:
    """The holidays package, its countries loaded one at a time."""
    if "holidays" not in sys.modules:
        _register_version()
    import holidays

    if _VERSION in sys.modules and not hasattr(holidays, "version"):
        holidays.version = sys.modules[_VERSION]  # as importing it would

    if _COUNTRIES not in sys.modules:
        _register_countries(holidays)
    return holidays


def _register_version() -> None:
    spec = importlib.util.find_spec("holidays")
    if spec is None or spec.origin is None or _VERSION in sys.modules:
        return
    site = os.path.dirname(os.path.dirname(spec.origin))
    try:
        found = [
            name
            for name in os.listdir(site)
            if name.lower().startswith("holidays-") and name.endswith(".dist-info")
        ]
        if len(found) != 1:
            return  # none, or one too many to tell which is the package's
        version = _metadata_version(os.path.join(site, found[0], "METADATA"))
    except (OSError, UnicodeDecodeError):
        return
    if version is None:
        return
    stand_in = ModuleType(_VERSION)
    stand_in.__version__ = version  # type: ignore[attr-defined]
    sys.modules[_VERSION] = stand_in


def _metadata_version(path: str) -> str | None:
    """The Version header of a METADATA file (the headers end at the first empty line),
    when the file is the holidays package's."""
    name = version = None
    with open(path, encoding="utf-8") as file:
        for line in file:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if key == "Name":
                name = value.strip()
            elif key == "Version":
                version = value.strip()
    return version if name is not None and name.lower() == "holidays" else None


def _register_countries(holidays: ModuleType) -> None:
    spec = importlib.util.find_spec(_COUNTRIES)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not a package the way it used to be: let it load as it does
    countries = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def __getattr__(name: str) -> Any:
        # Something other than a country module by its own path: the whole package.
        countries.__dict__.pop("__getattr__", None)
        loader.exec_module(countries)
        return getattr(countries, name)

    countries.__dict__["__getattr__"] = __getattr__
    sys.modules[_COUNTRIES] = countries
    holidays.countries = countries  # type: ignore[attr-defined]  # as a subpackage import does


def country_holidays(country: str, subdivision: str = "") -> Any:
    """A country's (and subdivision's) public holidays, named in English whatever the
    machine's locale, so Why texts do not change with the environment cron runs in.
    Raises NotImplementedError for a country or subdivision the package does not know."""
    return package().country_holidays(country, subdiv=subdivision or None, language="en_US")


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """Every country code the package knows (NL, NLD, and aliases such as UK), without
    loading any country."""
    holidays = package()
    try:
        codes = holidays.registry.EntityLoader.get_country_codes(include_aliases=True)
    except AttributeError:  # a version without this registry: ask the documented way
        return frozenset(holidays.list_supported_countries())
    return frozenset(codes)


@lru_cache(maxsize=256)
def subdivisions(country: str) -> frozenset[str] | None:
    """The subdivision codes of a country code (upper case), as list_supported_countries()
    gives them, loading that country only; None for a code the package does not know."""
    if country not in country_codes():
        return None
    holidays = package()
    return frozenset(code.upper() for code in getattr(holidays, country).subdivisions)
