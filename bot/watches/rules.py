"""Reminder rules as data: when a watch speaks, and what each renewal asks of the channel.

Thresholds are whole UTC calendar days before the deadline (the earlier of the
certificate's and its CA's not-after); 0 is the deadline's own UTC day.
"""

from __future__ import annotations

import datetime as dt

THRESHOLD_DAYS = (30, 14, 7, 1, 0)

# The exchange must install a new ca.crt on its FIX server before the old one can go:
# a CA renewal has to start this many days ahead, where a host certificate needs none.
CA_LEAD_DAYS = 14

# renewal -> (what to do, the guide's commands)
RENEWAL_ADVICE: dict[str, tuple[str, tuple[str, ...]]] = {
    "host": (
        "Renew the host certificate only: make a new host key and certificate with your CA and update "
        "fix.itbit.pem on the FIX client. ca.crt does not change; nothing goes to the exchange.",
        (
            "openssl genrsa -out host.key 4096",
            "openssl req -new -key host.key -out host.csr",
            "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256",
            "cat host.crt host.key > fix.itbit.pem",
            "openssl verify -CAfile ca.crt fix.itbit.pem",
        ),
    ),
    "exchange-signed": (
        "The exchange signed this certificate: make a new key and CSR and send the CSR to the exchange for a "
        "new certificate, then update fix.itbit.pem on the FIX client.",
        ("openssl req -new -newkey rsa:4096 -nodes -keyout private.key -out request.csr",),
    ),
    "ca": (
        "The client CA runs out first: make a new CA and a host certificate signed by it, and send the new "
        f"ca.crt to the exchange. It works only once the exchange has installed it, so start at least "
        f"{CA_LEAD_DAYS} days before the date.",
        (
            "openssl genrsa -out ca.key 4096",
            "openssl req -new -x509 -days 1000 -key ca.key -out ca.crt",
            "openssl genrsa -out host.key 4096",
            "openssl req -new -key host.key -out host.csr",
            "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out host.crt -days 500 -sha256",
            "cat host.crt host.key > fix.itbit.pem",
        ),
    ),
    "other": (
        "Renew the certificate the way it was issued and update fix.itbit.pem on the FIX client.",
        (),
    ),
}

CHECK_COMMANDS = (
    "openssl x509 -noout -enddate -subject -fingerprint -sha256 -in fix.itbit.pem",
    "openssl x509 -noout -enddate -subject -in ca.crt",
    "fixcheck expiry fix.itbit.pem ca.crt --within 30",
)


def due_at(deadline: dt.datetime, days: int) -> dt.datetime:
    """Midnight UTC of the calendar day `days` before the deadline's UTC day.

    Certificates can say anything (a notAfter of year 1 exists in public corpora): a day
    before the first representable one is that first day, not an OverflowError.
    """
    try:
        day = deadline.astimezone(dt.UTC).date() - dt.timedelta(days=days)
    except OverflowError:
        day = dt.date.min
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def thresholds_ahead(deadline: dt.datetime, now: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """The thresholds whose day is still to come (a watch made later skips the ones gone by)."""
    return [(d, due_at(deadline, d)) for d in THRESHOLD_DAYS if due_at(deadline, d) > now]


def days_left(deadline: dt.datetime, now: dt.datetime) -> int:
    """Whole UTC calendar days from `now` to the deadline (negative once it has passed)."""
    return (deadline.astimezone(dt.UTC).date() - now.astimezone(dt.UTC).date()).days
