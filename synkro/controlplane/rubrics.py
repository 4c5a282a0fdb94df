"""Numbered rubric versions of a tenant, kept forever.

Why: a score is only explainable with the rubric that produced it. Every change of the rubric
(through the portal's editor, the CLI or ``update_settings``) records the full content as version
N+1 with who and when, in the same transaction as the settings change; the settings keep the
current rubric and its number (``rubric_version``), each analysis row stores that number and the
content hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, insert, select

from synkro.analysis.rubric import DEFAULT_RUBRIC, Rubric, rubric_from_settings
from synkro.controlplane.errors import BadInputError
from synkro.controlplane.tables import rubric_versions
from synkro.controlplane.tenants import validate_slug

if TYPE_CHECKING:
    from synkro.controlplane import ControlPlane


@dataclass(frozen=True)
class RubricVersion:
    number: int
    rubric: Rubric
    content_hash: str | None
    created_by: str | None
    created_at: datetime


def rubric_problems(error: ValidationError) -> str:
    """One line naming every wrong field of a rubric, e.g. ``criteria.2.weight: …``."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in item["loc"]) or "rubric"
        parts.append(f"{field}: {str(item['msg']).removeprefix('Value error, ')}")
    return "invalid rubric: " + "; ".join(parts)


def validated_rubric(value: Any) -> Rubric:
    """The rubric of a settings value (None = built-in) or BadInputError naming what is wrong."""
    try:
        return rubric_from_settings(value)
    except ValidationError as exc:
        raise BadInputError(rubric_problems(exc)) from None
    except ValueError as exc:
        raise BadInputError(f"invalid rubric: {exc}") from None


def next_number(conn: Connection, tenant_id: int, settings_number: int) -> int:
    """The number the next saved rubric gets (above both the table and the settings' counter)."""
    stored = conn.execute(
        select(func.max(rubric_versions.c.number)).where(rubric_versions.c.tenant_id == tenant_id)
    ).scalar()
    return max(stored or 0, settings_number) + 1


def record_version(conn: Connection, tenant_id: int, number: int, rubric: Rubric, actor: str | None) -> None:
    """Insert one version row; called inside the transaction that changes the settings."""
    conn.execute(
        insert(rubric_versions).values(
            tenant_id=tenant_id,
            number=number,
            content=rubric.model_dump(mode="json"),
            content_hash=rubric.version,
            created_by=actor,
        )
    )


class RubricRepository:
    def __init__(self, cp: ControlPlane):
        self._cp = cp

    def save(self, slug: str, rubric: Rubric | dict[str, Any], actor: str | None) -> RubricVersion:
        """Validate and save ``rubric`` as the tenant's current rubric: a new numbered version."""
        validate_slug(slug)
        checked = validated_rubric(rubric.model_dump(mode="json") if isinstance(rubric, Rubric) else rubric)
        self._cp.settings.update_settings(slug, actor=actor, rubric=checked.model_dump(mode="json"))
        return self.versions(slug)[0]

    def current(self, slug: str) -> tuple[int, Rubric]:
        """The rubric that scores the next run and its number (0: the built-in, never saved)."""
        settings = self._cp.settings.get_settings(slug)
        return settings.rubric_version, rubric_from_settings(settings.rubric)

    def versions(self, slug: str) -> list[RubricVersion]:
        """Every saved version of the tenant's rubric, newest first."""
        validate_slug(slug)
        with self._cp.engine.connect() as conn:
            tenant_id = self._cp.tenants.id_of(conn, slug)
            rows = conn.execute(
                select(rubric_versions)
                .where(rubric_versions.c.tenant_id == tenant_id)
                .order_by(rubric_versions.c.number.desc())
            ).all()
        return [
            RubricVersion(
                number=r.number,
                rubric=rubric_from_settings(r.content) if r.content else DEFAULT_RUBRIC,
                content_hash=r.content_hash,
                created_by=r.created_by,
                created_at=r.created_at,
            )
            for r in rows
        ]
