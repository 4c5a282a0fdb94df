"""Shared pytest setup: each fixture family lives in its own module under tests/fixtures."""

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.sandbox",
    "tests.fixtures.services",
    "tests.fixtures.portal",
]
