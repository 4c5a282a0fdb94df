"""Defect 3: tenants `ab` and `ab_raw` shared the schema `ab_raw_staging` (dlt staging of one, dbt
staging of the other), and deleting `ab_raw` dropped data of `ab`. The slug rule was written five
times with three rules, one of which let a trailing newline through. Now synkro.tenancy owns the
rule and every name; new slugs cannot contain the separator, reserved names are refused, and a
tenant of the old rule still works but blocks any new slug that would share its names."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from synkro import tenancy
from synkro.controlplane import open_controlplane
from synkro.controlplane.settings import TenantSettings
from synkro.controlplane.tables import tenants
from synkro.loading import dataset_name, pipeline_name
from synkro.modeling.dbt import dbt_vars
from synkro.supabase_setup import names_for
from tests.controlplane_helpers import new_slug, synkro


def test_the_reported_collision_is_refused(cli_env: str):
    base = new_slug("ab")
    assert synkro("tenant", "create", base, "--name", "AB").exit_code == 0
    result = synkro("tenant", "create", f"{base}_raw", "--name", "AB raw")
    assert result.exit_code == 2
    assert "cannot contain '_'" in result.output
    assert open_controlplane().tenants.find(f"{base}_raw") is None


def test_a_tenant_of_the_old_rule_keeps_working_and_blocks_colliding_new_slugs(cli_env: str, database_url):
    cp = open_controlplane()
    base = new_slug("old")
    legacy = f"{base}_raw"  # created before the rule changed
    with cp.engine.begin() as conn:
        conn.execute(tenants.insert().values(slug=legacy, name="Legacy", timezone="UTC"))
    assert cp.tenants.get(legacy).slug == legacy  # still usable
    assert synkro("tenant", "show", legacy).exit_code == 0
    result = synkro("tenant", "create", base, "--name", "Would collide")
    assert result.exit_code == 2
    assert f"{base}_raw_staging" in result.output
    assert cp.tenants.find(base) is None


@pytest.mark.parametrize("slug", ["pg", "pg_data", "public", "synkro", "information_schema", "postgres"])
def test_reserved_names_are_refused_with_a_clear_message(cli_env: str, slug: str):
    result = synkro("tenant", "create", slug, "--name", "x")
    assert result.exit_code == 2
    assert "reserved" in result.output


@pytest.mark.parametrize("slug", ["acme\n", "acme\n_raw", " acme", "Acme", "a", "1acme", "a" * 32, "ac-me"])
def test_malformed_slugs_are_refused_everywhere(cli_env: str, slug: str):
    with pytest.raises(tenancy.TenantSlugError):
        tenancy.validate_slug(slug)
    for build in (dataset_name, names_for, tenancy.analysis_schema):
        with pytest.raises(ValueError):
            build(slug)
    with pytest.raises(ValueError):
        pipeline_name(slug, "amocrm")
    assert synkro("tenant", "create", slug, "--name", "x").exit_code == 2


def test_no_two_new_slugs_share_a_name():
    """By construction: exhaustive over short slugs, which hold every way a suffix can overlap."""
    alphabet = "arw"
    slugs = ["".join(p) for n in (2, 3, 4) for p in itertools.product(alphabet, repeat=n) if p[0].isalpha()]
    seen: dict[str, str] = {}
    for slug in slugs:
        for name in tenancy.names(slug).every_schema:
            assert seen.setdefault(name, slug) == slug, f"{slug} and {seen[name]} share {name}"


def test_every_builder_uses_the_one_rule():
    slug = "acme"
    names = tenancy.names(slug)
    assert dataset_name(slug) == names.raw == "acme_raw"
    assert pipeline_name(slug, "radist") == "radist_acme"
    assert names_for(slug).all_schemas == names.all_schemas
    schemas = dbt_vars(slug, TenantSettings(), "UTC")["schemas"]
    assert schemas == {
        "raw": "acme_raw",
        "staging": "acme_staging",
        "marts": "acme_marts",
        "analysis": "acme_analysis",
        "misc": "acme_misc",
    }


def test_delete_drops_only_the_tenants_own_schemas(cli_env: str, database_url: str):
    """Two tenants whose slugs share a prefix: deleting one leaves every schema of the other."""
    cp = open_controlplane()
    first, second = new_slug("ab"), None
    second = first + "x"
    for slug in (first, second):
        cp.tenants.create(slug, slug)
    plain = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        for slug in (first, second):
            for schema in tenancy.names(slug).all_schemas:
                conn.execute(f'create schema if not exists "{schema}"')
    assert synkro("tenant", "delete", second, "--yes").exit_code == 0
    with psycopg.connect(plain) as conn:
        left = {row[0] for row in conn.execute("select nspname from pg_namespace")}
    assert set(tenancy.names(first).all_schemas) <= left
    assert not set(tenancy.names(second).all_schemas) & left
