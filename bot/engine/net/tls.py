"""The mTLS handshake probe: what `openssl s_client -cert -key -CAfile` shows, made exact.

pyOpenSSL's `SSL.Connection` on memory BIOs, fed from a non-blocking socket by a
select loop with one deadline, so that every connect, handshake and read is bounded by
the timeout, whatever the server does (stays silent, trickles bytes, resets). Memory
BIOs also let the probe see every byte the server sends: whether it spoke TLS at all,
and whether a TLS 1.3 server processed the client's certificate (it then sends session
tickets) or refused it (an alert, only after the handshake "succeeded").

The client certificate and key are loaded from memory; nothing is written to disk.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from OpenSSL import SSL, crypto

from bot.engine.net.fix import FixResult, FixSession
from bot.engine.net.tables import verify_error_text

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

_BUF = 65536
_USABLE_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    dsa.DSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


@dataclass(frozen=True)
class ClientCredentials:
    """The client certificate (with any chain after it) and its private key, in memory."""

    cert: x509.Certificate
    key: PrivateKeyTypes = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()


@dataclass
class TlsResult:
    """Everything one handshake showed. Holds no key material."""

    outcome: str = "error"  # ok | alert | closed | reset | not_tls | timeout | error
    phase: str = "hello"  # hello (server sent nothing yet) | handshake | after-handshake
    handshake_done: bool = False
    tls_version: str | None = None
    cipher: str | None = None
    server_chain: list[x509.Certificate] = field(default_factory=list)
    cert_requested: bool = False
    client_ca_names: list[x509.Name] = field(default_factory=list)
    client_cert_loaded: bool = False
    client_cert_sent: bool = False
    setup_error: str | None = None  # the client certificate/key could not be used
    server_ca_given: bool = False
    verify_errors: list[tuple[int, int, str]] = field(default_factory=list)  # (number, depth, text)
    alert_received: int | None = None
    alert_level: int | None = None
    alert_sent: int | None = None
    # The server's close_notify: an orderly end of the TLS session, not a rejection (those are alerts).
    close_notify: bool = False
    tickets: bool = False  # TLS 1.3 session tickets arrived: the server had accepted the client certificate
    bytes_received: int = 0
    bytes_sent: int = 0
    first_bytes: bytes = b""
    echo: bool = False
    post_handshake: str | None = None  # ticket | quiet | data | close_notify | closed | reset | alert | error
    error: str | None = None  # OpenSSL's error, for evidence only (never classified by)
    handshake_ms: float | None = None
    total_ms: float = 0.0
    timeout: float = 0.0
    sni: str | None = None
    rtt: float | None = None
    fix: FixResult | None = None  # the FIX Logon made on this connection, when one was asked for

    @property
    def server_speaks_tls(self) -> bool:
        return self.bytes_received == 0 or looks_like_tls(self.first_bytes)


def looks_like_tls(data: bytes) -> bool:
    """The start of a TLS record: content type 20-24, protocol major version 3."""
    if not data:
        return False
    if data[0] not in (20, 21, 22, 23, 24):
        return False
    return len(data) < 2 or data[1] == 3


class _Deadline(Exception):
    pass


class _Closed(Exception):
    def __init__(self, reset: bool) -> None:
        super().__init__("reset" if reset else "closed")
        self.reset = reset


def _errtext(exc: BaseException) -> str:
    """OpenSSL's error reasons (library texts), for evidence."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if args and isinstance(args[0], list):
        parts = [str(t[-1]) for t in args[0] if isinstance(t, tuple) and t]
        if parts:
            return "; ".join(parts)
    if isinstance(exc, SSL.SysCallError) and len(args) >= 2:
        return str(args[1])
    return str(exc) or type(exc).__name__


def _make_context(
    creds: ClientCredentials | None, server_ca: list[x509.Certificate], result: TlsResult
) -> SSL.Context:
    def build(with_creds: bool) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        if server_ca:
            store = ctx.get_cert_store()
            if store is not None:
                for ca in server_ca:
                    try:
                        store.add_cert(crypto.X509.from_cryptography(ca))
                    except crypto.Error:
                        continue  # the same certificate twice
        ctx.set_verify(SSL.VERIFY_PEER if server_ca else SSL.VERIFY_NONE, _record_verify(result))
        if with_creds and creds is not None:
            ctx.use_certificate(creds.cert)
            for extra in creds.chain:
                ctx.add_extra_chain_cert(extra)
            key = creds.key
            if not isinstance(key, _USABLE_KEYS):
                raise TypeError(f"{type(key).__name__} cannot sign a TLS handshake")
            ctx.use_privatekey(key)
            ctx.check_privatekey()
        return ctx

    result.server_ca_given = bool(server_ca)
    if creds is None:
        return build(False)
    try:
        ctx = build(True)
    except (SSL.Error, crypto.Error, TypeError, ValueError) as exc:
        result.setup_error = _errtext(exc)
        return build(False)
    result.client_cert_loaded = True
    return ctx


def _record_verify(result: TlsResult) -> Any:
    def callback(_conn: SSL.Connection, _cert: Any, errnum: int, depth: int, ok: int) -> bool:
        if not ok:
            entry = (int(errnum), int(depth), verify_error_text(int(errnum)))
            if entry not in result.verify_errors:
                result.verify_errors.append(entry)
        return True  # carry on like s_client: the server's verdict on our certificate matters too

    return callback


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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
        _run(sock, host, creds, server_ca, result, start, deadline, session)
    finally:
        result.total_ms = (time.monotonic() - start) * 1000
        try:
            sock.close()
        except OSError:
            pass
    return result


def _run(
    sock: socket.socket,
    host: str,
    creds: ClientCredentials | None,
    server_ca: list[x509.Certificate],
    result: TlsResult,
    start: float,
    deadline: float,
    session: FixSession | None = None,
) -> None:
    ctx = _make_context(creds, server_ca, result)
    states: list[bytes] = []

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

    ctx.set_info_callback(info)
    conn = SSL.Connection(ctx, None)
    conn.set_connect_state()
    name = host.rstrip(".")
    if name and not _is_ip(name):
        try:
            conn.set_tlsext_host_name(name.encode("idna"))
            result.sni = name
        except (UnicodeError, SSL.Error, ValueError):
            pass
    sock.setblocking(False)
    _quick_ack(sock)
    records = _RecordCounter()
    sent_prefix = bytearray()

    def flush(until: float | None = None) -> None:
        while True:
            try:
                out = conn.bio_read(_BUF)
            except SSL.WantReadError:
                return
            if not out:
                return
            if len(sent_prefix) < 64:
                sent_prefix.extend(out[: 64 - len(sent_prefix)])
            _send_all(sock, out, deadline if until is None else until)
            result.bytes_sent += len(out)

    def receive(until: float) -> None:
        data = _recv(sock, until)
        if len(result.first_bytes) < 64:
            first = result.first_bytes = (result.first_bytes + data)[:64]
            # Our own hello coming back: the same bytes, or a record holding a ClientHello (type 1).
            result.echo = len(first) >= 6 and (
                bytes(sent_prefix[: len(first)]) == first or (first[0] == 22 and first[5] == 1)
            )
        result.bytes_received += len(data)
        records.feed(data)
        conn.bio_write(data)

    def finish_facts() -> None:
        result.cert_requested = any(b"certificate request" in s for s in states)
        result.client_cert_sent = result.client_cert_loaded and any(b"write client certificate" in s for s in states)
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

    def phase() -> str:
        if result.handshake_done:
            return "after-handshake"
        return "handshake" if result.bytes_received else "hello"

    # The handshake.
    try:
        while True:
            try:
                conn.do_handshake()
                flush()
                break
            except SSL.WantReadError:
                flush()
                receive(deadline)
    except _Deadline:
        result.outcome, result.phase = "timeout", phase()
        finish_facts()
        if not result.server_speaks_tls or result.echo:
            result.outcome = "not_tls"
        return
    except _Closed as closed:
        result.outcome = "reset" if closed.reset else "closed"
        result.phase = phase()
        finish_facts()
        if not result.server_speaks_tls or result.echo:
            result.outcome = "not_tls"
        return
    except (SSL.Error, OSError) as exc:
        _safe(flush)
        result.error = _errtext(exc)
        result.phase = phase()
        finish_facts()
        if not result.server_speaks_tls or result.echo:
            result.outcome = "not_tls"
        elif result.alert_received is not None:
            result.outcome = "alert"
        elif isinstance(exc, SSL.ZeroReturnError | SSL.SysCallError):
            result.outcome = "closed"
        else:
            result.outcome = "error"
        return
    result.handshake_done = True
    result.handshake_ms = (time.monotonic() - start) * 1000
    finish_facts()

    # Read once after the handshake, with a short wait.
    if result.tls_version == "TLSv1.3":
        wait = POST_HANDSHAKE_WAIT_TLS13
    else:
        wait = _rtt_wait(result.rtt)
    until = max(min(deadline, time.monotonic() + wait), time.monotonic() + POST_HANDSHAKE_MIN_TLS12)
    seen_records = records.complete
    ticket_until: float | None = None  # set when the session tickets have arrived
    result.outcome = "ok"
    result.phase = "after-handshake"
    first_data = b""
    try:
        while True:
            try:
                first_data = conn.recv(_BUF)
                result.post_handshake = "data" if first_data else "closed"
                break
            except SSL.WantReadError:
                if ticket_until is None and records.complete > seen_records and records.idle:
                    # The tickets: the certificate was accepted. A server that hangs up right behind
                    # them (its service refused us) does so within a few round trips: wait that long.
                    ticket_until = min(until, time.monotonic() + _rtt_wait(result.rtt))
                    result.tickets = True
                receive(until if ticket_until is None else ticket_until)
    except _Deadline:
        result.post_handshake = "quiet" if ticket_until is None else "ticket"
    except _Closed as closed:
        result.post_handshake = "reset" if closed.reset else "closed"
    except SSL.ZeroReturnError:
        # close_notify: the server ended the session in order, after a handshake it completed.
        result.post_handshake = "close_notify"
    except SSL.SysCallError as exc:
        result.error = _errtext(exc)
        result.post_handshake = "closed"
    except (SSL.Error, OSError) as exc:
        result.error = _errtext(exc)
        result.post_handshake = "alert" if result.alert_received is not None else "error"
    if result.post_handshake == "close_notify":
        return  # the handshake stands (outcome "ok"); no Logon can follow on a closed session
    if result.post_handshake in ("closed", "reset", "alert", "error"):
        result.outcome = result.post_handshake
        return
    if session is not None:
        _fix_session(conn, session, result, flush, receive, first_data)
        if result.outcome != "ok":
            return
    # A polite goodbye, without waiting for the answer.
    try:
        conn.shutdown()
        flush_deadline = time.monotonic() + 0.2
        out = b""
        try:
            out = conn.bio_read(_BUF)
        except SSL.WantReadError:
            pass
        if out:
            _send_all(sock, out, min(deadline, flush_deadline))
    except (SSL.Error, OSError, _Deadline, _Closed):
        pass


def _fix_session(
    conn: SSL.Connection,
    session: FixSession,
    result: TlsResult,
    flush: Any,
    receive: Any,
    first_data: bytes,
) -> None:
    """The FIX Logon on the established connection, bounded by the timeout (see `handshake`)."""
    until = session.deadlines(result.timeout, LOGOUT_WAIT)

    def send(data: bytes) -> None:
        if data:
            conn.sendall(data)
            flush(until())

    try:
        send(session.start())
        if first_data:
            send(session.feed(first_data))
        while not session.done:
            try:
                data = conn.recv(_BUF)
            except SSL.WantReadError:
                receive(until())
                continue
            send(session.feed(data))
    except _Deadline:
        session.timed_out()
    except _Closed as closed:
        session.closed(reset=closed.reset)
    except SSL.ZeroReturnError:
        session.closed()
    except SSL.SysCallError as exc:
        session.closed(reset="reset" in _errtext(exc).lower())
    except (SSL.Error, OSError) as exc:
        error = _errtext(exc)
        if result.alert_received is not None:
            # A TLS 1.3 server may refuse the client certificate only now: step 4's verdict.
            result.outcome = result.post_handshake = "alert"
            result.error = error
            session.failed(error, tls_alert=result.alert_received)
        else:
            session.failed(error)


def _rtt_wait(rtt: float | None) -> float:
    """A few round trips (the TCP connect time estimates one), within the TLS 1.2 bounds."""
    if rtt is None:
        return POST_HANDSHAKE_WAIT_TLS12
    return min(POST_HANDSHAKE_WAIT_TLS12, max(POST_HANDSHAKE_MIN_TLS12, POST_HANDSHAKE_RTTS_TLS12 * rtt))


def _safe(fn: Any) -> None:
    try:
        fn()
    except (SSL.Error, OSError, _Deadline, _Closed):
        pass


def _wait(sock: socket.socket, event: int, seconds: float) -> bool:
    """Wait until `sock` is ready for `event` (poll: no FD_SETSIZE limit)."""
    poller = select.poll()
    poller.register(sock, event | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(max(0, int(seconds * 1000) + 1)))


def _send_all(sock: socket.socket, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline
        if not _wait(sock, select.POLLOUT, remaining):
            raise _Deadline
        try:
            n = sock.send(view)
        except (BlockingIOError, InterruptedError):
            continue
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise _Closed(reset=isinstance(exc, ConnectionResetError)) from exc
        view = view[n:]


def _recv(sock: socket.socket, deadline: float) -> bytes:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline
        if not _wait(sock, select.POLLIN, remaining):
            raise _Deadline
        try:
            data = sock.recv(_BUF)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionResetError as exc:
            raise _Closed(reset=True) from exc
        if not data:
            raise _Closed(reset=False)
        _quick_ack(sock)
        return data


def _quick_ack(sock: socket.socket) -> None:
    """Acknowledge at once what the server sent (Linux turns quick-ack off again after a while).

    A server that writes twice in a row (its session tickets, then close_notify) has the second
    write held by Nagle until our ACK, which delayed ACK postpones ~40 ms: past the short read
    window after the tickets, so an orderly close would go unseen.
    """
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class _RecordCounter:
    """Counts complete TLS records in the server's byte stream."""

    def __init__(self) -> None:
        self.complete = 0
        self._buf = bytearray()

    @property
    def idle(self) -> bool:
        return not self._buf

    def feed(self, data: bytes) -> None:
        self._buf.extend(data)
        while len(self._buf) >= 5:
            length = (self._buf[3] << 8) | self._buf[4]
            if len(self._buf) < 5 + length:
                return
            del self._buf[: 5 + length]
            self.complete += 1
