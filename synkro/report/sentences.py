"""One entry of the report says each sentence once.

Why: an entry is put together from several texts of the analysis — the evidence quote, the
summary, the recommendation — and a model (or its emulator) may say the same thing in two of them
or twice in one ("Следующий шаг не согласован." in the summary's body and again as its last
sentence). The owner reads the sentence once. Comparison ignores case, spacing and the final
punctuation; the first occurrence stays where it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A sentence ends at . ! ? or … followed by whitespace (abbreviations such as "руб." in the middle of a
# sentence split too, which only matters if the same fragment repeats — then it was a repeat anyway).
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as written (stripped), in order."""
    return [s for s in (part.strip() for part in _SENTENCE_BREAK_RE.split(text or "")) if s]


def sentence_key(sentence: str) -> str:
    """What two sentences must share to be the same: words, ignoring case and final punctuation."""
    return " ".join(sentence.casefold().split()).rstrip(".!?…;:, ")


def without_repeated_sentences(texts: Sequence[str], *, already_said: Sequence[str] = ()) -> list[str]:
    """``texts`` with every sentence dropped that an earlier text (or ``already_said``, e.g. the
    quoted evidence, which is kept verbatim) or an earlier sentence of the same text has said."""
    seen = {sentence_key(s) for text in already_said for s in sentences(text)}
    out = []
    for text in texts:
        kept = []
        for sentence in sentences(text):
            key = sentence_key(sentence)
            if key and key in seen:
                continue
            seen.add(key)
            kept.append(sentence)
        out.append(" ".join(kept))
    return out
