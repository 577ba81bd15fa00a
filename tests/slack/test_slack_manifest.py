"""manifest.yml is a valid Slack app manifest and asks for what the bot uses."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    env = os.environ.get("FIXCHECK_SHARED_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO / ".." / "shared", REPO.parent / "shared"]
    for candidate in candidates:
        if (candidate / "slack" / "manifest.schema.1.0.0.json").is_file():
            return candidate
    pytest.skip("Slack's manifest schema not found: set FIXCHECK_SHARED_DIR to the shared folder")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_manifest_validates_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads((shared_dir() / "slack" / "manifest.schema.1.0.0.json").read_text())
    jsonschema.validate(manifest, schema)


def test_the_schemas_own_example_validates_too() -> None:
    folder = shared_dir() / "slack"
    schema = json.loads((folder / "manifest.schema.1.0.0.json").read_text())
    jsonschema.validate(json.loads((folder / "manifest.example.valid.json").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"display_information": {}}, schema)


def test_manifest_declares_what_the_bot_uses(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"commands", "chat:write", "files:read"} <= scopes
    for kind, scope in {
        "channels": "channels:history",
        "groups": "groups:history",
        "im": "im:history",
        "mpim": "mpim:history",
    }.items():
        assert f"message.{kind}" in events and scope in scopes
    assert scopes <= {
        "commands",
        "chat:write",
        "files:read",
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
    }
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/fixcheck" and command["usage_hint"]
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
