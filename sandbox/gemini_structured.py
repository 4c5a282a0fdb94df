"""Fill a Gemini response schema with values taken from a dialog assessment.

Gemini's structured output answers exactly the caller's schema, so the emulator must do the same for
any schema our analysis code may send: the OpenAPI subset of ``responseSchema`` (``type: "OBJECT"``,
``nullable``, ``enum``, ``minimum``/``maximum``, ``minItems``/``maxItems`` – the SDK also sends them in
snake case, e.g. ``max_items``) and standard JSON Schema in ``responseJsonSchema`` (``$ref``/``$defs``,
``anyOf``, ``type: [..., "null"]``, ``const``, ``minLength``/``maxLength``).

Values are chosen by property name (normalised to lower snake case): score/rating → the overall ratio
or, inside a criterion, that criterion's ratio, scaled to the schema's bounds (defaults 0–100 overall,
0–10 per criterion, or an ``N–M`` scale stated in the prompt); evidence/quote → the quoted line;
reason/rationale/comment → the reason; criteria/scores/rubric → one entry per criterion; objections,
next_step, risk_flags, sentiment, summary, recommendation, unanswered, price, competitor, lost_interest,
greeting, delay/response_time and dialog_id/chat_id are recognised too. Anything unrecognised gets a
schema-valid default (first enum value, lower bound, empty string, ``false``, minimum items).

When the prompt lists a rubric as ``- key — Title — 25% — description`` lines, a criteria list gets one
entry per rubric key (mapped to the heuristic's criteria by name; a key matching several, such as
``speed_politeness``, gets their mean), and the overall score becomes the rubric-weighted mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.gemini_heuristic import CRITERIA_TITLES, Assessment, Criterion

_CRITERION_ALIASES: dict[str, tuple[str, ...]] = {
    "greeting": ("greet", "привет", "hello"),
    "needs_discovery": ("need", "discover", "qualif", "потребн"),
    "price_presentation": ("price", "present", "цен", "презент", "offer"),
    "response_speed": ("speed", "response_time", "delay", "скорост", "время_ответа", "sla", "reply_time"),
    "questions_answered": ("question", "unanswer", "вопрос", "answer"),
    "objection_handling": ("objection", "возраж"),
    "next_step": ("next", "step", "шаг", "close", "closing", "agreement", "договор"),
    "tone": ("tone", "polite", "тон", "вежлив", "empathy", "courtesy", "rude"),
}
# Rubric lines in the prompt: "- key — Title — 25% — description".
_RUBRIC_RE = re.compile(r"^\s*[-•*]\s*([a-z][a-z0-9_]{2,40})\s+[—–-]\s+[^\n]*?(\d{1,3})\s*%", re.MULTILINE)
_WHEN_RE = re.compile(
    r"(сегодня|завтра|послезавтра|в (?:понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)"
    r"|на (?:этой|следующей) неделе|\d{1,2}\.\d{1,2}(?:\.\d{2,4})?)"
    r"(?:[^.!?\n]{0,3}?(?:в|к)\s*\d{1,2}(?::\d{2})?)?",
    re.IGNORECASE,
)
_SENTIMENT_ALIASES = {
    "positive": ("positive", "позитив", "good", "хорош"),
    "neutral": ("neutral", "нейтрал", "mixed"),
    "negative": ("negative", "негатив", "bad", "плох"),
}
_SCALE_RE = re.compile(
    r"(?:шкал|scale|балл|score|оцен)[^\n\d]{0,40}?(\d{1,3})\s*(?:[-–—]|до|to|\.\.)\s*(\d{1,3})", re.IGNORECASE
)
_DIALOG_ID_RE = re.compile(r"(?:dialog_id|chat_id|диалог|dialog)\s*[:#№]?\s*([\w-]{1,64})", re.IGNORECASE)


@dataclass(frozen=True)
class _Ctx:
    """What the current part of the schema describes: the whole dialog or one criterion."""

    assessment: Assessment
    prompt: str
    criterion: Criterion | None = None
    objection: int | None = None


def _norm(key: str) -> str:
    return re.sub(r"[^0-9a-zа-яё]+", "_", key.lower()).strip("_")


def _get(schema: dict[str, Any], camel: str) -> Any:
    snake = re.sub(r"([A-Z])", r"_\1", camel).lower()
    return schema.get(camel, schema.get(snake))


class SchemaFiller:
    """Turns one schema plus one assessment into a JSON value; resolves ``$ref`` against the root."""

    def __init__(self, schema: dict[str, Any], assessment: Assessment, prompt: str) -> None:
        self.root = schema
        self.ctx = _Ctx(assessment, prompt)
        self.rubric = [(m[1], float(m[2])) for m in _RUBRIC_RE.finditer(prompt)]
        if len(self.rubric) >= 2 and assessment.criteria:
            ratios = [(self._criterion_for(key, self.ctx), weight) for key, weight in self.rubric]
            total = sum(w for c, w in ratios if c is not None)
            if total:
                weighted = sum(c.ratio * w for c, w in ratios if c is not None) / total
                assessment.overall = max(0.0, weighted - (0.1 if assessment.lost_interest else 0.0))
            if assessment.injected:  # the gullible answer claims the top score whatever the criteria
                assessment.overall = 1.0
            self.ctx = _Ctx(assessment, prompt)
        scale = _SCALE_RE.search(prompt)
        self.prompt_scale = (
            (int(scale[1]), int(scale[2])) if scale and int(scale[2]) > int(scale[1]) else None
        )

    def fill(self) -> Any:
        return self._value(self.root, "", self.ctx, top=True)

    # -- schema plumbing -------------------------------------------------------------------
    def _resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Follow ``$ref`` and pick the first non-null ``anyOf`` branch; report whether null is allowed."""
        nullable = bool(schema.get("nullable"))
        for _ in range(20):
            if "$ref" in schema:
                ref = schema["$ref"]
                node: Any = self.root
                for part in ref.lstrip("#/").split("/"):
                    node = node.get(part, {}) if isinstance(node, dict) else {}
                merged = {k: v for k, v in schema.items() if k != "$ref"}
                schema = {**node, **merged}
                continue
            options = _get(schema, "anyOf") or schema.get("oneOf")
            if options:
                non_null = [o for o in options if _type(o) != "null"]
                nullable = nullable or len(non_null) < len(options)
                rest = {k: v for k, v in schema.items() if k not in ("anyOf", "any_of", "oneOf")}
                schema = {**(non_null[0] if non_null else {"type": "null"}), **rest}
                continue
            break
        types = schema.get("type")
        if isinstance(types, list):
            nullable = nullable or "null" in [str(t).lower() for t in types]
            non_null = [t for t in types if str(t).lower() != "null"]
            schema = {**schema, "type": non_null[0] if non_null else "null"}
        return schema, nullable or bool(schema.get("nullable"))

    def _value(self, schema: dict[str, Any], key: str, ctx: _Ctx, top: bool = False) -> Any:
        schema, nullable = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        kind = _type(schema)
        if kind == "object" or (kind is None and "properties" in schema):
            return self._object(schema, key, ctx, top)
        if kind == "array":
            return self._array(schema, key, ctx)
        value = self._scalar(schema, kind, key, ctx, nullable)
        return value

    def _object(self, schema: dict[str, Any], key: str, ctx: _Ctx, top: bool) -> dict[str, Any]:
        if not top and ctx.criterion is None and (criterion := self._criterion_for(key, ctx)) is not None:
            ctx = _Ctx(ctx.assessment, ctx.prompt, criterion, ctx.objection)
        props: dict[str, Any] = schema.get("properties") or {}
        order = _get(schema, "propertyOrdering") or list(props)
        order += [p for p in props if p not in order]
        return {name: self._value(props[name], name, ctx) for name in order if name in props}

    def _array(self, schema: dict[str, Any], key: str, ctx: _Ctx) -> list[Any]:
        items, _ = self._resolve(schema.get("items") or {"type": "string"})
        k = _norm(key)
        a = ctx.assessment
        values: list[Any]
        if (
            _type(items) == "object"
            and ctx.criterion is None
            and _matches(k, "criteri", "scores", "rubric", "breakdown", "оценк", "критер")
        ):
            values = [
                self._value(items, key, _Ctx(a, ctx.prompt, c)) for c in self._criteria_for_items(items)
            ]
        elif _matches(k, "objection", "возраж"):
            if _type(items) == "object":
                values = [
                    self._value(items, "", _Ctx(a, ctx.prompt, ctx.criterion, i))
                    for i in range(len(a.objections))
                ]
            else:
                values = [self._fit_scalar(items, o.text) for o, _ in a.objections]
        elif _matches(k, "risk", "flag", "риск"):
            values = self._risk_flags(items)
        elif _matches(k, "unanswer", "без_ответа"):
            values = [self._fit_scalar(items, m.text) for m in a.unanswered]
        elif _matches(k, "evidence", "quote", "цитат"):
            evidence = self._evidence(ctx)
            values = [self._fit_scalar(items, evidence)] if evidence else []
        elif _matches(k, "recommend", "advice", "suggest", "рекоменд", "совет"):
            values = [self._fit_scalar(items, a.recommendation)]
        elif _matches(k, "competitor", "конкурент"):
            values = [self._fit_scalar(items, m.text) for m in a.competitor]
        elif _matches(k, "price", "цен"):
            values = [self._fit_scalar(items, m.text) for m in a.price_talk]
        else:
            values = []
        if _type(items) not in ("object", "array"):
            values = [v for v in values if v is not None]
        lo = int(_get(schema, "minItems") or 0)
        hi = _get(schema, "maxItems")
        while len(values) < lo:
            values.append(self._value(items, key, ctx))
        return values[: int(hi)] if hi is not None else values

    def _scalar(self, schema: dict[str, Any], kind: str | None, key: str, ctx: _Ctx, nullable: bool) -> Any:
        k = _norm(key)
        a = ctx.assessment
        c = ctx.criterion
        if kind in ("integer", "number"):
            return self._number(schema, kind, k, ctx)
        if kind == "boolean":
            return self._boolean(k, ctx)
        if kind == "null":
            return None
        # strings (and untyped leaves)
        text: str | None
        objection = a.objections[ctx.objection] if ctx.objection is not None else None
        if objection is not None and _matches(k, "response", "handl", "answer", "reply", "ответ", "отработ"):
            text = objection[1].text if objection[1] else ""
        elif objection is not None and _matches(
            k, "objection", "text", "quote", "возраж", "цитат", "evidence"
        ):
            text = objection[0].text
        elif _matches(k, "sentiment", "mood", "тональ", "настроен"):
            text = a.sentiment
        elif _matches(k, "dialog_id", "chat_id", "dialogue_id", "conversation_id"):
            found = _DIALOG_ID_RE.search(ctx.prompt)
            text = found[1] if found else ""
        elif c is not None and _is_name_key(k):
            text = self._criterion_name(schema, c)
        elif _matches(k, "evidence", "quote", "цитат", "пример"):
            text = self._evidence(ctx)
        elif _matches(
            k, "reason", "rationale", "explan", "comment", "justif", "обоснов", "причин", "коммент"
        ):
            text = c.reason if c else a.summary
        elif _matches(k, "when", "когда", "date", "deadline", "срок"):
            found = _WHEN_RE.search(a.next_step.text) if a.next_step else None
            text = found[0] if found else ("" if a.next_step else None)
        elif _matches(k, "next_step", "nextstep", "следующ", "шаг"):
            text = a.next_step.text if a.next_step else None
        elif _matches(k, "summary", "резюме", "итог", "вывод", "description", "описан"):
            text = a.summary
        elif _matches(k, "recommend", "advice", "suggest", "рекоменд", "совет", "improve"):
            text = a.recommendation
        elif _matches(k, "verdict", "status", "result", "grade", "quality", "level"):
            text = "good" if a.overall >= 0.7 else "average" if a.overall >= 0.4 else "bad"
        else:
            text = ""
        if text is None:
            return None if nullable else self._fit_scalar(schema, "")
        return self._fit_scalar(schema, text)

    # -- meaning ---------------------------------------------------------------------------
    def _criterion_for(self, key: str, ctx: _Ctx) -> Criterion | None:
        """The assessment's criterion named by ``key``; several matches (speed_politeness) are averaged."""
        k = _norm(key)
        if not k or not ctx.assessment.criteria:
            return None
        exact = [c for c in ctx.assessment.criteria if c.key == k]
        found = exact or [
            c
            for c in ctx.assessment.criteria
            if any(alias in k for alias in _CRITERION_ALIASES.get(c.key, ()))
        ]
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        worst = min(found, key=lambda c: c.score)
        score = round(sum(c.score for c in found) / len(found))
        return Criterion(key, " / ".join(c.title for c in found), score, worst.evidence, worst.reason)

    def _criteria_for_items(self, items: dict[str, Any]) -> list[Criterion]:
        """One criterion per item; when the item's name field is an enum, one per enum value."""
        a = self.ctx.assessment
        props = items.get("properties") or {}
        for name, prop in props.items():
            resolved, _ = self._resolve(prop)
            if resolved.get("enum") and _is_name_key(_norm(name)):
                result = []
                for value in resolved["enum"]:
                    crit = self._criterion_for(str(value), self.ctx)
                    if crit is None:
                        crit = Criterion(str(value), str(value), round(a.overall * 10), "", a.summary)
                    result.append(crit)
                return result
        if len(self.rubric) >= 2:
            result = []
            for key, _weight in self.rubric:
                crit = self._criterion_for(key, self.ctx)
                if crit is None:
                    crit = Criterion(key, key, round(a.overall * 10), "", a.summary)
                result.append(Criterion(key, crit.title, crit.score, crit.evidence, crit.reason))
            return result
        return list(a.criteria)

    def _criterion_name(self, schema: dict[str, Any], c: Criterion) -> str:
        options = schema.get("enum")
        if options:
            for option in options:
                if _norm(str(option)) == c.key or self._criterion_for(str(option), self.ctx) == c:
                    return str(option)
            return str(options[0])
        return c.key

    def _evidence(self, ctx: _Ctx) -> str:
        if ctx.criterion is not None:
            return ctx.criterion.evidence
        worst = min(ctx.assessment.criteria, key=lambda c: c.score, default=None)
        return worst.evidence if worst else ""

    def _number(self, schema: dict[str, Any], kind: str, k: str, ctx: _Ctx) -> int | float:
        a = ctx.assessment
        lo, hi = _bounds(schema)
        value: float
        if ctx.objection is not None and _matches(k, "handled", "отработ"):
            value = 1.0 if a.objections[ctx.objection][1] else 0.0
        elif _matches(k, "unanswer", "без_ответа"):
            value = len(a.unanswered_questions) if "question" in k or "вопрос" in k else len(a.unanswered)
        elif _matches(k, "delay", "response_time", "minutes", "wait", "задерж", "ожидан"):
            value = a.avg_delay_minutes if _matches(k, "avg", "mean", "средн") else a.max_delay_minutes
        elif _matches(k, "objections_handled", "handled_objections", "отработан"):
            value = a.objections_handled
        elif _matches(k, "objection", "возраж"):
            value = len(a.objections)
        elif _matches(k, "message", "сообщен") and _matches(k, "count", "num", "колич", "total"):
            value = len(a.messages)
        elif _matches(k, "confidence", "уверенн", "probab"):
            # A short exchange tells little: a careful model is less sure of it.
            value = 0.85 if len(a.messages) >= 3 else (0.5 if a.messages else 0.1)
            lo, hi = (lo if lo is not None else 0.0), (hi if hi is not None else 1.0)
            value = lo + value * (hi - lo)
        else:
            ratio = ctx.criterion.ratio if ctx.criterion is not None else a.overall
            if lo is None or hi is None:
                default = (0, 10) if ctx.criterion is not None else (0, 100)
                scale = self.prompt_scale if self.prompt_scale and ctx.criterion is None else default
                lo = scale[0] if lo is None else lo
                hi = max(scale[1], lo + 1) if hi is None else hi
            value = lo + ratio * (hi - lo)
        if lo is not None:
            value = max(value, lo)
        if hi is not None:
            value = min(value, hi)
        return round(value) if kind == "integer" else round(float(value), 2)

    def _boolean(self, k: str, ctx: _Ctx) -> bool:
        a = ctx.assessment
        if ctx.objection is not None and _matches(k, "handled", "отработ"):
            return a.objections[ctx.objection][1] is not None
        if ctx.criterion is not None and _matches(k, "pass", "ok", "met", "выполн", "success"):
            return ctx.criterion.score >= 7
        checks: list[tuple[tuple[str, ...], bool]] = [
            (("unanswer", "без_ответа"), bool(a.unanswered_questions)),
            (
                ("objections_handled", "handled", "отработ"),
                bool(a.objections) and a.objections_handled == len(a.objections),
            ),
            (("next_step", "nextstep", "шаг", "agreed", "договор"), a.next_step is not None),
            (("lost", "interest", "интерес"), bool(a.lost_interest)),
            (("competitor", "конкурент"), bool(a.competitor)),
            (("price", "цен"), bool(a.price_talk)),
            (("objection", "возраж"), bool(a.objections)),
            (("greet", "привет"), a.greeting is not None),
            (("rude", "груб", "toxic"), bool(a.rude)),
            (("slow", "delay", "late", "задерж"), a.max_delay_minutes > 60),
            (("polite", "вежлив"), not a.rude),
        ]
        return next((value for words, value in checks if _matches(k, *words)), False)

    def _risk_flags(self, items: dict[str, Any]) -> list[Any]:
        flags = self.ctx.assessment.risk_flags
        options = items.get("enum")
        if not options:
            return [self._fit_scalar(items, f) for f in flags]
        chosen: list[Any] = []
        for flag in flags:
            words = flag.split("_")
            for option in options:
                if option not in chosen and (
                    _norm(str(option)) == flag or all(w[:5] in _norm(str(option)) for w in words)
                ):
                    chosen.append(option)
        return chosen

    def _fit_scalar(self, schema: dict[str, Any], text: str) -> Any:
        schema, _ = self._resolve(schema)
        kind = _type(schema)
        if kind in ("integer", "number"):
            lo, _hi = _bounds(schema)
            return lo if lo is not None else 0
        if kind == "boolean":
            return bool(text)
        options = schema.get("enum")
        if options:
            return _pick_enum(options, text)
        max_len = _get(schema, "maxLength")
        min_len = int(_get(schema, "minLength") or 0)
        value = text[: int(max_len)] if max_len is not None else text
        if len(value) < min_len:
            value = value + "-" * (min_len - len(value))
        return value


def _type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind is None and "enum" in schema:
        return "string"
    return str(kind).lower() if kind is not None and not isinstance(kind, list) else None


def _bounds(schema: dict[str, Any]) -> tuple[float | None, float | None]:
    lo = schema.get("minimum", _get(schema, "exclusiveMinimum"))
    hi = schema.get("maximum", _get(schema, "exclusiveMaximum"))
    if _get(schema, "exclusiveMinimum") is not None and lo is not None:
        lo = lo + 1
    if _get(schema, "exclusiveMaximum") is not None and hi is not None:
        hi = hi - 1
    return (float(lo) if lo is not None else None, float(hi) if hi is not None else None)


def _is_name_key(key: str) -> bool:
    """Whether a property names the criterion (``name``, ``criterion``, ``criterion_id`` …)."""
    return key in ("name", "key", "title", "id", "label", "code") or key.startswith(
        ("criteri", "критер", "назван")
    )


def _matches(key: str, *words: str) -> bool:
    return any(w in key for w in words)


def _pick_enum(options: list[Any], text: str) -> Any:
    """The enum value that names ``text`` (sentiment synonyms included), else the first value."""
    wanted = _norm(text)
    for option in options:
        if _norm(str(option)) == wanted:
            return option
    for canonical, aliases in _SENTIMENT_ALIASES.items():
        if wanted == canonical or wanted in aliases:
            for option in options:
                if any(alias in _norm(str(option)) for alias in aliases):
                    return option
    for option in options:
        if wanted and (wanted in _norm(str(option)) or _norm(str(option)) in wanted):
            return option
    return options[0]


def structured_answer(schema: dict[str, Any], assessment: Assessment, prompt: str) -> Any:
    """The JSON value Gemini would return for ``schema``, derived from ``assessment``."""
    return SchemaFiller(schema, assessment, prompt).fill()


__all__ = ["CRITERIA_TITLES", "structured_answer"]
