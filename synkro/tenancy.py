"""Tenancy: the slug rule and every name derived from a slug (schemas, roles, pipelines, directories).

Why one module: the slug names a tenant's schemas forever, and a rule written in several places
drifted into three rules, two of which let `ab` and `ab_raw` both exist — and share the schema
`ab_raw_staging` (`ab`'s dlt staging dataset, `ab_raw`'s dbt staging schema), so deleting one
dropped the other's data. Everything that builds a tenant name calls this module; the dbt project
gets its schema names from here too (`dbt_vars` passes them), so it has no rule of its own.

Names cannot collide by construction: every schema is `<slug>_<suffix>`, and a new slug cannot
contain `_`, so the first `_` of a schema name ends the slug and the rest is a fixed suffix. Two
different slugs therefore never share a name.

Slugs of tenants created before this rule may contain `_` (the old rule); they keep working for
every existing tenant (`validate_slug`), a new tenant must pass `validate_new_slug`, and creating
one also refuses any name an existing tenant already uses (`colliding_names`), which covers the
old slugs.

Reserved: names Postgres or Synkro own (`pg_*` schemas are refused by Postgres itself,
`information_schema`, `public`, the control plane's `synkro`) are refused with a clear message.
Matching is `re.fullmatch`, so a trailing newline (which `$` lets through) is refused as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synkro.controlplane.errors import BadInputError

SEPARATOR = "_"
MAX_SLUG_LENGTH = 31
# New tenants: a lowercase letter, then letters and digits; never the separator.
NEW_SLUG_RE = re.compile(r"[a-z][a-z0-9]{1,30}")
# Tenants created under the old rule (underscores allowed); still valid for existing rows.
LEGACY_SLUG_RE = re.compile(r"[a-z][a-z0-9_]{1,30}")
# dlt writes merge loads of dataset `<slug>_raw` into `<slug>_raw_staging`; dbt nodes without a
# schema of their own land in `_misc`.
SCHEMA_SUFFIXES = ("raw", "raw_staging", "staging", "marts", "analysis", "misc")
RESERVED_SLUGS = frozenset({"pg", "public", "synkro", "information_schema", "postgres"})
RESERVED_PREFIXES = ("pg_",)
SOURCES = ("amocrm", "radist")


class TenantSlugError(BadInputError):
    """A slug that cannot name a tenant; the message says which rule it breaks."""


def validate_slug(slug: object) -> str:
    """A slug that may name an existing tenant (old rule included); raises TenantSlugError."""
    if not isinstance(slug, str) or not LEGACY_SLUG_RE.fullmatch(slug):
        raise TenantSlugError(
            f"invalid tenant slug {slug!r}: use 2-31 characters, a lowercase letter first, "
            "then lowercase letters or digits (it becomes part of schema names)"
        )
    _refuse_reserved(slug)
    return slug


def validate_new_slug(slug: object) -> str:
    """A slug a new tenant may take: no separator, so its names cannot meet another tenant's."""
    validate_slug(slug)
    assert isinstance(slug, str)
    if not NEW_SLUG_RE.fullmatch(slug):
        raise TenantSlugError(
            f"invalid tenant slug {slug!r}: a new tenant's slug cannot contain '{SEPARATOR}' "
            f"(schemas are named <slug>{SEPARATOR}raw, <slug>{SEPARATOR}marts, …, and "
            "an underscore would let two tenants' names meet); use letters and digits only"
        )
    return slug


def _refuse_reserved(slug: str) -> None:
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise TenantSlugError(
            f"tenant slug {slug!r} is reserved (pg_*, information_schema, public, synkro and postgres "
            "name the database's own schemas and roles); choose another"
        )


@dataclass(frozen=True)
class TenantNames:
    """Every warehouse, role, pipeline and directory name of one tenant."""

    slug: str

    def schema(self, suffix: str) -> str:
        if suffix not in SCHEMA_SUFFIXES:
            raise ValueError(f"unknown tenant schema suffix {suffix!r}")
        return f"{self.slug}{SEPARATOR}{suffix}"

    @property
    def raw(self) -> str:
        return self.schema("raw")

    @property
    def raw_staging(self) -> str:
        """dlt's staging dataset for merge loads into `raw`: `<dataset>_staging`."""
        return self.schema("raw_staging")

    @property
    def staging(self) -> str:
        return self.schema("staging")

    @property
    def marts(self) -> str:
        return self.schema("marts")

    @property
    def analysis(self) -> str:
        return self.schema("analysis")

    @property
    def misc(self) -> str:
        """Where dbt puts a node without a schema of its own (none does today)."""
        return self.schema("misc")

    @property
    def all_schemas(self) -> tuple[str, ...]:
        """The schemas Synkro creates and grants for the tenant (`misc` stays unused)."""
        return (self.raw, self.raw_staging, self.staging, self.marts, self.analysis)

    @property
    def every_schema(self) -> tuple[str, ...]:
        """Every schema the tenant could ever own, for collision checks and deletion."""
        return tuple(self.schema(suffix) for suffix in SCHEMA_SUFFIXES)

    @property
    def loader(self) -> str:
        return f"{self.slug}{SEPARATOR}loader"

    @property
    def transformer(self) -> str:
        return f"{self.slug}{SEPARATOR}transformer"

    @property
    def loader_schemas(self) -> tuple[str, ...]:
        return (self.raw, self.raw_staging, self.analysis)

    @property
    def transformer_schemas(self) -> tuple[str, ...]:
        return (self.staging, self.marts)

    @property
    def rls_function(self) -> str:
        return f"{self.slug}{SEPARATOR}enable_rls"

    @property
    def event_trigger(self) -> str:
        return f"synkro{SEPARATOR}{self.slug}{SEPARATOR}enable_rls"

    def pipeline(self, source: str) -> str:
        """dlt's pipeline name (`amocrm_<slug>`): also the name of its working directory."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of: {', '.join(SOURCES)}")
        return f"{source}{SEPARATOR}{self.slug}"

    @property
    def pipelines(self) -> tuple[str, ...]:
        return tuple(self.pipeline(source) for source in SOURCES)

    def dbt_dir(self, home: Path) -> Path:
        """`<home>/dbt/<slug>`: the tenant's dbt profile, parse state and run targets."""
        return home / "dbt" / self.slug

    def dbt_schemas(self) -> dict[str, str]:
        """The `schemas` var of the dbt project: the macros and sources read names from it."""
        return {suffix: self.schema(suffix) for suffix in ("raw", "staging", "marts", "analysis", "misc")}


def names(slug: str) -> TenantNames:
    """The names of an existing or new tenant (the slug is checked against the rule first)."""
    return TenantNames(validate_slug(slug))


def raw_schema(slug: str) -> str:
    return names(slug).raw


def staging_schema(slug: str) -> str:
    return names(slug).staging


def marts_schema(slug: str) -> str:
    return names(slug).marts


def analysis_schema(slug: str) -> str:
    return names(slug).analysis


def tenant_schemas(slug: str) -> list[str]:
    """The schemas a tenant's deletion drops: every one it could own."""
    return list(names(slug).every_schema)


def colliding_names(slug: str, existing: Iterable[str]) -> set[str]:
    """Schema names `slug` would share with the tenants `existing` (empty: safe to create)."""
    mine = set(names(slug).every_schema)
    shared: set[str] = set()
    for other in existing:
        if other != slug:
            shared |= mine & set(names(other).every_schema)
    return shared
