"""stunnel log lines -> findings: one row per known line, tried in order, first match wins.

How to teach fixcheck a new stunnel log line:

1. Find stunnel's exact wording (its source or a real run; `tests/stunnel` makes real runs).
2. Add a `LogRule` to `LOG_RULES`, above any row whose pattern also matches the line (the
   first row that matches decides). `pattern` is searched in the message, i.e. the text
   after `LOGn[...]:` or `[!]`. Its named groups are the line's values (`(?P<path>\\S+)`):
   list in `fields` those the finding's evidence should carry, and use any of them in the
   message, remediation and commands as `{path}` (write a literal brace as `{{`).
3. Add a sample line to `tests/stunnel/test_log_rules.py`; its tests fail until the row
   produces the code and status it declares.

Lines of one `kind` are one finding, made by the row that matched the first of them (later
ones only add to its count): give rows that say the same thing the same kind.

Besides named groups, `fields` may name values the reader (`log.py`) takes from elsewhere:
`what` and `path` from the last 'Loading certificate/private key from file' line, `reason`
from the last 'CERT: Pre-verification error' line, `where` (the configuration line a
message quotes, `line N: TEXT`) and `number` (the alert's number, from `tls_alerts.ALERTS`). Messages
may also use `{said}`: the line's last part, after its last ': '.

Rules that read a line together with other lines, the configuration or step 4 are not rows:
they are in `cross_log.py` (e.g. 'Subject checks failed' with the certificate stunnel rejected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.engine.net.tables import CLIENT_CERT_ALERTS
from bot.engine.report import Status
from bot.engine.steps.stunnel.tls_alerts import ALERTS, alert_line

# Evidence fields that are counts (ints in the JSON report), not text.
COUNT_FIELDS = frozenset({"to_tls", "to_socket"})


@dataclass(frozen=True)
class LogRule:
    """One known stunnel log line and the finding it gives."""

    kind: str  # what the line shows; lines of one kind make one finding (see the module docstring)
    pattern: re.Pattern[str]  # searched in the message
    code: str
    status: Status
    message: str  # after "NAME: "; format fields: see the module docstring
    remediation: str | None
    commands: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()  # the values added to the finding's evidence, in this order
    after: str | None = None  # the row reads the line only after: see `AFTER`
    constants: tuple[tuple[str, str], ...] = ()  # fixed evidence, after `fields`


# What `LogRule.after` may name: the earlier line a row needs (else the next rows are tried).
AFTER = {
    "loading": "a 'Loading certificate/private key from file' line",
    "preverify": "a 'CERT: Pre-verification error' line",
    "handshake": "'TLS connected' on the same connection",
}
# The fields a row may name that are not named groups of its pattern: the reader (`log.py`)
# takes them from earlier lines or derives them from the line (see the module docstring).
READER_FIELDS = frozenset({"what", "path", "reason", "where", "number"})


_OTHER_CLIENT_CERT_ALERTS = set(CLIENT_CERT_ALERTS) - {116}
_NON_CERT_ALERTS = set(ALERTS.values()) - set(CLIENT_CERT_ALERTS)

_SERVER_MODE = (
    "stunnel is running as a TLS server on its accept port ('TLS server needs a certificate' or 'SSL_accept: ... "
    "wrong version number'): 'client = yes' is missing."
)
_CLIENT_CERT_FIX = (
    "Check cert = fix.itbit.pem, run the guide's step 1 (openssl verify -CAfile ca.crt fix.itbit.pem), and make "
    "sure the exchange installed your current ca.crt."
)
_CLIENT_CERT_CMD = "openssl s_client -connect HOST:PORT -cert fix.itbit.pem -key fix.itbit.pem -CAfile itbit-ca.pem"
_HUNG_UP = (
    " during the TLS handshake, before sending a byte. Most likely the connect port may not speak TLS, or the "
    "server went away (a plain FIX port reached without TLS reads the hello and hangs up); less likely, the "
    "exchange's IP allow-list does not know your public IP address (step 3)."
)
_HUNG_UP_FIX = (
    "Check connect = HOST:PORT against the FIX TLS address and port from onboarding; if they are right, send the "
    "exchange your public IP address (curl -s https://checkip.amazonaws.com)."
)
_HUNG_UP_CMD = "openssl s_client -connect HOST:PORT </dev/null"
_UNTRUSTED = "; step 4). CAfile does not hold the exchange's server CA (often: it holds your own ca.crt)."
_UNTRUSTED_FIX = "CAfile = /full/path/to/itbit-ca.pem, the certificate copied from the onboarding page."
_UNTRUSTED_CMD = "openssl s_client -connect HOST:PORT -CAfile itbit-ca.pem </dev/null"
_CONFIG_LINE = re.compile(r"Illegal socket option|needs to be either 'yes' or 'no'|No '=' found|Illegal ")

LOG_RULES: tuple[LogRule, ...] = (
    LogRule(
        "pid_not_absolute",
        # stunnel 5.68 prints it after the section it is in: "Global options: Pid file must ...".
        re.compile(r"(?:^|: )Pid file must include full path name"),
        "stunnel.log_pid_file",
        Status.FAIL,
        "stunnel refused the pid file's path ('Pid file must include full path name').",
        "Write the full path, e.g. pid = /var/run/stunnel-fix.pid, or `pid =` (no pid file).",
    ),
    LogRule(
        "config_ok",
        re.compile(r"^Configuration successful$"),
        "stunnel.log_config_ok",
        Status.PASS,
        "stunnel loaded its configuration ('Configuration successful').",
        None,
    ),
    LogRule(
        "config_failed",
        re.compile(r"^Configuration failed$"),
        "stunnel.log_config_failed",
        Status.FAIL,
        "stunnel refused its configuration ('Configuration failed') and started no tunnel.",
        "The '[!]' lines just above 'Configuration failed' name the cause; check the configuration with fixcheck "
        "--stunnel.",
    ),
    LogRule(
        "file_not_found",
        re.compile(r"No such file or directory"),
        "stunnel.log_file_not_found",
        Status.FAIL,
        "stunnel could not open the {what} file {path} (No such file or directory), so the configuration failed.",
        "Put the full, real path of the file in the configuration (no {{PATH-TO-CERT}} placeholders) and check it "
        "exists: ls -l {path}",
        fields=("what", "path"),
        after="loading",
    ),
    LogRule(
        "key_mismatch",
        re.compile(r"key values mismatch"),
        "stunnel.log_key_mismatch",
        Status.FAIL,
        "stunnel refused the private key: 'key values mismatch' (the key does not belong to the certificate; step 6).",
        "Use the key the certificate was made from: cat host.crt host.key > fix.itbit.pem, and check with the "
        "guide's step 6 md5 commands.",
        (
            "openssl x509 -noout -modulus -in fix.itbit.pem | openssl md5",
            "openssl rsa -noout -modulus -in fix.itbit.pem | openssl md5",
        ),
        fields=("path",),
    ),
    LogRule(
        "key_unreadable",
        re.compile(r"^SSL_CTX_use_PrivateKey_file"),
        "stunnel.log_key_unreadable",
        Status.FAIL,
        "stunnel found no usable private key in {path} (the file has only the certificate, or the key is encrypted "
        "or damaged).",
        "cert must be fix.itbit.pem with host.crt and host.key in it (cat host.crt host.key > fix.itbit.pem), or add "
        "key = /full/path/to/host.key.",
        fields=("path",),
        after="loading",
    ),
    LogRule(
        "illegal_option",
        re.compile(r"Specified option name is not valid here"),
        "stunnel.log_illegal_option",
        Status.FAIL,
        "stunnel refused an option at {where}: 'Specified option name is not valid here' (misspelled, or a global "
        "option inside a [section]).",
        "Correct the spelling (see man stunnel) or move global options (pid, foreground, output) above the first "
        "[section].",
        fields=("where",),
    ),
    LogRule(
        "config_line_error",
        _CONFIG_LINE,
        "stunnel.log_config_line",
        Status.FAIL,
        "stunnel refused the configuration at {where}: {said}.",
        "Fix that line (yes/no values, socket = l:OPTION=VALUE, option = value), then restart stunnel.",
        fields=("where",),
    ),
    LogRule(
        "server_mode",
        re.compile(r"TLS server needs a certificate"),
        "stunnel.log_not_client",
        Status.FAIL,
        _SERVER_MODE,
        "Add client = yes to the service section and restart stunnel.",
    ),
    LogRule(
        "checkhost_without_verify",
        re.compile(r'Either "verifyChain" or "verifyPeer" has to be enabled'),
        "stunnel.log_checkhost_without_verify",
        Status.FAIL,
        'stunnel refused checkHost/checkIP without verification (\'Either "verifyChain" or "verifyPeer" has to '
        "be enabled').",
        "Add verifyChain = yes with CAfile = the exchange's server CA (itbit-ca.pem).",
    ),
    LogRule(
        "no_section",
        re.compile(r"accept.*only allowed in a \[section\]"),
        "stunnel.log_no_section",
        Status.FAIL,
        "stunnel found no [service] section ('accept' only allowed in a [section]).",
        "Put accept/connect/cert under a [name] line.",
    ),
    LogRule(
        "address_in_use",
        re.compile(r"(?:to (?P<address>\S+): )?Address already in use"),
        "stunnel.log_address_in_use",
        Status.FAIL,
        "stunnel could not listen on {address}: Address already in use (another stunnel, or another program, holds "
        "the port).",
        "Stop the other program (ss -ltnp shows it) or choose another accept port, and point the FIX client at it.",
        ("ss -ltnp",),
        fields=("address",),
    ),
    LogRule(
        "connect_refused",
        re.compile(r"s_connect: connect (?P<address>\S+): Connection refused"),
        "stunnel.log_connect_refused",
        Status.FAIL,
        "stunnel's connection to {address} was refused (step 3: nothing listens there, wrong host or port).",
        "Check connect = HOST:PORT against the address and port from onboarding, and test it with the guide's step 3 "
        "(telnet HOST PORT).",
        fields=("address",),
    ),
    LogRule(
        "connect_timeout",
        re.compile(r"s_connect: .*(timed out|TIMEOUTconnect|timeout)", re.IGNORECASE),
        "stunnel.log_connect_timeout",
        Status.FAIL,
        "stunnel's connection to the exchange timed out (step 3: a firewall drops it, or the exchange's allow-list "
        "lacks your IP).",
        "Check that your firewall allows the FIX port out, and give your public IP to the exchange.",
    ),
    LogRule(
        "dns",
        re.compile(r'^(?:Error resolving|Unknown TCP service)(?:.*?"(?P<name>[^"]*)")?|^No remote host resolved$'),
        "stunnel.log_dns",
        Status.FAIL,
        "stunnel could not resolve the connect host {name} ('No remote host resolved'; step 3). A connect without "
        "':PORT' gives 'Unknown TCP service'.",
        "Write connect = HOST:PORT with the FIX server name from onboarding, and check DNS: getent hosts HOST",
        fields=("name",),
    ),
    LogRule(
        "subject_checks_failed",
        re.compile(r"^CERT: Subject checks failed$"),
        "stunnel.log_checkhost_failed",
        Status.FAIL,
        "stunnel rejected the exchange's certificate: 'CERT: Subject checks failed' (checkHost/checkIP does not match "
        "the name in the server certificate).",
        "Set checkHost to the FIX host name you connect to (the name in the server certificate).",
    ),
    LogRule(
        "server_cert_untrusted",
        re.compile(r"certificate verify failed"),
        "stunnel.log_server_cert_untrusted",
        Status.FAIL,
        "stunnel did not trust the exchange's server certificate ('certificate verify failed'; CERT: Pre-verification "
        "error: {reason}" + _UNTRUSTED,
        _UNTRUSTED_FIX,
        (_UNTRUSTED_CMD,),
        fields=("reason",),
        after="preverify",
    ),
    LogRule(
        "server_cert_untrusted",
        re.compile(r"certificate verify failed"),
        "stunnel.log_server_cert_untrusted",
        Status.FAIL,
        "stunnel did not trust the exchange's server certificate ('certificate verify failed'" + _UNTRUSTED,
        _UNTRUSTED_FIX,
        (_UNTRUSTED_CMD,),
        fields=("reason",),
    ),
    LogRule(
        "server_mode",
        re.compile(r"^SSL_accept.*wrong version number"),
        "stunnel.log_not_client",
        Status.FAIL,
        _SERVER_MODE,
        "Add client = yes to the service section and restart stunnel.",
    ),
    LogRule(
        "not_tls",
        re.compile(r"^SSL_(?:connect|read|write).*wrong version number"),
        "stunnel.log_not_tls",
        Status.FAIL,
        "the connect port does not speak TLS ('wrong version number' on SSL_connect).",
        "Use the FIX TLS port from onboarding in connect =.",
    ),
    LogRule(
        "alert",
        alert_line({116}),
        "stunnel.log_client_cert_rejected",
        Status.FAIL,
        "the exchange rejected the client certificate: '{alert}' alert ({number}) on {call} (step 4). No certificate "
        "was sent: cert = is missing.",
        _CLIENT_CERT_FIX,
        (_CLIENT_CERT_CMD,),
        fields=("alert", "number", "call"),
    ),
    LogRule(
        "alert",
        alert_line(_OTHER_CLIENT_CERT_ALERTS),
        "stunnel.log_client_cert_rejected",
        Status.FAIL,
        "the exchange rejected the client certificate: '{alert}' alert ({number}) on {call} (step 4). The server "
        "does not trust the CA that signed it (ca.crt not installed there, or the certificate was re-made since), or "
        "no certificate was sent.",
        _CLIENT_CERT_FIX,
        (_CLIENT_CERT_CMD,),
        fields=("alert", "number", "call"),
    ),
    LogRule(
        "alert",
        alert_line(_NON_CERT_ALERTS),
        "stunnel.log_tls_alert",
        Status.FAIL,
        "the TLS handshake failed with the server's '{alert}' alert ({number}) on {call} (step 4).",
        "Run the guide's step 4 openssl s_client command to see the handshake.",
        fields=("alert", "number", "call"),
    ),
    LogRule(
        "reset_in_handshake",
        re.compile(r"^SSL_connect.*(?i:unexpected eof)"),
        "stunnel.log_reset",
        Status.FAIL,
        "the server closed the connection ('unexpected eof')" + _HUNG_UP,
        _HUNG_UP_FIX,
        (_HUNG_UP_CMD,),
        constants=(("closed_with", "FIN"),),
    ),
    LogRule(
        "reset_in_handshake",
        re.compile(r"^SSL_connect.*(?i:Connection reset by peer|syscall)"),
        "stunnel.log_reset",
        Status.FAIL,
        "the server reset the connection" + _HUNG_UP,
        _HUNG_UP_FIX,
        (_HUNG_UP_CMD,),
        constants=(("closed_with", "RST"),),
    ),
    LogRule(
        "reset_after_handshake",
        # TLS 1.3: the server's reset (or close) can overtake its alert about our certificate.
        re.compile(r"Connection reset by peer|Broken pipe|unexpected eof", re.IGNORECASE),
        "stunnel.log_closed_after_handshake",
        Status.FAIL,
        "the exchange closed the connection right after the TLS handshake. Under TLS 1.3 this is how a rejected "
        "client certificate often shows (the alert is lost in the reset) (step 4).",
        "Run the guide's step 1 (openssl verify -CAfile ca.crt fix.itbit.pem) and check the exchange installed your "
        "current ca.crt; fixcheck --connect HOST:PORT shows the server's answer.",
        after="handshake",
    ),
    LogRule(
        "insecure_permissions",
        re.compile(r"^(?=Insecure file permissions on)(?:.* on )?(?P<path>.*)$"),
        "stunnel.log_insecure_permissions",
        Status.PASS,
        "stunnel notes that {path} (which holds a private key) is readable by others.",
        "chmod 600 {path}",
        fields=("path",),
    ),
    LogRule(
        "verify_off",
        re.compile(r"needs authentication to prevent MITM attacks$"),
        "stunnel.log_verify_off",
        Status.WARN,
        "stunnel warns that the service does not verify the server ('needs authentication to prevent MITM attacks'): "
        "verifyChain is off.",
        "Add verifyChain = yes and checkHost = the FIX host, with CAfile = itbit-ca.pem.",
    ),
    LogRule(
        "no_trusted_certs",
        re.compile(r"^No trusted certificates found$"),
        "stunnel.log_no_trusted_certs",
        Status.WARN,
        "stunnel loaded no trusted CA ('No trusted certificates found'): CAfile is missing, unreadable or not given. "
        "With verifyChain = yes every handshake fails.",
        "CAfile = /full/path/to/itbit-ca.pem",
    ),
    LogRule(
        "traffic",
        # Only when bytes came back: the count of bytes received is not all zeros.
        re.compile(
            r"^Connection (?:closed|reset|closed/reset): (?P<to_tls>\d+) byte\(s\) sent to TLS, "
            r"(?P<to_socket>\d*[1-9]\d*) byte"
        ),
        "stunnel.log_traffic",
        Status.PASS,
        "data went through the tunnel ({to_tls} bytes to the exchange, {to_socket} back).",
        None,
        fields=("to_tls", "to_socket"),
    ),
)
