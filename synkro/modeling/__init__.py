"""Modeling: the dbt project that turns raw API rows into per-tenant marts, and how to run it."""
