"""Step 4's FIX Logon tables, row by row: the answer's outcome -> its finding, a Logout's text and
a Reject's tag or reason -> the hint. Each case fails if its row is removed or changed."""

from __future__ import annotations

import pytest

from bot.engine.net.fix import FixResult
from bot.engine.report import Status
from bot.engine.steps.tls import logon

CLOCK = "Check this machine's clock (SendingTime 52 must be within seconds of UTC): timedatectl."
HEARTBEAT = "Use the heartbeat interval the exchange asks for (--heartbeat SECONDS)."
COMPIDS = "Check SenderCompID 49=ME (yours"


def result(outcome: str, **fields: object) -> FixResult:
    r = FixResult("ME", "ITBIT_SANDBOX", 30, False, outcome=outcome, timeout=5.0)
    for name, value in fields.items():
        setattr(r, name, value)
    return r


@pytest.mark.parametrize(
    ("outcome", "status", "words"),
    [
        ("logon_ok", Status.PASS, "FIX Logon accepted at fix.example:443"),
        ("logout", Status.FAIL, "answered the Logon at fix.example:443 with a Logout (35=5)"),
        ("reject", Status.FAIL, "rejected the Logon at fix.example:443 with a Reject (35=3)"),
        ("closed", Status.FAIL, "closed the connection at fix.example:443 without answering the Logon"),
        ("timeout", Status.FAIL, "No answer to the Logon at fix.example:443 within 5 s"),
        ("garbled", Status.FAIL, "The answer at fix.example:443 is not FIX"),
    ],
)
def test_each_answer_has_its_finding(outcome: str, status: Status, words: str) -> None:
    finding = logon.fix_finding(result(outcome), "fix.example:443")
    assert (finding.code, finding.status) == (f"fix.{outcome}", status)
    assert words in finding.message


def test_no_answer_is_not_sent_and_says_why() -> None:
    assert logon.fix_finding(result("not_sent"), "h:1").code == "fix.not_sent"
    failed = logon.fix_finding(result("not_sent", error="ECONNREFUSED"), "h:1")
    assert failed.code == "fix.not_sent" and "the connection failed (ECONNREFUSED)" in failed.message


def test_a_closed_tunnel_is_stunnels_finding_not_the_logons() -> None:
    finding = logon.fix_finding(result("closed", via="stunnel"), "fix-svc", tunnel_failed=True)
    assert finding.code == "fix.not_sent" and "stunnel's own connection to the exchange failed" in finding.message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("MsgSeqNum too low, expecting 7", "The exchange's sequence numbers for this session are ahead of the probe's 34=1"),
        ("Unknown CompID", "The exchange does not recognise the session."),
        ("Heartbeat interval must be 30", HEARTBEAT),
        ("SendingTime accuracy problem", CLOCK),
        ("Already logged on", "Run the probe while your own FIX client is logged off"),
        ("Go away", "The exchange's reason says what it refused."),
        (None, "The exchange's reason says what it refused."),
    ],
)
def test_logout_text_picks_the_hint(text: str | None, hint: str) -> None:
    finding = logon.fix_finding(result("logout", text=text), "h:1")
    assert finding.remediation is not None and finding.remediation.startswith(hint)


@pytest.mark.parametrize(
    ("reject", "hint"),
    [
        ({"ref_tag_id": "108"}, HEARTBEAT),
        ({"ref_tag_id": "52"}, CLOCK),
        ({"reason": "10"}, CLOCK),
        ({"ref_tag_id": "141"}, "The exchange does not accept ResetSeqNumFlag: retry without --reset-seq."),
        ({"ref_tag_id": "56"}, COMPIDS),
        ({"reason": "9"}, COMPIDS),
    ],
)
def test_reject_tag_or_reason_picks_the_hint(reject: dict[str, str], hint: str) -> None:
    finding = logon.fix_finding(result("reject", reject=reject), "h:1")
    assert finding.remediation is not None and finding.remediation.startswith(hint)
    assert "Send the exchange the Reject's text" not in finding.remediation


def test_any_other_reject_gets_the_compids_and_what_to_send() -> None:
    finding = logon.fix_finding(result("reject", reject={"ref_tag_id": "98", "reason": "5"}), "h:1")
    assert finding.remediation == (
        "Check SenderCompID 49=ME (yours, as registered with the exchange for this certificate) and TargetCompID "
        "56=ITBIT_SANDBOX (the exchange's; its TargetCompIDs are e.g. ITBIT, ITBIT_SANDBOX (sandbox) or ITBIT_PROD "
        "(production)) against your onboarding details. Send the exchange the Reject's text and the Logon shown in "
        "the evidence."
    )
