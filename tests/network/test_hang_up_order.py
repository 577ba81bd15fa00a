"""Issue 11 QA, item 4: a hang-up after the hello is not led by the allow-list; on loopback it is not offered.

Before: a server that read the hello and then reset (RST) led with "your public IP address is most
likely not registered", even on 127.0.0.1, and so did `openssl s_server -Verify 1 </dev/null &`.
"""

from __future__ import annotations

import subprocess

from bot.engine import diagnose
from bot.engine.context import Endpoint
from bot.engine.net.tls import TlsResult
from bot.engine.steps import tcp as step3
from tests.network.pkis import Pki
from tests.network.servers import HOST, _read_accept_port, need_tool, reset_server, scripted_server, stop

NOT_REGISTERED = "public IP address is most likely not registered"


def _step3(report_files: list[tuple[str, bytes]], endpoint: str) -> tuple[str, str, tuple[str, ...]]:
    report = diagnose(report_files, endpoint=endpoint, timeout=3.0)
    f = report.step(3).findings[0]
    return f.code, f.message, f.commands


def test_reset_after_the_hello_on_loopback_does_not_offer_the_allow_list(netpki: Pki) -> None:
    with scripted_server(b"", then="reset") as (host, port):
        code, message, commands = _step3(netpki.files(), f"{host}:{port}")
    assert code == "tcp.reset"
    assert "after reading the TLS hello" in message
    assert "is this machine (a loopback address), so an exchange's IP allow-list is not the explanation" in message
    assert NOT_REGISTERED not in message
    assert commands[0] == f"ss -ltnp 'sport = :{port}'"
    assert not any("checkip" in c for c in commands)


def test_reset_at_connect_on_loopback_does_not_offer_the_allow_list(netpki: Pki) -> None:
    with reset_server() as (host, port):
        code, message, _ = _step3(netpki.files(), f"{host}:{port}")
    assert code == "tcp.reset"
    assert "allow-list is not the explanation" in message and NOT_REGISTERED not in message


def test_openssl_s_server_in_the_background_with_no_input(netpki: Pki) -> None:
    """`openssl s_server -Verify 1 </dev/null &` exits on its first connection: not the allow-list."""
    exe = need_tool("openssl")
    args = [exe, "s_server", "-accept", f"{HOST}:0", "-cert", str(netpki.server.crt), "-key",
            str(netpki.server.key), "-CAfile", str(netpki.client.ca_crt), "-Verify", "1"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = _read_accept_port(proc)
        code, message, _ = _step3(netpki.files(), f"{HOST}:{port}")
    finally:
        stop(proc)
    assert code in ("tcp.reset", "tcp.closed_after_hello")
    assert "exited on this connection" in message and NOT_REGISTERED not in message


def _hang_up(address: str, *, reset: bool, hello: bool) -> str:
    """The pure step-3 classification for a non-loopback address (no network: tests may only reach loopback)."""
    ep = Endpoint("fix.example.net", 4490)
    tls = TlsResult(outcome="reset" if reset else "closed", bytes_sent=517 if hello else 0, total_ms=30.0)
    return step3._hung_up(ep, address, 20.0, tls, {}, ()).message


def test_off_loopback_a_reset_after_the_hello_leads_with_not_tls_and_at_connect_with_the_allow_list() -> None:
    after = _hang_up("192.0.2.10:4490", reset=True, hello=True)
    assert after.index("may not speak TLS, or the server went away") < after.index("allow-list")
    at_connect = _hang_up("192.0.2.10:4490", reset=True, hello=False)
    assert NOT_REGISTERED in at_connect and "loopback" not in at_connect
    assert "loopback" in _hang_up("[::1]:4490", reset=True, hello=True)
