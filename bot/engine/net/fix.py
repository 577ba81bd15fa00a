"""The FIX Logon probe, without I/O: what to send, and what the answer means.

Beyond the guide: once the mTLS handshake works, the last question is whether the FIX
session comes up. `FixSession` is the client side of one FIX 4.2 session reduced to
what the probe needs: it sends one Logon (35=A), answers TestRequests with Heartbeats,
and ends with a Logout (35=5). It sends nothing else, ever. The caller moves the bytes
(the TLS probe of step 4 over its own connection, or the front end through stunnel) and
tells the session when the peer closed or the time ran out.

The messages themselves (building, framing, checking, showing with secrets masked) are
in `fix_messages`; its public names are offered here too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simplefix

from bot.engine.net.fix_messages import (
    BEGIN_STRING,
    MAX_BUFFERED,
    MAX_FIELD_CHARS,
    MAX_SHOWN_CHARS,
    MAX_SHOWN_MESSAGES,
    MSG_NAMES,
    REJECT_FIELDS,
    SECRET_TAGS,
    SESSION_REJECT_REASON_TAG,
    SESSION_REJECT_REASONS,
    Garbled,
    new_message,
    next_message,
    on_the_wire,
    preview,
    readable,
    value_of,
)

__all__ = [
    "BEGIN_STRING",
    "MAX_BUFFERED",
    "MAX_FIELD_CHARS",
    "MAX_SHOWN_CHARS",
    "MAX_SHOWN_MESSAGES",
    "MSG_NAMES",
    "SECRET_TAGS",
    "SESSION_REJECT_REASONS",
    "FixLogon",
    "FixResult",
    "FixSession",
    "LogonError",
    "preview",
    "readable",
]

_COMPID = re.compile(r"^[\x21-\x7e]{1,64}$")
_COMPID_FORBIDDEN = set("=|")


class LogonError(ValueError):
    """`SENDER:TARGET` or the heartbeat interval is unusable; the message says why."""


@dataclass(frozen=True)
class FixLogon:
    """The Logon to send: SenderCompID (49), TargetCompID (56), HeartBtInt (108), ResetSeqNumFlag (141=Y)."""

    sender: str
    target: str
    heartbeat: int = 30
    reset_seq: bool = False

    def __post_init__(self) -> None:
        for label, value in (("SenderCompID", self.sender), ("TargetCompID", self.target)):
            if not _COMPID.match(value) or _COMPID_FORBIDDEN & set(value):
                raise LogonError(
                    f"{label} {value[:70]!r} is not a CompID: use 1-64 visible ASCII characters without '=' or '|' "
                    "(e.g. --logon MYFIRM:ITBIT_SANDBOX)"
                )
        if not 1 <= int(self.heartbeat) <= 3600:
            raise LogonError(f"heartbeat interval {self.heartbeat} is out of range: give seconds between 1 and 3600")

    @classmethod
    def parse(cls, text: str, *, heartbeat: int = 30, reset_seq: bool = False) -> FixLogon:
        """`SENDER:TARGET` (split at the first colon)."""
        sender, sep, target = text.strip().partition(":")
        if not sep or not sender or not target:
            raise LogonError(
                f"{text.strip()[:70]!r} is not SENDER:TARGET: give your SenderCompID and the exchange's "
                "TargetCompID from onboarding, e.g. MYFIRM:ITBIT_SANDBOX"
            )
        return cls(sender, target, heartbeat, reset_seq)


@dataclass
class FixResult:
    """How one Logon attempt went. Holds only what was on the wire, secrets masked."""

    sender: str
    target: str
    heartbeat: int
    reset_seq: bool
    via: str = "direct"  # direct | stunnel
    # logon_ok | logout | reject | closed | timeout | garbled | not_sent
    outcome: str = "not_sent"
    sent: list[str] = field(default_factory=list)  # readable: 8=FIX.4.2|9=..|35=A|...
    received: list[str] = field(default_factory=list)
    text: str | None = None  # 58=Text of the Logout or Reject
    reject: dict[str, str] = field(default_factory=dict)  # RefSeqNum, RefTagID, RefMsgType, reason
    answer_type: str | None = None  # MsgType of the answer that decided the outcome
    answer_begin_string: str | None = None
    answer_heartbeat: str | None = None
    answer_sender: str | None = None  # the server's 49 (should be our target)
    answer_target: str | None = None  # the server's 56 (should be our sender)
    logout_sent: bool = False
    logout_answered: bool = False  # the server answered our Logout with its own
    closed_by_server: bool = False
    reset: bool = False  # the server reset the connection (rather than closing it)
    tls_alert: int | None = None  # a TLS alert ended the connection during the session
    problem: str | None = None  # why the answer is not FIX (garbled), or a checksum/length error
    first_bytes: bytes = b""  # the first bytes received, for a garbled answer
    bytes_sent: int = 0
    bytes_received: int = 0
    answer_ms: float | None = None
    timeout: float = 0.0
    error: str | None = None  # the connection failed before the Logon could be sent

    def to_evidence(self) -> dict[str, Any]:
        ev: dict[str, Any] = {
            "via": self.via,
            "sender_comp_id": self.sender,
            "target_comp_id": self.target,
            "heartbeat_s": self.heartbeat,
            "reset_seq_num": self.reset_seq,
            "outcome": self.outcome,
            "sent": self.sent[:MAX_SHOWN_MESSAGES],
            "received": self.received[:MAX_SHOWN_MESSAGES],
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
        }
        if self.text is not None:
            ev["text"] = self.text
        if self.reject:
            ev["reject"] = dict(self.reject)
        if self.answer_type is not None:
            ev["answer"] = MSG_NAMES.get(self.answer_type, self.answer_type)
        if self.answer_ms is not None:
            ev["answer_ms"] = round(self.answer_ms, 1)
        if self.logout_sent:
            ev["logout_answered"] = self.logout_answered
        if self.problem:
            ev["problem"] = self.problem
        if self.first_bytes and self.outcome == "garbled":
            ev["first_bytes"] = preview(self.first_bytes)
        if self.tls_alert is not None:
            ev["tls_alert"] = self.tls_alert
        if self.error:
            ev["error"] = self.error
        ev["timeout_s"] = self.timeout
        return ev


class FixSession:
    """The client side of one probe session. Feed it bytes; send what it returns.

        session = FixSession(logon, timeout)
        send(session.start())
        while not session.done:
            send(session.feed(recv()))        # or session.closed(...) / session.timed_out()
    """

    def __init__(self, logon: FixLogon, timeout: float = 10.0, *, via: str = "direct") -> None:
        self.logon = logon
        self.result = FixResult(logon.sender, logon.target, logon.heartbeat, logon.reset_seq, via=via, timeout=timeout)
        # await_answer -> await_logout -> done
        self.phase = "idle"
        self._seq = 0
        self._raw = bytearray()  # received bytes not yet framed
        self._started_at: float | None = None

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def deadlines(self, timeout: float, logout_wait: float) -> Callable[[], float]:
        """A clock for this session: the answer is due within `timeout` from now; once the
        Logout is sent, its answer within `logout_wait` of that (never past the first)."""
        answer_deadline = time.monotonic() + timeout
        logout_deadline: float | None = None

        def until() -> float:
            nonlocal logout_deadline
            if self.phase != "await_logout":
                return answer_deadline
            if logout_deadline is None:
                logout_deadline = min(answer_deadline, time.monotonic() + logout_wait)
            return logout_deadline

        return until

    # -- sending ----------------------------------------------------------------------------

    def _message(self, msg_type: str) -> simplefix.FixMessage:
        self._seq += 1
        return new_message(msg_type, self.logon.sender, self.logon.target, self._seq)

    def _encode(self, m: simplefix.FixMessage) -> bytes:
        data = bytes(m.encode())
        # Show what went on the wire, BodyLength and CheckSum included.
        wire = on_the_wire(data)
        self.result.sent.append(readable(wire if wire is not None else m))
        self.result.bytes_sent += len(data)
        return data

    def start(self) -> bytes:
        """The Logon: 35=A, 49, 56, 34=1, 52, 98=0, 108, and 141=Y when resetting."""
        m = self._message("A")
        m.append_pair(98, 0)
        m.append_pair(108, self.logon.heartbeat)
        if self.logon.reset_seq:
            m.append_pair(141, "Y")
        self.phase = "await_answer"
        self._started_at = time.monotonic()
        return self._encode(m)

    def _logout(self) -> bytes:
        self.result.logout_sent = True
        return self._encode(self._message("5"))

    def _heartbeat(self, test_req_id: bytes | None) -> bytes:
        m = self._message("0")
        if test_req_id is not None:
            m.append_pair(112, test_req_id)
        return self._encode(m)

    # -- receiving --------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Bytes from the server; returns the bytes to send back (possibly none)."""
        if self.done or not data:
            return b""
        r = self.result
        if len(r.first_bytes) < 64:
            r.first_bytes = (r.first_bytes + data)[:64]
        r.bytes_received += len(data)
        self._raw.extend(data)
        out = bytearray()
        try:
            while not self.done:
                message = next_message(self._raw)
                if message is None:
                    break
                out.extend(self._on_message(message))
        except Garbled as exc:
            self._decide("garbled")
            r.problem = str(exc)
            self.phase = "done"
        return bytes(out)

    def _decide(self, outcome: str, message: simplefix.FixMessage | None = None) -> None:
        r = self.result
        r.outcome = outcome
        if self._started_at is not None:
            r.answer_ms = (time.monotonic() - self._started_at) * 1000
        if message is not None:
            r.answer_type = value_of(message, 35)
            r.answer_begin_string = value_of(message, 8)
            r.answer_heartbeat = value_of(message, 108)
            r.answer_sender = value_of(message, 49)
            r.answer_target = value_of(message, 56)
            r.text = value_of(message, 58)

    def _on_message(self, m: simplefix.FixMessage) -> bytes:
        r = self.result
        r.received.append(readable(m))
        msg_type = (m.get(35) or b"").decode("ascii", "replace")
        if msg_type == "1":  # TestRequest: the one thing a session must answer
            return self._heartbeat(m.get(112))
        if self.phase == "await_answer":
            if msg_type == "A":
                self._decide("logon_ok", m)
                self.phase = "await_logout"
                return self._logout()
            if msg_type == "5":
                self._decide("logout", m)
                self.phase = "done"
                return self._logout()  # acknowledge, as the protocol asks
            if msg_type in ("3", "j"):
                self._decide("reject", m)
                for tag, name in REJECT_FIELDS:
                    value = value_of(m, tag)
                    if value is not None:
                        r.reject[name] = value
                reason = value_of(m, SESSION_REJECT_REASON_TAG)
                if reason is not None:
                    r.reject["reason"] = reason
                    r.reject["reason_text"] = SESSION_REJECT_REASONS.get(reason, "other")
                self.phase = "await_logout"
                return self._logout()
            return b""  # Heartbeat, ResendRequest, SequenceReset...: wait for the answer
        if self.phase == "await_logout" and msg_type == "5":
            r.logout_answered = True
            self.phase = "done"
        return b""

    def closed(self, *, reset: bool = False) -> None:
        """The server closed (or reset) the connection."""
        if self.done:
            return
        r = self.result
        r.closed_by_server = True
        r.reset = reset
        if self.phase == "await_answer":
            if self._raw:
                self._decide("garbled")
                r.problem = f"the connection closed in the middle of a message ({preview(bytes(self._raw), 30)!r})"
            else:
                self._decide("closed")
        self.phase = "done"

    def timed_out(self) -> None:
        """The time for the answer (or for the Logout's answer) ran out."""
        if self.done:
            return
        if self.phase == "await_answer":
            if self._raw:
                self._decide("garbled")
                self.result.problem = f"an incomplete message and nothing more ({preview(bytes(self._raw), 30)!r})"
            else:
                self._decide("timeout")
        self.phase = "done"

    def failed(self, error: str, *, tls_alert: int | None = None) -> None:
        """The connection broke in another way (a TLS alert, an OS error)."""
        if self.done:
            return
        r = self.result
        r.tls_alert = tls_alert
        r.error = error
        r.closed_by_server = True
        if self.phase == "await_answer":
            self._decide("closed")
        self.phase = "done"
