{#
  The tenant vars end up inside identifiers and SQL literals, so they are validated here once
  instead of being trusted wherever they are interpolated.
#}
{% macro synkro_tenant() -%}
  {%- set tenant = var('tenant') | string -%}
  {%- if not modules.re.fullmatch('[a-z_][a-z0-9_]{0,39}', tenant) -%}
    {{ exceptions.raise_compiler_error("var 'tenant' must be a lowercase slug, got: " ~ tenant) }}
  {%- endif -%}
  {{ tenant }}
{%- endmacro %}

{% macro synkro_timezone() -%}
  {%- set tz = var('timezone') | string -%}
  {%- if not modules.re.fullmatch('[A-Za-z0-9_+\-/]{1,64}', tz) -%}
    {{ exceptions.raise_compiler_error("var 'timezone' must be an IANA zone name, got: " ~ tz) }}
  {%- endif -%}
  {{ tz }}
{%- endmacro %}

{# Minutes after local midnight at which a business day ends, from var('day_boundary') "HH:MM". #}
{% macro synkro_boundary_minutes() -%}
  {%- set raw = var('day_boundary') | string -%}
  {%- set m = modules.re.fullmatch('([01]?[0-9]|2[0-3]):([0-5][0-9])', raw) -%}
  {%- if not m -%}
    {{ exceptions.raise_compiler_error("var 'day_boundary' must be HH:MM, got: " ~ raw) }}
  {%- endif -%}
  {{ (m.group(1) | int) * 60 + (m.group(2) | int) }}
{%- endmacro %}

{#
  A phone as an owner may see it in a test report: every digit but the last four replaced by •,
  the rest of the text (notes, separators) kept so the value can be found in the CRM.
#}
{% macro mask_phone(col) -%}
  regexp_replace({{ col }}, '\d(?=(?:\D*\d){4})', '•', 'g')
{%- endmacro %}
