"""The mTLS handshake probe: what `openssl s_client -cert -key -CAfile` shows, made exact.

pyOpenSSL's `SSL.Connection` on memory BIOs, fed from a non-blocking socket by a
select loop with one deadline, so that every connect, handshake and read is bounded by
the timeout, whatever the server does (stays silent, trickles bytes, resets). Memory
BIOs also let the probe see every byte the server sends: whether it spoke TLS at all,
and whether a TLS 1.3 server processed the client's certificate (it then sends session
tickets) or refused it (an alert, only after the handshake "succeeded").

One probe runs in phases (`_Probe`): the handshake; one read after it, in a short window
(the server's verdict on the client certificate, its session tickets, or its hang-up);
the FIX Logon when one was asked for; a polite goodbye. The client certificate and key
are loaded from memory (`tls_setup`); nothing is written to disk. The socket's bounded
sends and receives are in `wire`.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from cryptography import x509
from OpenSSL import SSL

from bot.engine.net.fix import FixSession
from bot.engine.net.tls_result import ClientCredentials, TlsResult, looks_like_tls
from bot.engine.net.tls_setup import client_connection, client_context, error_text
from bot.engine.net.wire import BUF, Closed, Deadline, RecordCounter, quick_ack, recv, send_all

__all__ = [
    "LOGOUT_WAIT",
    "POST_HANDSHAKE_MIN_TLS12",
    "POST_HANDSHAKE_RTTS_TLS12",
    "POST_HANDSHAKE_WAIT_TLS12",
    "POST_HANDSHAKE_WAIT_TLS13",
    "ClientCredentials",
    "TlsResult",
    "handshake",
    "looks_like_tls",
]

# After the handshake, how long to wait for the server's verdict on the client
# certificate (TLS 1.3 sends it only then). The wait ends early when the server's
# session tickets arrive: a server sends them only after accepting the certificate.
POST_HANDSHAKE_WAIT_TLS13 = 1.0
# Under TLS 1.2 the verdict is part of the handshake; the read only catches a server
# that hangs up right after it, so it waits a few round trips (measured by the TCP
# connect), between these bounds.
POST_HANDSHAKE_WAIT_TLS12 = 0.3
POST_HANDSHAKE_MIN_TLS12 = 0.005
POST_HANDSHAKE_RTTS_TLS12 = 4
# After the FIX Logon was answered, how long to wait for the server's answer to our Logout.
LOGOUT_WAIT = 2.0
# How long the goodbye (our close_notify) may take to send; its answer is not awaited.
GOODBYE_WAIT = 0.2


def handshake(
    sock: socket.socket,
    host: str,
    creds: ClientCredentials | None,
    server_ca: list[x509.Certificate],
    timeout: float,
    rtt: float | None = None,
    session: FixSession | None = None,
) -> TlsResult:
    """Run one mTLS handshake on connected `sock`, then read once; close `sock`.

    `rtt` (seconds) is the TCP connect time, a round-trip estimate used to size the
    wait after a TLS 1.2 handshake. With `session`, a handshake that succeeded is
    followed by the FIX Logon on the same connection: the answer is awaited for up to
    `timeout` seconds after the Logon is sent, the Logout's answer for at most
    `LOGOUT_WAIT`; `result.fix` says how it went.
    """
    result = TlsResult(timeout=timeout)
    result.rtt = rtt
    if session is not None:
        result.fix = session.result
    start = time.monotonic()
    deadline = start + timeout
    try:
        _run(_Probe(sock, host, creds, server_ca, result, deadline), start, session)
    finally:
        result.total_ms = (time.monotonic() - start) * 1000
        try:
            sock.close()
        except OSError:
            pass
    return result


def _run(probe: _Probe, start: float, session: FixSession | None) -> None:
    """The phases in order; each one that ends the connection ends the probe."""
    result = probe.result
    if not probe.handshake(start):
        return
    first_data = probe.read_after_handshake()
    if result.post_handshake == "close_notify":
        return  # the handshake stands (outcome "ok"); no Logon can follow on a closed session
    if result.post_handshake in ("closed", "reset", "alert", "error"):
        result.outcome = result.post_handshake
        return
    if session is not None:
        probe.fix_logon(session, first_data)
        if result.outcome != "ok":
            return
    probe.goodbye()


class _Probe:
    """One handshake's state: the TLS connection on memory BIOs, the socket that carries it,
    and what was seen so far (OpenSSL's handshake states, the server's TLS records, our first bytes)."""

    def __init__(
        self,
        sock: socket.socket,
        host: str,
        creds: ClientCredentials | None,
        server_ca: list[x509.Certificate],
        result: TlsResult,
        deadline: float,
    ) -> None:
        self.sock = sock
        self.result = result
        self.deadline = deadline
        self.states: list[bytes] = []  # OpenSSL's state strings: was a certificate requested, sent?
        ctx = client_context(creds, server_ca, result)
        ctx.set_info_callback(_watch(result, self.states))
        self.conn = client_connection(ctx, host, result)
        sock.setblocking(False)
        quick_ack(sock)
        self.records = RecordCounter()
        self.sent_prefix = bytearray()  # our first bytes, to recognise them coming back (an echo)

    # -- moving bytes between OpenSSL and the socket ------------------------------------------

    def flush(self, until: float | None = None) -> None:
        """Send everything OpenSSL has written."""
        while True:
            try:
                out = self.conn.bio_read(BUF)
            except SSL.WantReadError:
                return
            if not out:
                return
            if len(self.sent_prefix) < 64:
                self.sent_prefix.extend(out[: 64 - len(self.sent_prefix)])
            send_all(self.sock, out, self.deadline if until is None else until)
            self.result.bytes_sent += len(out)

    def receive(self, until: float) -> None:
        """Hand OpenSSL the next bytes from the server, noting the first ones and the records."""
        result = self.result
        data = recv(self.sock, until)
        if len(result.first_bytes) < 64:
            first = result.first_bytes = (result.first_bytes + data)[:64]
            # Our own hello coming back: the same bytes, or a record holding a ClientHello (type 1).
            result.echo = len(first) >= 6 and (
                bytes(self.sent_prefix[: len(first)]) == first or (first[0] == 22 and first[5] == 1)
            )
        result.bytes_received += len(data)
        self.records.feed(data)
        self.conn.bio_write(data)

    # -- phase 1: the handshake -----------------------------------------------------------------

    def handshake(self, start: float) -> bool:
        """Complete the handshake; False when it did not, `result` then says how it ended."""
        result = self.result
        try:
            while True:
                try:
                    self.conn.do_handshake()
                    self.flush()
                    break
                except SSL.WantReadError:
                    self.flush()
                    self.receive(self.deadline)
        except Deadline:
            self._ended("timeout")
            return False
        except Closed as closed:
            self._ended("reset" if closed.reset else "closed")
            return False
        except (SSL.Error, OSError) as exc:
            _safe(self.flush)
            result.error = error_text(exc)
            if result.alert_received is not None:
                self._ended("alert")
            elif isinstance(exc, SSL.ZeroReturnError | SSL.SysCallError):
                self._ended("closed")
            else:
                self._ended("error")
            return False
        result.handshake_done = True
        result.handshake_ms = (time.monotonic() - start) * 1000
        self._facts()
        return True

    def _ended(self, outcome: str) -> None:
        """The handshake did not complete: how, unless the server never spoke TLS at all."""
        result = self.result
        result.phase = self._phase()
        self._facts()
        result.outcome = "not_tls" if not result.server_speaks_tls or result.echo else outcome

    def _phase(self) -> str:
        if self.result.handshake_done:
            return "after-handshake"
        return "handshake" if self.result.bytes_received else "hello"

    def _facts(self) -> None:
        """What the handshake showed, as far as it got: the request for a certificate, the chains, the cipher."""
        result, conn = self.result, self.conn
        result.cert_requested = any(b"certificate request" in s for s in self.states)
        result.client_cert_sent = result.client_cert_loaded and any(
            b"write client certificate" in s for s in self.states
        )
        try:
            chain = conn.get_peer_cert_chain(as_cryptography=True)
            result.server_chain = list(chain or [])
        except (SSL.Error, ValueError):
            pass
        try:
            result.client_ca_names = list(conn.get_client_ca_list(as_cryptography=True))
        except (SSL.Error, ValueError):
            pass
        cipher = conn.get_cipher_name()
        if cipher:
            result.cipher = cipher
            result.tls_version = conn.get_protocol_version_name()

    # -- phase 2: one read after the handshake ----------------------------------------------------

    def read_after_handshake(self) -> bytes:
        """Read once, with a short wait; sets `result.post_handshake`, returns the server's first data.

        The wait ends early a few round trips after the TLS 1.3 session tickets: the server
        accepted the certificate, and one that hangs up right behind them does so by then.
        """
        result = self.result
        until = self._read_window()
        seen_records = self.records.complete
        ticket_until: float | None = None  # set when the session tickets have arrived
        result.outcome = "ok"
        result.phase = "after-handshake"
        first_data = b""
        try:
            while True:
                try:
                    first_data = self.conn.recv(BUF)
                    result.post_handshake = "data" if first_data else "closed"
                    break
                except SSL.WantReadError:
                    if ticket_until is None and self.records.complete > seen_records and self.records.idle:
                        ticket_until = min(until, time.monotonic() + _rtt_wait(result.rtt))
                        result.tickets = True
                    self.receive(until if ticket_until is None else ticket_until)
        except Deadline:
            result.post_handshake = "quiet" if ticket_until is None else "ticket"
        except Closed as closed:
            result.post_handshake = "reset" if closed.reset else "closed"
        except SSL.ZeroReturnError:
            # close_notify: the server ended the session in order, after a handshake it completed.
            result.post_handshake = "close_notify"
        except SSL.SysCallError as exc:
            result.error = error_text(exc)
            result.post_handshake = "closed"
        except (SSL.Error, OSError) as exc:
            result.error = error_text(exc)
            result.post_handshake = "alert" if result.alert_received is not None else "error"
        return first_data

    def _read_window(self) -> float:
        """When the read after the handshake gives up: TLS 1.3 waits for the verdict, TLS 1.2 a few round trips."""
        if self.result.tls_version == "TLSv1.3":
            wait = POST_HANDSHAKE_WAIT_TLS13
        else:
            wait = _rtt_wait(self.result.rtt)
        return max(min(self.deadline, time.monotonic() + wait), time.monotonic() + POST_HANDSHAKE_MIN_TLS12)

    # -- phase 3, when asked for: the FIX Logon ---------------------------------------------------

    def fix_logon(self, session: FixSession, first_data: bytes) -> None:
        """The FIX Logon on the established connection, bounded by the timeout (see `handshake`)."""
        result, conn = self.result, self.conn
        until = session.deadlines(result.timeout, LOGOUT_WAIT)

        def send(data: bytes) -> None:
            if data:
                conn.sendall(data)
                self.flush(until())

        try:
            send(session.start())
            if first_data:
                send(session.feed(first_data))
            while not session.done:
                try:
                    data = conn.recv(BUF)
                except SSL.WantReadError:
                    self.receive(until())
                    continue
                send(session.feed(data))
        except Deadline:
            session.timed_out()
        except Closed as closed:
            session.closed(reset=closed.reset)
        except SSL.ZeroReturnError:
            session.closed()
        except SSL.SysCallError as exc:
            session.closed(reset="reset" in error_text(exc).lower())
        except (SSL.Error, OSError) as exc:
            error = error_text(exc)
            if result.alert_received is not None:
                # A TLS 1.3 server may refuse the client certificate only now: step 4's verdict.
                result.outcome = result.post_handshake = "alert"
                result.error = error
                session.failed(error, tls_alert=result.alert_received)
            else:
                session.failed(error)

    # -- last phase: the goodbye ------------------------------------------------------------------

    def goodbye(self) -> None:
        """A polite goodbye (our close_notify), without waiting for the answer."""
        try:
            self.conn.shutdown()
            flush_deadline = time.monotonic() + GOODBYE_WAIT
            out = b""
            try:
                out = self.conn.bio_read(BUF)
            except SSL.WantReadError:
                pass
            if out:
                send_all(self.sock, out, min(self.deadline, flush_deadline))
        except (SSL.Error, OSError, Deadline, Closed):
            pass


def _watch(result: TlsResult, states: list[bytes]) -> Any:
    """OpenSSL's info callback: the alerts either side sends, and the handshake's states.

    A closure rather than a method, so that the connection does not hold the probe alive.
    """

    def info(conn: SSL.Connection, where: int, ret: int) -> None:
        if where & SSL.SSL_CB_ALERT:
            level, desc = (ret >> 8) & 0xFF, ret & 0xFF
            if where & SSL.SSL_CB_READ and desc == 0:
                result.close_notify = True  # not an alert in the sense of a refusal: kept apart
            elif where & SSL.SSL_CB_READ:
                if result.alert_received is None or level == 2:
                    result.alert_received, result.alert_level = desc, level
            elif where & SSL.SSL_CB_WRITE and result.alert_sent is None:
                result.alert_sent = desc
        elif where & SSL.SSL_CB_LOOP:
            states.append(conn.get_state_string())

    return info


def _rtt_wait(rtt: float | None) -> float:
    """A few round trips (the TCP connect time estimates one), within the TLS 1.2 bounds."""
    if rtt is None:
        return POST_HANDSHAKE_WAIT_TLS12
    return min(POST_HANDSHAKE_WAIT_TLS12, max(POST_HANDSHAKE_MIN_TLS12, POST_HANDSHAKE_RTTS_TLS12 * rtt))


def _safe(fn: Any) -> None:
    try:
        fn()
    except (SSL.Error, OSError, Deadline, Closed):
        pass
