"""Implicit context caching as the Gemini API reports it: ``cachedContentTokenCount``.

Gemini caches request prefixes on its own and bills the cached part of ``promptTokenCount`` at a
reduced rate, reporting it in ``usageMetadata.cachedContentTokenCount`` (../shared/docs/apis/gemini.md
§5). A hit needs the same key (project) and model, a prefix of at least the model's minimum
(1,024 tokens on Flash models, 4,096 on Pro) and an earlier request recent enough to still be
cached. The emulator keeps the last ``KEEP`` requests per (key, model) and reports the longest
common prefix with any of them — system instruction, then response schema, then contents, the
order the request is read in — in the emulator's ≈4-characters-per-token units.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

KEEP = 64
FLASH_MIN_TOKENS = 1024
PRO_MIN_TOKENS = 4096
CHARS_PER_TOKEN = 4


def _common_prefix(a: str, b: str) -> int:
    """Length of the common leading part of two strings (binary search on slices: C-speed compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def min_tokens(model_id: str) -> int:
    return PRO_MIN_TOKENS if "-pro" in model_id else FLASH_MIN_TOKENS


def request_prefix_text(system_texts: list[str], schema: Any, content_texts: list[str]) -> str:
    """The request as one string in the order Gemini reads it, for prefix matching."""
    schema_text = json.dumps(schema, ensure_ascii=False, sort_keys=True) if schema is not None else ""
    return "\n".join(system_texts) + "\x00" + schema_text + "\x00" + "\n".join(content_texts)


@dataclass
class ImplicitCache:
    """Recent request texts per (api key, model)."""

    recent: dict[tuple[str, str], deque[str]] = field(default_factory=dict)

    def cached_tokens(self, key: str, model_id: str, text: str, prompt_tokens: int) -> int:
        """Tokens of ``text`` served from the cache (0 below the minimum); remembers ``text``."""
        seen = self.recent.setdefault((key, model_id), deque(maxlen=KEEP))
        common = max((_common_prefix(text, old) for old in seen), default=0)
        seen.append(text)
        tokens = min(common // CHARS_PER_TOKEN, prompt_tokens)
        return tokens if tokens >= min_tokens(model_id) else 0

    def clear(self) -> None:
        self.recent.clear()
