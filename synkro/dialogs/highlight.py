"""Find a criterion's evidence quote in the transcript lines, to mark it where the model saw it.

Why tolerant matching: the model is asked for a verbatim quote, but it often adds quotes or
ellipses, repeats the line's `[dd.mm hh:mm] who:` prefix, or changes spacing. The quote is
normalised the same way the transcript was (whitespace collapsed, PII masked) and then searched
case-insensitively; a quote that is nowhere to be found is shown beside its criterion only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synkro.analysis.pii import mask_pii

_PREFIX_RE = re.compile(r"^\[\d{2}\.\d{2} \d{2}:\d{2}\] [^:]{1,20}: ")
_TRIM = " \t\"'«»“”„…."


@dataclass
class Segment:
    """A piece of a transcript line; `keys` are the criteria whose evidence covers it."""

    text: str
    keys: list[str] = field(default_factory=list)


def normalise_quote(quote: str | None) -> str:
    """The quote as it can appear in a transcript line: masked, one-spaced, without wrapping marks."""
    text = " ".join(mask_pii(quote or "").split())
    text = _PREFIX_RE.sub("", text)
    return text.strip(_TRIM)


def _spans(line: str, quote: str) -> list[tuple[int, int]]:
    if len(quote) < 3:
        return []
    folded, needle = line.casefold(), quote.casefold()
    out, start = [], 0
    while (at := folded.find(needle, start)) >= 0:
        out.append((at, at + len(needle)))
        start = at + len(needle)
    return out


def highlight_lines(lines: list[str], evidence: dict[str, str]) -> tuple[list[list[Segment]], set[str]]:
    """Each line cut into segments marked with the criterion keys whose quote covers them.

    Also returns the keys whose quote was found somewhere. A quote spanning several lines is
    tried per line when it is not found whole.
    """
    quotes: dict[str, list[str]] = {}
    for key, raw in evidence.items():
        quote = normalise_quote(raw)
        if quote:
            parts = [p.strip(_TRIM) for p in re.split(r"\s*(?:\n|\s\.\.\.\s|\s…\s)\s*", raw or "")]
            quotes[key] = [quote] + [normalise_quote(p) for p in parts if p and normalise_quote(p) != quote]
    found: set[str] = set()
    out: list[list[Segment]] = []
    for line in lines:
        marks: list[set[str]] = [set() for _ in line]
        for key, (whole, *parts) in quotes.items():
            spans = _spans(line, whole) or [s for part in parts for s in _spans(line, part)]
            for a, b in spans:
                for i in range(a, b):
                    marks[i].add(key)
            if spans:
                found.add(key)
        out.append(_segments(line, marks))
    return out, found


def _segments(line: str, marks: list[set[str]]) -> list[Segment]:
    segments: list[Segment] = []
    for ch, keys in zip(line, marks, strict=True):
        ordered = sorted(keys)
        if segments and segments[-1].keys == ordered:
            segments[-1].text += ch
        else:
            segments.append(Segment(ch, ordered))
    return segments or [Segment("")]
