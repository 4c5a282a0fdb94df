"""A non-loopback base_url must be https: tokens and keys go in those requests (issue 13.11)."""

from __future__ import annotations

import json
import os

import pytest
from pydantic import ValidationError

from synkro.controlplane import open_controlplane
from synkro.integrations.schemas import RadistConfig
from tests.controlplane_helpers import new_slug, synkro


@pytest.mark.parametrize(
    "url",
    ["https://api.radist.online", "http://127.0.0.1:8123/radist", "http://localhost:9/r", "http://[::1]:8/r"],
)
def test_https_or_this_machine_is_accepted(url: str) -> None:
    assert RadistConfig(api_key="k" * 20, company_id=1, base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://api.radist.online", "http://10.0.0.5/radist", "http://127.0.0.1.evil.com/"]
)
def test_plain_http_elsewhere_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="must use https"):
        RadistConfig(api_key="k" * 20, company_id=1, base_url=url)


def test_the_cli_refuses_it_naming_the_field_and_saves_nothing(cli_env: str) -> None:
    slug = new_slug()
    assert synkro("tenant", "create", slug, "--name", slug).exit_code == 0
    document = {"api_key": "k" * 20, "company_id": 1, "base_url": "http://api.radist.online"}
    result = synkro("config", "set", slug, "radist", "--file", "-", input=json.dumps(document))
    assert result.exit_code == 2 and "base_url" in result.output and "https" in result.output
    assert open_controlplane(os.environ["DATABASE_URL"]).configs.find_record(slug, "radist") is None
