"""The key-exposure warning looks at every byte shared, whether or not it is diagnosed.

Real bot, fake Slack, canary keys made at test time (openssl CLI; cryptography only to
force the OpenSSH format). Each reply must open with the warning and repeat no key.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bot.slack import exposure
from tests.leakguard import Canaries, LeakGuard, openssl
from tests.slack.fakeslack import Call, FakeSlack, send_event
from tests.slack.localservers import Bot

WARNING = ":rotating_light:"


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture(scope="module")
def key_files(canaries: Canaries, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Key material in the forms the engine does not diagnose, made now and never committed."""
    folder: Path = tmp_path_factory.mktemp("exposure")
    host = canaries.host
    openssl("pkcs12", "-export", "-in", str(host.cert_path), "-inkey", str(host.key_path),
            "-passout", "pass:canary-pass", "-out", "bundle.p12", cwd=folder)  # fmt: skip
    openssl("pkey", "-in", str(host.key_path), "-outform", "DER", "-out", "client.der", cwd=folder)
    openssh = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return {
        "bundle.p12": (folder / "bundle.p12").read_bytes(),
        "client.der": (folder / "client.der").read_bytes(),
        "id_ed25519": openssh,
    }


def _thread_reply(fake: FakeSlack, channel: str) -> Call:
    return fake.wait_for(
        lambda c: (
            c.api == "chat.postMessage" and c.params.get("channel") == channel and bool(c.params.get("thread_ts"))
        ),
        1,
        30,
    )[0]


def _send(bot: Bot, fake: FakeSlack, text: str, files: dict[str, bytes] | None = None) -> Call:
    channel = _id("CEXP")
    event: dict[str, object] = {
        "type": "message", "channel": channel, "channel_type": "channel", "user": _id("U"),
        "text": text, "ts": f"{time.time():.6f}",
    }  # fmt: skip
    if files:
        event["subtype"] = "file_share"
        event["files"] = [fake.add_file(_id("F"), name, data).obj(fake.base) for name, data in files.items()]
    with httpx.Client(timeout=10) as http:
        assert send_event(http, bot.events_url, event, _id("Ev")).status_code == 200
    return _thread_reply(fake, channel)


@pytest.mark.parametrize("name", ["bundle.p12", "client.der", "id_ed25519"])
def test_uploaded_key_containers_get_the_warning(
    name: str, key_files: dict[str, bytes], security_bot: Bot, security_slack: FakeSlack, guard: LeakGuard
) -> None:
    reply = _send(security_bot, security_slack, "", {name: key_files[name], "ca.crt": b""})
    text = reply.all_text()
    assert WARNING in text and name in text, text[:500]
    guard.check(f"reply to {name}", text)


def test_pasted_openssh_key_gets_the_warning(
    key_files: dict[str, bytes], security_bot: Bot, security_slack: FakeSlack
) -> None:
    reply = _send(security_bot, security_slack, "my ssh key:\n" + key_files["id_ed25519"].decode())
    assert WARNING in reply.all_text()


def test_key_after_64_certificates_gets_the_warning(
    canaries: Canaries, security_bot: Bot, security_slack: FakeSlack, guard: LeakGuard
) -> None:
    """The engine reads the first 64 inputs; the warning reads them all."""
    cert = canaries.ca.cert_pem.decode()
    text = "".join(f"certificate {n}:\n{cert}\n" for n in range(65)) + "and my key:\n" + canaries.ec.key_pem.decode()
    reply = _send(security_bot, security_slack, text)
    assert WARNING in reply.all_text()
    guard.check("reply to 65 certificates and a key", reply.all_text())


def test_key_without_end_line_gets_the_warning(
    canaries: Canaries, security_bot: Bot, security_slack: FakeSlack, guard: LeakGuard
) -> None:
    pem = canaries.pkcs1.key_pem.decode()
    cut = pem[: pem.index("-----END")]
    reply = _send(security_bot, security_slack, "is this right?\n" + cut)
    assert WARNING in reply.all_text()
    guard.check("reply to a key with no END line", reply.all_text())


def test_key_file_not_downloaded_gets_the_warning(security_bot: Bot, security_slack: FakeSlack) -> None:
    """Past the per-message file limit, the bot reads no bytes, but a key file's name still tells."""
    files = {f"chain-{n}.crt": b"" for n in range(20)}
    files["client.pfx"] = b"0"
    reply = _send(security_bot, security_slack, "", files)
    assert WARNING in reply.all_text() and "client.pfx" in reply.all_text()


def test_scanner_on_every_form(canaries: Canaries, key_files: dict[str, bytes]) -> None:
    for canary in canaries.all:
        assert exposure.scan("x", canary.key_pem) is not None, canary.kind
        assert exposure.scan("x", canary.cert_pem) is None, canary.kind
    for name, data in key_files.items():
        assert exposure.scan("upload", data) is not None, name
    der = key_files["client.der"]
    assert exposure.scan("x", b"pasted: " + base64.encodebytes(der)) is not None
    assert exposure.scan("x", canaries.ca.cert_pem * 70) is None
    assert exposure.scan("notes.txt", b"BEGIN+PRIVATE+KEY") is not None  # URL-encoded armour
    for label in (b"DSA PRIVATE KEY", b"X9.42 DH PRIVATE KEY", b"PGP PRIVATE KEY BLOCK", b"SSH2 ENCRYPTED PRIVATE KEY"):
        assert exposure.scan("notes.txt", b"-----BEGIN " + label + b"-----\nAAAA") is not None, label
    assert exposure.scan("notes.txt", b"text=-----BEGIN%20EC%20PRIVATE%20KEY-----%0A") is not None
    assert exposure.scan("store.bin", b"\xfe\xed\xfe\xed\x00\x00\x00\x02") is not None  # a JKS keystore
    assert exposure.scan("notes.txt", b"just text") is None
