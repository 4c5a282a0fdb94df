{#
  Every node lands in a schema of the tenant given by --vars: <tenant>_staging, <tenant>_marts, ...
  The target's own schema is ignored on purpose, so one profile serves every tenant.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- set tenant = synkro_tenant() -%}
  {%- if custom_schema_name is none -%}
    {{ tenant }}_misc
  {%- else -%}
    {{ tenant }}_{{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}
