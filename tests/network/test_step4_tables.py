"""Step 4's table of what a good handshake's aftermath says (`AFTER_HANDSHAKE`), row by row."""

from __future__ import annotations

import pytest

from bot.engine.context import Endpoint
from bot.engine.net.tls import TlsResult
from bot.engine.steps.tls import step


@pytest.mark.parametrize(
    ("after", "said"),
    [
        ("ticket", "which it does only after accepting the client certificate."),
        ("quiet", "The connection then stayed open and quiet, as a FIX server waiting for the client's Logon does."),
        ("data", "The server then sent data first."),
        ("close_notify", "The server then ended the session in order (TLS close_notify): see the note below."),
        ("closed", "(its certificate was not checked: no server CA file was given)."),
    ],
)
def test_a_good_handshake_says_how_the_connection_went_on(after: str, said: str) -> None:
    t = TlsResult(outcome="ok", tls_version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256", post_handshake=after)
    ev = {"client_certificate": {"subject": "CN=me", "issuer": "CN=my CA"}, "server_ca_file": None}
    finding = step._ok(Endpoint("fix.example", 443), t, ev, ("openssl s_client",))
    assert finding.code == "tls.ok"
    assert finding.message.endswith(said)
