"""Russian by default, English on request: `?lang=en` (remembered in a cookie) or the user's setting.

Messages live in `synkro/web/messages/<area>.py` as `MESSAGES = {key: (ru, en)}`, one module per
portal area, so each page's words sit beside each other. A key missing from the catalog is a
bug, and `tests/test_web_i18n.py` finds every key the templates and routes use.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

LANGUAGES = ("ru", "en")
DEFAULT_LANG = "ru"


@cache
def catalog() -> dict[str, tuple[str, str]]:
    import synkro.web.messages as package

    merged: dict[str, tuple[str, str]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for key, pair in module.MESSAGES.items():
            if key in merged:
                raise RuntimeError(f"message key {key!r} is defined twice (messages/{info.name}.py)")
            merged[key] = pair
    return merged


def translate(lang: str, key: str, **values: object) -> str:
    """The message in `lang`, with `{name}` placeholders filled; an unknown key raises KeyError."""
    ru, en = catalog()[key]
    text = en if lang == "en" else ru
    return text.format(**values) if values else text


def pick_language(query: str | None, cookie: str | None, user_setting: str | None) -> str:
    for candidate in (query, cookie, user_setting):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANG
