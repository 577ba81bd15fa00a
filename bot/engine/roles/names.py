"""What a file's name says of its part. Names only break ties: content decides first."""

from __future__ import annotations

SERVER_CA_HINTS = ("itbit", "paxos", "exchange", "server", "sandbox-ca", "prod-ca")
CLIENT_KEY_HINTS = ("host", "client", "fix", "private", "user")


def server_named(name: str | None) -> bool:
    """The file name is the exchange's server CA's (itbit-ca.pem and the like)."""
    return name is not None and any(h in base_name(name) for h in SERVER_CA_HINTS)


def client_cert_named(name: str | None) -> bool:
    """The guide's names for the client certificate: fix.itbit.pem, host.crt (and client.crt, ...)."""
    if name is None:
        return False
    stem = base_name(name).rsplit(".", 1)[0]
    return base_name(name) == "fix.itbit.pem" or (any(h in stem for h in ("host", "client")) and not ca_named(name))


def ca_named(name: str) -> bool:
    """The file is named like a CA file: ca.crt, client-ca.pem, rootCA.pem, my_ca.crt..."""
    stem = base_name(name).rsplit(".", 1)[0]
    return "ca" in stem.replace("_", "-").split("-") or stem.endswith("ca") or "root" in stem


def base_name(name: str) -> str:
    """The file's own name, lower case, without its folders (Windows or POSIX)."""
    return name.lower().replace("\\", "/").rsplit("/", 1)[-1]


def name_rank(name: str, hints: tuple[str, ...]) -> int:
    """0 when the file name contains any hint, else 1 (for sorting)."""
    lower = name.lower().rsplit("/", 1)[-1]
    return 0 if any(h in lower for h in hints) else 1
