{#
  Every node lands in a schema of the tenant given by --vars: its staging, marts, ... schema as
  named in var('schemas') (built by synkro/tenancy.py). The target's own schema is ignored on
  purpose, so one profile serves every tenant.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}
    {{ synkro_schema('misc') }}
  {%- else -%}
    {{ synkro_schema(custom_schema_name | trim) }}
  {%- endif -%}
{%- endmacro %}
