"""The Slack bot repeats no key material: canaries uploaded, pasted, typed into commands and modals.

The real bot (subprocess, uvicorn, LOG_LEVEL=DEBUG, TMPDIR an empty folder) runs against
the fake Slack; every request it makes (raw, URL-decoded, parsed), every acknowledgement
it returns, its whole log, and every file in its TMPDIR are scanned for any run of any
canary key.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx

from tests.leakguard import Canaries, LeakGuard, key_variants
from tests.security.conftest import MtlsServer
from tests.slack.fakeslack import Call, FakeSlack, send_command, send_event, send_interaction
from tests.slack.localservers import Bot


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


def _upload(
    fake: FakeSlack, channel: str, files: dict[str, bytes], *, text: str = "", user: str | None = None
) -> dict[str, object]:
    objs = [fake.add_file(_id("F"), name, data).obj(fake.base) for name, data in files.items()]
    return {
        "type": "message", "subtype": "file_share", "channel": channel, "channel_type": "channel",
        "user": user or _id("U"), "text": text, "ts": f"{time.time():.6f}", "files": objs,
    }  # fmt: skip


def _threaded(fake: FakeSlack, channel: str) -> list[Call]:
    return fake.wait_for(
        lambda c: (
            c.api == "chat.postMessage" and c.params.get("channel") == channel and bool(c.params.get("thread_ts"))
        ),
        1,
        30,
    )


def _scan_call(guard: LeakGuard, call: Call) -> None:
    where = f"{call.method} {call.path}"
    guard.check(where, call.text())
    guard.check(f"{where} (headers)", "\n".join(call.headers.values()))
    guard.check(f"{where} (parsed)", json.dumps(call.params) + "\n" + call.all_text())


def test_canaries_through_every_slack_input_leak_nowhere(
    security_bot: Bot,
    security_slack: FakeSlack,
    canaries: Canaries,
    guard: LeakGuard,
    canary_mtls_server: MtlsServer,
    bot_tmpdir: Path,
) -> None:
    fake = security_slack
    before = len(fake.calls)
    acks: list[tuple[str, str]] = []
    ca_crt = canaries.ca.cert_pem
    channels: list[str] = []
    with httpx.Client(timeout=10) as http:
        # 1. Uploads: every canary as a bundle, alone, mangled, misnamed; with an endpoint so step 4 uses a key.
        for canary in canaries.hosts:
            channel = _id("CUP")
            variants = key_variants(canary)
            files = {
                "fix.itbit.pem": canary.cert_pem + canary.key_pem,
                "ca.crt": ca_crt,
                "itbit-ca.pem": ca_crt,
                "ca.key": canaries.ca.key_pem,
                "notes.txt": canary.key_pem,
                "stunnel.conf": b"client = yes\n[fix]\nconnect = fix.example.com:4490\nkey = " + canary.key_pem,
                **{
                    f"{name}.key": variants[name]
                    for name in ("truncated", "corrupted", "elided", "no-end", "body-only")
                },
            }
            event = _upload(fake, channel, files, text=f"failing against {canary_mtls_server.endpoint}")
            response = send_event(http, security_bot.events_url, event, _id("Ev"))
            acks.append((f"upload ack {canary.kind}", response.text))
            channels.append(channel)
        # 2. Pasted PEM text, in a DM and in a channel, in a code fence and bare.
        for n, canary in enumerate(canaries.all):
            channel = _id("DPASTE" if n % 2 else "CPASTE")
            pasted = (canary.cert_pem + canary.key_pem).decode()
            text = f"here is my bundle:\n```{pasted}```" if n % 2 else pasted
            event = {
                "type": "message", "channel": channel, "channel_type": "im" if n % 2 else "channel",
                "user": _id("U"), "text": text, "ts": f"{time.time():.6f}",
            }  # fmt: skip
            acks.append((f"paste ack {canary.kind}", send_event(http, security_bot.events_url, event, _id("Ev")).text))
            channels.append(channel)
        # 3. A key typed into the slash command (whose acknowledgement echoes what it did not understand).
        for canary in (canaries.ec, canaries.pkcs1):
            key = _id("cmd")
            response = send_command(
                http,
                security_bot.events_url,
                canary.key_pem.decode(),
                user=_id("U"),
                response_url=fake.response_url(key),
            )
            assert response.status_code == 200
            acks.append((f"/fixcheck <{canary.kind} key> ack", response.text))
        # 4. A key pasted into the stunnel modal.
        modal_key = _id("modal")
        config = (
            "client = yes\n[fix]\nconnect = fix.example.com:4490\ncert = fix.itbit.pem\n"
            + canaries.host.key_pem.decode()
        )
        payload = {
            "type": "view_submission", "team": {"id": "T0FIXTEST"}, "user": {"id": _id("U")},
            "api_app_id": "AFIXCHECK", "trigger_id": _id("trig"),
            "view": {
                "id": "V1", "type": "modal", "callback_id": "fixcheck_stunnel",
                "private_metadata": json.dumps({"response_url": fake.response_url(modal_key)}),
                "state": {"values": {"config": {"value": {"type": "plain_text_input", "value": config}},
                                     "endpoint": {"value": {"type": "plain_text_input", "value": None}}}},
            },
        }  # fmt: skip
        response = send_interaction(http, security_bot.events_url, payload)
        assert response.status_code == 200
        acks.append(("stunnel modal ack", response.text))

    for channel in channels:
        _threaded(fake, channel)
    fake.wait_for(lambda c: c.path == f"/response/{modal_key}", 1, 30)
    time.sleep(0.5)

    # The uploads were diagnosed, with the private-key warning first; step 4 ran with the key.
    first = _threaded(fake, channels[0])[0]
    assert first.blocks()[0]["block_id"] == "key_warning"
    assert "step_4" in first.all_text()

    for where, body in acks:
        guard.check(where, body)
    calls = fake.calls[before:]
    assert len(calls) >= len(channels) + 3, "every input got an answer"
    for call in calls:
        _scan_call(guard, call)
    logs = security_bot.logs()
    assert "diagnosed inputs=" in logs and " DEBUG " in logs, "the log was captured at DEBUG"
    guard.check("the bot's log at DEBUG", logs)
    leaks = guard.scan_tree(bot_tmpdir)
    assert not leaks, [str(leak) for leak in leaks[:5]]
    assert not [p for p in bot_tmpdir.rglob("*") if p.is_file()], "the bot wrote temporary files"
