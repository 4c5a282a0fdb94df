"""Telegram's message-formatting parsers (HTML, MarkdownV2, legacy Markdown), strict like the server.

Telegram parses ``parse_mode`` text into plain text plus entities and refuses what it cannot parse
with ``400 Bad Request: can't parse entities: …``; limits (4096 for text, 1024 for captions) apply to
the *parsed* text. The emulator needs the same decisions so our renderer's escaping bugs show up in
tests, not in a customer's chat. Error wording follows Telegram's (TDLib) messages with UTF-8 byte
offsets. Entity offsets/lengths are in UTF-16 code units, as in the Bot API.

HTML rules (../shared/docs/apis/telegram.md §1): tags b/strong, i/em, u/ins, s/strike/del,
tg-spoiler or ``span class="tg-spoiler"``, a href, tg-emoji emoji-id, code, pre (optional inner
``code class="language-x"``), blockquote (optional ``expandable``); entities ``&lt; &gt; &amp; &quot;``
and numeric ones. Anything else – an unknown tag, an unclosed or mismatched tag, an unknown entity such as
``&foo;``, a bare ``<`` or ``&`` – is an error. Blockquotes cannot nest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class EntityParseError(ValueError):
    """The text cannot be parsed; ``str(exc)`` is Telegram's detail after "can't parse entities: "."""


@dataclass
class Parsed:
    """Plain text and Bot API entities (offsets in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR_RE = re.compile(r"""\s*([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, i: int) -> tuple[str, int]:
    """Decode the entity at ``text[i] == "&"``; returns (character, index after it)."""
    end = text.find(";", i + 1, i + 12)
    if end == -1:
        raise EntityParseError(
            f'Unsupported HTML entity at byte offset {_byte_offset(text, i)}: "&" must be escaped'
        )
    name = text[i + 1 : end]
    if name.startswith("#"):
        try:
            code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
            return chr(code), end + 1
        except (ValueError, OverflowError):
            pass
    elif name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], end + 1
    raise EntityParseError(f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(text, i)}')


def parse_html(source: str) -> Parsed:
    """Parse Telegram HTML; raises EntityParseError with Telegram's wording."""
    out: list[str] = []
    out_len = 0  # UTF-16 length of the text produced so far
    stack: list[tuple[str, int, dict[str, str], int]] = []  # (tag, utf16 start, attrs, byte offset)
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded, i = _decode_entity(source, i)
            out.append(decoded)
            out_len += utf16_len(decoded)
            continue
        if ch == ">":
            raise EntityParseError(f'Unsupported character ">" at byte offset {_byte_offset(source, i)}')
        if ch != "<":
            out.append(ch)
            out_len += utf16_len(ch)
            i += 1
            continue
        start = i
        close = source.find(">", i)
        if close == -1:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, start)}")
        inner = source[i + 1 : close]
        i = close + 1
        if inner.startswith("/"):
            name = inner[1:].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, start)}")
            tag, begin, attrs, _ = stack.pop()
            if name != tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {_byte_offset(source, start)}, expected "</{tag}>", '
                    f'found "</{name}>"'
                )
            entity = _html_entity(tag, attrs, begin, out_len - begin)
            if entity is not None:
                entities.append(entity)
            continue
        match = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)", inner)
        name = match[1].lower() if match else ""
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, start)}'
            )
        attrs = _parse_attrs(inner[len(name) :], source, start)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
        if name == "blockquote" and any(t == "blockquote" for t, *_ in stack):
            raise EntityParseError(
                f"Blockquotes can't be nested at byte offset {_byte_offset(source, start)}"
            )
        stack.append((name, out_len, attrs, _byte_offset(source, start)))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    text = "".join(out)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return Parsed(text, entities)


def _parse_attrs(rest: str, source: str, start: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    rest = rest.rstrip("/").strip()
    pos = 0
    while pos < len(rest):
        m = _ATTR_RE.match(rest, pos)
        if not m or m.end() == pos:
            offset = _byte_offset(source, start)
            raise EntityParseError(f"Expected equal sign in an attribute of the tag at byte offset {offset}")
        value = next((g for g in m.groups()[1:] if g is not None), "")
        attrs[m[1].lower()] = re.sub(r"&(lt|gt|amp|quot);", lambda e: _NAMED_ENTITIES[e[1]], value)
        pos = m.end()
    return attrs


def _html_entity(tag: str, attrs: dict[str, str], offset: int, length: int) -> dict[str, Any] | None:
    if length <= 0:
        return None
    kind = _HTML_TAGS[tag]
    entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
    if tag == "a":
        href = attrs.get("href")
        if not href:
            return None
        if href.startswith("tg://user?id="):
            entity = {
                "type": "text_mention",
                "offset": offset,
                "length": length,
                "user": {"id": int(href[13:] or 0)},
            }
        else:
            entity["url"] = href
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs["emoji-id"]
    elif tag == "pre" and "class" in attrs:
        entity["language"] = attrs["class"].removeprefix("language-")
    elif tag == "code" and attrs.get("class", "").startswith("language-"):
        entity = {"type": "pre", "offset": offset, "length": length, "language": attrs["class"][9:]}
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    return entity


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}


def parse_markdown_v2(source: str) -> Parsed:
    """MarkdownV2: every reserved character outside markup must be escaped with ``\\``."""
    out: list[str] = []
    open_marks: list[tuple[str, int]] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n:
            out.append(source[i + 1])
            i += 2
            continue
        if ch == "`":
            fence = "```" if source.startswith("```", i) else "`"
            end = source.find(fence, i + len(fence))
            if end == -1:
                name = "Pre" if fence == "```" else "Code"
                raise EntityParseError(
                    f"Can't find end of {name} entity at byte offset {_byte_offset(source, i)}"
                )
            out.append(source[i + len(fence) : end])
            i = end + len(fence)
            continue
        if ch == "[":
            close = source.find("](", i)
            end = source.find(")", close + 2) if close != -1 else -1
            if close == -1 or end == -1:
                raise EntityParseError(
                    f"Can't find end of TextUrl entity at byte offset {_byte_offset(source, i)}"
                )
            out.append(source[i + 1 : close])
            i = end + 1
            continue
        mark = source[i : i + 2] if source[i : i + 2] in ("__", "||") else ch
        if mark in _MDV2_NAMES:
            if open_marks and open_marks[-1][0] == mark:
                open_marks.pop()
            else:
                open_marks.append((mark, _byte_offset(source, i)))
            i += len(mark)
            continue
        if ch == ">" and (i == 0 or source[i - 1] == "\n"):
            i += 1
            continue
        if ch in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(ch)
        i += 1
    if open_marks:
        mark, offset = open_marks[-1]
        raise EntityParseError(f"Can't find end of {_MDV2_NAMES[mark]} entity at byte offset {offset}")
    return Parsed("".join(out))


def parse_markdown(source: str) -> Parsed:
    """Legacy Markdown: ``*bold*``, ``_italic_``, `` `code` ``, ```` ```pre``` ````, ``[text](url)``."""
    out: list[str] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch in "*_`[":
            fence = "```" if source.startswith("```", i) else ("](" if ch == "[" else ch)
            closer = ")" if ch == "[" else fence
            end = source.find(closer if ch != "[" else "](", i + len(fence) if ch != "[" else i + 1)
            if ch == "[" and end != -1:
                end = source.find(")", end + 2)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(source, i)}"
                )
            inner = source[i + 1 : source.find("](", i)] if ch == "[" else source[i + len(fence) : end]
            out.append(inner)
            i = end + len(closer)
            continue
        out.append(ch)
        i += 1
    return Parsed("".join(out))


def parse_text(text: str, parse_mode: str | None) -> Parsed:
    """Parse ``text`` by Telegram's ``parse_mode`` (case-insensitive); None means plain text."""
    if parse_mode is None or parse_mode == "":
        return Parsed(text)
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise ValueError("unsupported parse_mode")
