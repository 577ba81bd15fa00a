"""The bot's Prometheus metrics (`GET /metrics`), with the names the spec fixes.

Labels hold only bounded, non-identifying values: verdicts, finding codes, envelope
kinds, outcomes, Slack method and error names. Never user, channel or team ids, file
names, host names or ports: those would both leak who asked about what and make the
series count grow without bound.

One registry per process (`REGISTRY`), not prometheus_client's global one, so that
importing the module twice in tests cannot raise "duplicated timeseries".
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry()
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Slack allows 3 s for an acknowledgement; the buckets resolve the range that matters there.
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0, 5.0)
_REPLY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)

diagnoses = Counter(
    "fixcheck_diagnoses", "Diagnoses run, by verdict and first failing finding code", ["verdict", "first_failure"],
    registry=REGISTRY,
)  # fmt: skip
ack_seconds = Histogram(
    "fixcheck_ack_seconds", "Time to acknowledge Slack, by request kind", ["kind"], buckets=_ACK_BUCKETS,
    registry=REGISTRY,
)  # fmt: skip
reply_seconds = Histogram(
    "fixcheck_reply_seconds", "Time from receiving a request to posting its reply, by kind", ["kind"],
    buckets=_REPLY_BUCKETS, registry=REGISTRY,
)  # fmt: skip
probe_seconds = Histogram(
    "fixcheck_probe_seconds", "Duration of diagnoses that probed an endpoint, by outcome", ["outcome"],
    buckets=_REPLY_BUCKETS, registry=REGISTRY,
)  # fmt: skip
jobs_queued = Gauge("fixcheck_jobs_queued", "Jobs queued or running in this replica", registry=REGISTRY)
jobs_refused = Counter(
    "fixcheck_jobs_refused", "Requests not run: queue full, shutting down, or the user over the per-user limit",
    registry=REGISTRY,
)  # fmt: skip
slack_api_errors = Counter(
    "fixcheck_slack_api_errors", "Slack Web API calls that failed, by method and Slack's error name", ["method", "error"],
    registry=REGISTRY,
)  # fmt: skip
socket_connected = Gauge("fixcheck_socket_connected", "1 while the Socket Mode connection is up", registry=REGISTRY)
socket_reconnects = Counter(
    "fixcheck_socket_reconnects", "Socket Mode connections opened after the first", registry=REGISTRY
)
shared_store_up = Gauge("fixcheck_shared_store_up", "1 while the shared store (Redis) answers", registry=REGISTRY)

# Label values come from Slack or the engine; anything not shaped like a code or a method
# name is folded into "other", so that no free text (and no identifier) becomes a label.
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")


def label(value: object) -> str:
    text = str(value or "none")
    return text if _LABEL.match(text) else "other"


def kind_of(body: object) -> str:
    """The request kind for the latency histograms: command, event, interactive or other."""
    if not isinstance(body, dict):
        return "other"
    if body.get("command"):
        return "command"
    if body.get("type") == "event_callback":
        return "event"
    if body.get("type") in ("block_actions", "view_submission", "view_closed", "shortcut", "message_action"):
        return "interactive"
    return "other"


def render() -> bytes:
    return generate_latest(REGISTRY)
