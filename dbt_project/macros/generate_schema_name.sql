{#
  Every node lands in a schema of the tenant given by --vars: its staging, marts, ... schema as
  named in var('schemas') (built by synkro/tenancy.py). The target's own schema is ignored on
  purpose, so one profile serves every tenant. dbt asks for `dbt_test__audit` for every test
  (used only with store_failures, which Synkro leaves off): it maps to the tenant's misc schema.
  Any other unknown schema is a typo in the project and fails the parse.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none or (custom_schema_name | trim) == 'dbt_test__audit' -%}
    {{ synkro_schema('misc') }}
  {%- else -%}
    {{ synkro_schema(custom_schema_name | trim) }}
  {%- endif -%}
{%- endmacro %}
