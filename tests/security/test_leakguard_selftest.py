"""The guard itself: it finds a key however it is echoed, and stays quiet on public material."""

from __future__ import annotations

import json
import urllib.parse

from tests.leakguard import Canaries, LeakGuard


def test_guard_finds_echoes_in_every_encoding_and_ignores_certificates(canaries: Canaries, guard: LeakGuard) -> None:
    for canary in canaries.all:
        pem = canary.key_pem.decode()
        body = "".join(canary.body_lines())
        echoes = {
            "verbatim": f"finding: {pem}",
            "one line": f"line 3: {canary.body_lines()[2]!r} is not base64",
            "json": json.dumps({"message": pem}),
            "form-encoded": urllib.parse.urlencode({"text": pem}),
            "rewrapped": "\n    ".join(body[i : i + 50] for i in range(0, len(body), 50)),
            "partial (40+ chars)": f"`{body[len(body) // 2 : len(body) // 2 + 42]}`",
        }
        for how, text in echoes.items():
            assert guard.leaks(how, text), f"{canary.kind}: the guard missed a {how} echo"
        assert not guard.leaks("certificate", canary.cert_pem), "certificates are public"
    # The first 80 characters of an EC key (what a careless echo shows) hold most of the private scalar.
    assert guard.leaks("ack", "`" + canaries.ec.key_pem.decode()[:80] + "`")
