"""The FIX Logon probe (step 4) against a real acceptor on 127.0.0.1: simplefix behind Python-ssl mTLS."""

from __future__ import annotations

import json
import time

import pytest
import simplefix

from bot.engine import FixLogon, LogonError, Status, diagnose
from bot.engine.net.fix import FixSession, readable
from bot.engine.report import Finding, Report
from tests.fix.acceptor import fix_acceptor, server_context
from tests.fix.conftest import FixPki

TARGET = "ITBIT_TEST"
SENDER = "CLIENT1"


def step4(report: Report) -> dict[str, Finding]:
    return {f.code: f for f in report.step(4).findings}


def fix_of(report: Report) -> Finding:
    found = [f for f in report.step(4).findings if f.code.startswith("fix.")]
    assert len(found) == 1, [f.code for f in report.step(4).findings]
    return found[0]


def checksum_ok(raw: bytes) -> bool:
    body, _, tail = raw.rpartition(b"10=")
    return sum(body) % 256 == int(tail[:3])


@pytest.mark.parametrize("tls_version", ["1.3", "1.2"])
def test_logon_accepted_then_logout(fixpki: FixPki, tls_version: str) -> None:
    with fix_acceptor(fixpki.context(tls_version), target=TARGET) as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET), timeout=3)
        types = acc.types()
        raw = b"".join(acc.raw)
    f = fix_of(report)
    assert f.code == "fix.logon_ok" and f.status is Status.PASS, f.message
    assert report.step(4).status is Status.PASS and "FIX Logon accepted" in report.step(4).summary
    assert "tls.ok" in step4(report)
    # The acceptor saw exactly a Logon, then a Logout: nothing else is ever sent.
    assert types == ["A", "5"]
    logon = raw[: raw.index(b"10=") + 7]
    assert checksum_ok(logon)
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    m = parser.get_message()
    assert m.get(8) == b"FIX.4.2" and m.get(35) == b"A" and m.get(34) == b"1"
    assert m.get(49) == SENDER.encode() and m.get(56) == TARGET.encode()
    assert m.get(98) == b"0" and m.get(108) == b"30" and m.get(141) is None and m.get(52)
    assert int(m.get(9)) == len(logon) - logon.index(b"35=") - 7
    ev = f.evidence
    assert ev["sent"][0].startswith("8=FIX.4.2|9=") and "|35=A|" in ev["sent"][0] and "|10=" in ev["sent"][0]
    assert ev["received"][0].split("|")[2] == "35=A" and ev["logout_answered"] is True
    assert json.dumps(report.to_dict())  # the JSON contract holds


def test_reset_seq_and_heartbeat_sent(fixpki: FixPki) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        report = diagnose(
            fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET, 45, reset_seq=True), timeout=3
        )
        logon = acc.received[0]
    assert fix_of(report).code == "fix.logon_ok"
    assert logon.get(141) == b"Y" and logon.get(108) == b"45"


def test_test_request_is_answered_with_heartbeat(fixpki: FixPki) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET, test_request=True) as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET), timeout=3)
        received = list(acc.received)
    assert fix_of(report).code == "fix.logon_ok"
    assert [m.get(35) for m in received] == [b"A", b"0", b"5"]
    assert received[1].get(112) == b"PROBE-1" and received[1].get(34) == b"2" and received[2].get(34) == b"3"


def test_logout_with_reason(fixpki: FixPki) -> None:
    reason = "MsgSeqNum too low, expecting 12 but received 1"
    with fix_acceptor(fixpki.context(), "logout", reason=reason) as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET), timeout=3)
    f = fix_of(report)
    assert f.code == "fix.logout" and f.status is Status.FAIL
    assert f'58="{reason}"' in f.message and "--reset-seq" in (f.remediation or "")
    assert "ITBIT_SANDBOX" in (f.remediation or "")  # known TargetCompIDs are hints
    assert report.to_dict()["first_failure"] == {"step": 4, "code": "fix.logout"}


def test_reject_with_reason(fixpki: FixPki) -> None:
    with fix_acceptor(fixpki.context(), "reject", reason="Invalid HeartBtInt") as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET), timeout=3)
        types = acc.types()
    f = fix_of(report)
    assert f.code == "fix.reject" and f.status is Status.FAIL
    assert '58="Invalid HeartBtInt"' in f.message and "373=5" in f.message and "371=108" in f.message
    assert "--heartbeat" in (f.remediation or "")
    assert types == ["A", "5"]  # the probe still ended with a Logout


def test_wrong_compid_silent_close(fixpki: FixPki) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, "ITBIT"), timeout=3)
    f = fix_of(report)
    assert f.code == "fix.closed" and f.status is Status.FAIL
    assert "SenderCompID" in f.message and "bound to this certificate" in f.message
    assert "tls.ok" in step4(report)  # the TLS part was fine


def test_not_fix_answer_is_garbled(fixpki: FixPki) -> None:
    with fix_acceptor(fixpki.context(), "garbage") as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET), timeout=3)
    f = fix_of(report)
    assert f.code == "fix.garbled" and f.status is Status.FAIL
    assert f.evidence["first_bytes"].startswith("HTTP/1.1 400")


def test_silent_acceptor_times_out_within_the_timeout(fixpki: FixPki) -> None:
    with fix_acceptor(fixpki.context(), "silent") as acc:
        start = time.monotonic()
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET), timeout=1.0)
        took = time.monotonic() - start
    f = fix_of(report)
    assert f.code == "fix.timeout" and f.status is Status.FAIL
    assert took < 3.5, took


@pytest.mark.parametrize("tls_version", ["1.3", "1.2"])
def test_refused_client_certificate_sends_no_logon(fixpki: FixPki, tls_version: str) -> None:
    # The acceptor trusts another CA than the client's: the TLS layer refuses, no Logon goes out.
    ctx = server_context(fixpki.server.crt, fixpki.server.key, fixpki.server.ca_pem, tls_version)
    with fix_acceptor(ctx, target=TARGET) as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, logon=FixLogon(SENDER, TARGET), timeout=3)
        types = acc.types()
    codes = step4(report)
    assert report.to_dict()["first_failure"] == {"step": 4, "code": "tls.client_cert_rejected"}
    assert codes["fix.not_sent"].status is Status.SKIP
    assert types == []


def test_no_logon_keeps_todays_behaviour(fixpki: FixPki) -> None:
    with fix_acceptor(fixpki.context(), target=TARGET) as acc:
        report = diagnose(fixpki.files(), endpoint=acc.endpoint, timeout=3)
        types = acc.types()
    assert not any(f.code.startswith("fix.") for f in report.step(4).findings)
    assert types == []


# --- the session without I/O -------------------------------------------------------------------


def _answer(msg_type: str, *pairs: tuple[int, str]) -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, "FIX.4.2", header=True)
    m.append_pair(35, msg_type, header=True)
    m.append_pair(49, TARGET, header=True)
    m.append_pair(56, SENDER, header=True)
    m.append_pair(34, 1, header=True)
    for tag, value in pairs:
        m.append_pair(tag, value)
    return bytes(m.encode())


def test_secrets_are_masked_in_evidence() -> None:
    s = FixSession(FixLogon(SENDER, TARGET))
    s.start()
    s.feed(_answer("5", (554, "hunter2"), (925, "newsecret"), (58, "bad password")))
    text = json.dumps(s.result.to_evidence())
    assert "hunter2" not in text and "newsecret" not in text and "554=***" in text and "925=***" in text
    assert s.result.outcome == "logout"


def test_answer_split_across_reads_and_bad_checksum() -> None:
    s = FixSession(FixLogon(SENDER, TARGET))
    s.start()
    data = _answer("A", (98, "0"), (108, "30"))
    assert s.feed(data[:7]) == b"" and s.result.outcome == "not_sent"
    out = s.feed(data[7:])
    assert s.result.outcome == "logon_ok" and b"35=5" in out  # the Logout goes out at once
    bad = FixSession(FixLogon(SENDER, TARGET))
    bad.start()
    bad.feed(data[:-4] + b"999\x01")
    assert bad.result.outcome == "garbled" and "CheckSum" in (bad.result.problem or "")


def test_closed_mid_message_and_readable() -> None:
    s = FixSession(FixLogon(SENDER, TARGET))
    s.start()
    s.feed(b"8=FIX.4.2\x019=5")
    s.closed()
    assert s.result.outcome == "garbled"
    m = simplefix.FixMessage()
    m.append_pair(8, "FIX.4.2")
    m.append_pair(96, "raw-secret")
    assert readable(m) == "8=FIX.4.2|96=***"


@pytest.mark.parametrize("text", ["CLIENT1", ":ITBIT", "CLIENT1:", "A B:ITBIT", "A=B:ITBIT", "A|B:C", "X" * 65 + ":Y"])
def test_bad_logon_text(text: str) -> None:
    with pytest.raises(LogonError):
        FixLogon.parse(text)


def test_logon_parse() -> None:
    assert FixLogon.parse(" CLIENT1:ITBIT_SANDBOX ", heartbeat=10, reset_seq=True) == FixLogon(
        "CLIENT1", "ITBIT_SANDBOX", 10, True
    )
    with pytest.raises(LogonError):
        FixLogon("A", "B", heartbeat=0)
