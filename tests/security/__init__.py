"""Regression tests of issue 13 (security hardening): one module per defect, each failing before its fix."""
