"""The scoring rubric: what "a good sales dialog" means for a tenant.

Why: scores are only comparable when everyone knows what they measure. A rubric is a small list of
weighted criteria stored in the tenant settings; its version is a hash of its content, stored with
every analysis row, so a changed rubric re-scores dialogs and old scores stay explainable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

CriterionType = Literal["scored", "na_allowed", "fatal"]
CRITERION_TYPES: tuple[str, ...] = ("scored", "na_allowed", "fatal")


class Criterion(BaseModel):
    """One thing the manager is judged on; ``weight`` is its share of the overall score (percent).

    ``type``: ``scored`` always counts; ``na_allowed`` may be judged not applicable to a dialog (its
    weight is then shared by the others); ``fatal`` caps the dialog's overall score when missed
    (the rules live in ``synkro.analysis.scoring``).
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    title: str = Field(min_length=1)
    weight: int = Field(ge=1, le=100)
    description: str = Field(min_length=1)
    type: CriterionType = "scored"


class Rubric(BaseModel):
    """A weighted list of criteria whose weights sum to exactly 100."""

    name: str = "custom"
    language: str = "ru"
    criteria: list[Criterion] = Field(min_length=1)
    business_context: str = Field("", max_length=4000)

    @field_validator("criteria")
    @classmethod
    def _unique_keys(cls, criteria: list[Criterion]) -> list[Criterion]:
        keys = [c.key for c in criteria]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate criterion keys: {', '.join(duplicates)}")
        return criteria

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> Rubric:
        total = sum(c.weight for c in self.criteria)
        if total != 100:
            raise ValueError(f"criterion weights must sum to 100, got {total}")
        return self

    @property
    def version(self) -> str:
        """Content hash: any change to a key, title, weight, description, type or context gives a new one.

        Fields at their defaults (``type`` scored, empty ``business_context``) are left out of the
        hash, so rubrics saved before those fields existed keep their version and are not re-scored.
        """
        data = self.model_dump(mode="json")
        if not data["business_context"]:
            del data["business_context"]
        for criterion in data["criteria"]:
            if criterion["type"] == "scored":
                del criterion["type"]
        canonical = json.dumps(data, ensure_ascii=False, sort_keys=True)
        return "r-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]

    def keys(self) -> list[str]:
        return [c.key for c in self.criteria]


DEFAULT_RUBRIC = Rubric(
    name="Продажи в мессенджерах (встроенная)",
    language="ru",
    criteria=[
        Criterion(
            key="greeting",
            title="Приветствие",
            weight=10,
            description=(
                "Менеджер поздоровался, представился и обратился к клиенту по имени, если оно известно."
            ),
        ),
        Criterion(
            key="needs_discovery",
            title="Выявление потребностей",
            weight=25,
            description=(
                "Задавал уточняющие вопросы о задаче, сроках, бюджете и условиях, прежде чем предлагать."
            ),
        ),
        Criterion(
            key="presentation_price",
            title="Презентация и цена",
            weight=20,
            description=(
                "Предложил подходящее решение, объяснил ценность и назвал цену ясно, без уклонения."
            ),
        ),
        Criterion(
            key="objection_handling",
            title="Работа с возражениями",
            weight=15,
            description=(
                "Услышал сомнения клиента (цена, сроки, конкуренты) и ответил по существу, "
                "а не проигнорировал."
            ),
        ),
        Criterion(
            key="next_step",
            title="Фиксация следующего шага",
            weight=20,
            description=(
                "Договорился о конкретном следующем шаге: что произойдёт и когда (встреча, счёт, звонок)."
            ),
        ),
        Criterion(
            key="speed_politeness",
            title="Скорость и вежливость",
            weight=10,
            description="Отвечал быстро, не оставлял клиента без ответа, был вежлив и грамотен.",
        ),
    ],
)


def rubric_from_settings(value: Any) -> Rubric:
    """The tenant's rubric from its settings (a Rubric, a dict, JSON text) or the built-in one."""
    if value is None or value == "" or value == {}:
        return DEFAULT_RUBRIC
    if isinstance(value, Rubric):
        return value
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return Rubric.model_validate(value)
