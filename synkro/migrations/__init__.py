"""Alembic migrations of the control plane (schema `synkro`); run via `synkro.controlplane.migrate`."""
