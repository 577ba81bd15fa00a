"""The shape of interactivity payloads, checked before Bolt's listener matchers read them.

Bolt's matchers and its "unhandled request" warning index payloads without checking
(`body["view"]["type"]`, `body["actions"][0]["action_id"]`): a payload of the wrong
shape raised there (even while building a middleware's arguments, so no Bolt middleware
can catch it), answered 500 and logged a traceback. The HTTP front end answers such a
payload 400 before dispatching it (`bot.slack.server.well_formed`).

The rules are data: for each payload type, the paths Bolt reads and the type each must
have. Objects that identify the sender (`user`, `team`, …) must be objects when present.
"""

from __future__ import annotations

from typing import Any

_VIEW = (("view", dict), ("view.type", str), ("view.callback_id", str))
_CALLBACK = (("callback_id", str),)
REQUIRED: dict[str, tuple[tuple[str, type], ...]] = {
    "view_submission": _VIEW,
    "view_closed": _VIEW,
    "block_actions": (("actions", list), ("actions.0", dict), ("actions.0.action_id", str)),
    "block_suggestion": (("action_id", str), ("block_id", str)),
    "shortcut": _CALLBACK,
    "message_action": _CALLBACK,
    "interactive_message": (*_CALLBACK, ("actions", list)),
    "dialog_submission": _CALLBACK,
    "dialog_suggestion": _CALLBACK,
    "dialog_cancellation": _CALLBACK,
    "event_callback": (("event", dict),),  # `"event": null` raised while Bolt built its arguments
}
OBJECTS_IF_PRESENT = ("user", "team", "enterprise", "channel", "container", "message", "view", "state")


def problem(body: Any) -> str | None:
    """What is wrong with a payload's shape, or None (types not in REQUIRED, e.g. commands: None)."""
    if not isinstance(body, dict):
        return "the payload is not an object"
    kind = body.get("type")
    if kind not in REQUIRED:
        return None
    for key in OBJECTS_IF_PRESENT:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"`{key}` is not an object"
    for path, expected in REQUIRED[kind]:
        if not isinstance(_at(body, path), expected):
            return f"`{path}` is missing or not a {expected.__name__}"
    if kind == "block_actions" and not all(isinstance(a, dict) for a in body["actions"]):
        return "`actions` holds something other than objects"
    return None


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            return None
    return value
