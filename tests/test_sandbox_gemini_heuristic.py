"""The Gemini emulator's dialog heuristic and schema filler: pure functions, predictable results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sandbox.gemini_heuristic import assess, parse_transcript
from sandbox.gemini_structured import structured_answer
from synkro.analysis.prompt import build_prompt
from synkro.analysis.rubric import DEFAULT_RUBRIC
from synkro.analysis.schema import DialogAnalysis

WAITING = """[30.11 09:00] клиент: Добрый день, есть доставка в Казань?
[30.11 11:30] менеджер: Здравствуйте! Да, доставляем. Какой у вас адрес?
[30.11 11:45] клиент: ул. Ленина 1. А сколько стоит?
"""


def test_transcript_lines_roles_and_year_rollover() -> None:
    messages = parse_transcript("intro\n[31.12 23:50] клиент: a\n[01.01 00:10] менеджер Анна: b\nnoise")
    assert [(m.role, m.text) for m in messages] == [("customer", "a"), ("manager", "b")]
    assert (messages[1].when - messages[0].when).total_seconds() == 20 * 60


def test_delay_unanswered_question_and_flags() -> None:
    a = assess(WAITING)
    assert a.max_delay_minutes == 150
    assert [m.text for m in a.unanswered_questions] == ["ул. Ленина 1. А сколько стоит?"]
    assert a.criterion("response_speed").score == 5  # 150 min is within the ≤180 band
    assert a.criterion("questions_answered").score == 0
    assert {"customer_waiting", "unanswered_question", "slow_response", "no_next_step"} <= set(a.risk_flags)


def test_lost_interest_after_agreement_cancels_next_step() -> None:
    text = "[30.11 10:00] менеджер: Здравствуйте! Созвонимся завтра?\n[30.11 10:05] клиент: Уже не актуально"
    a = assess(text)
    assert a.next_step is None and a.sentiment == "negative" and "lost_interest" in a.risk_flags


def test_no_transcript_gives_defaults_that_still_validate() -> None:
    class Small(BaseModel):
        score: int = Field(ge=1, le=5)
        label: Literal["a", "b"]
        notes: list[str] = Field(min_length=2)

    value = structured_answer(Small.model_json_schema(), assess("no dialog here"), "no dialog here")
    Small.model_validate(value)


def test_openapi_schema_with_snake_case_keys_and_nullable() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "score": {"type": "NUMBER", "minimum": 0, "maximum": 1},
            "flags": {"type": "ARRAY", "items": {"type": "STRING"}, "max_items": 2},
            "next_step": {"type": "STRING", "nullable": True},
            "greeting": {"type": "BOOLEAN"},
        },
        "property_ordering": ["score", "flags", "next_step", "greeting"],
    }
    value = structured_answer(schema, assess(WAITING), WAITING)
    assert 0 <= value["score"] <= 1 and len(value["flags"]) == 2
    assert value["next_step"] is None and value["greeting"] is True


def test_real_analysis_schema_and_rubric_prompt() -> None:
    prompt = build_prompt(WAITING, DEFAULT_RUBRIC).text
    schema = DialogAnalysis.model_json_schema()
    result = DialogAnalysis.model_validate(structured_answer(schema, assess(prompt), prompt))
    assert [c.key for c in result.criteria] == [c.key for c in DEFAULT_RUBRIC.criteria]
    assert {f.value for f in result.risk_flags} == {"customer_waiting", "no_next_step"}
    assert all(c.evidence == "" or c.evidence in WAITING for c in result.criteria)
    by_key = {c.key: c.score for c in result.criteria}
    assert by_key["greeting"] == 100 and by_key["next_step"] == 20
