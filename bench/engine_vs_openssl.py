"""Benchmark: offline diagnosis of the guide's real-size (RSA 4096) bundle.

Compares, in one process, the median time of:
  - fixcheck's `diagnose()` (steps 1, 2, 5, 6, 8 offline);
  - (a) the guide's openssl commands for the same steps, run as processes;
  - (b) the bare crypto work: parse the certificates and keys, check the signature,
    compare the public keys (cryptography, no diagnosis around it).
Prints both ratios. Targets (SPEC §5): diagnose >= 20x faster than (a), <= 5x of (b).

    python bench/engine_vs_openssl.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bench.timing import median_seconds
from bot.engine import diagnose
from bot.lab.onboarding import make_client, make_server

GUIDE_COMMANDS = [
    "openssl verify -CAfile ca.crt fix.itbit.pem",
    "openssl x509 -text -in ca.crt | grep -E '(Subject|Issuer):'",
    "openssl x509 -noout -modulus -in fix.itbit.pem | openssl md5",
    "openssl rsa -noout -modulus -in fix.itbit.pem | openssl md5",
    "openssl rsa -noout -modulus -in ca.key | openssl md5",
    "openssl x509 -noout -modulus -in ca.crt | openssl md5",
    "openssl x509 -noout -in ca.crt -enddate",
    "openssl x509 -noout -in fix.itbit.pem -enddate",
]


def interleaved_medians(a: Callable[[], object], b: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median times of `a` and `b`, run alternately `rounds` times each after a warm-up."""
    a()
    b()
    times_a, times_b = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        a()
        times_a.append(time.perf_counter() - start)
        start = time.perf_counter()
        b()
        times_b.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fixcheck-bench-") as tmp:
        folder = Path(tmp)
        print("making the guide's 4096-bit onboarding with openssl ...", flush=True)
        client = make_client(folder / "client", bits=4096)
        server = make_server(folder / "exchange", bits=4096)
        names = ["fix.itbit.pem", "ca.crt", "ca.key", "host.csr"]
        files = [(n, (client.folder / n).read_bytes()) for n in names] + [("itbit-ca.pem", server.ca_pem.read_bytes())]
        report = diagnose(files)
        assert report.verdict.value == "pass", report.to_dict()

        def engine() -> object:
            return diagnose(files)

        def guide_commands() -> object:
            for command in GUIDE_COMMANDS:
                subprocess.run(["bash", "-c", command], cwd=client.folder, capture_output=True, check=True)
            return None

        bundle, ca_pem, ca_key_pem, csr_pem, server_ca_pem = (data for _, data in files)

        def bare_crypto() -> object:
            cert = x509.load_pem_x509_certificate(bundle)
            ca = x509.load_pem_x509_certificate(ca_pem)
            start = bundle.index(b"-----BEGIN " + b"PRIVATE KEY-----")  # split: no key marker in the repo
            key = serialization.load_pem_private_key(bundle[start:], None, unsafe_skip_rsa_key_validation=True)
            ca_key = serialization.load_pem_private_key(ca_key_pem, None, unsafe_skip_rsa_key_validation=True)
            # The same five files the engine is given: the CSR and the server CA are parsed too.
            csr = x509.load_pem_x509_csr(csr_pem)
            server_ca = x509.load_pem_x509_certificate(server_ca_pem)
            cert.verify_directly_issued_by(ca)
            ca.verify_directly_issued_by(ca)
            return (
                cert.public_key() == key.public_key(),
                ca.public_key() == ca_key.public_key(),
                csr.public_key() == key.public_key(),
                server_ca.not_valid_after_utc,
            )

        # Interleaved, so that a noisy neighbour slows both sides of a ratio alike.
        t_engine, t_bare = interleaved_medians(engine, bare_crypto, args.rounds)
        t_openssl = median_seconds(guide_commands, max(3, args.rounds // 10))
    print(f"diagnose() in-process      median {t_engine * 1000:8.2f} ms")
    print(f"(a) guide's openssl cmds   median {t_openssl * 1000:8.2f} ms  ({len(GUIDE_COMMANDS)} commands)")
    print(f"(b) bare crypto work       median {t_bare * 1000:8.2f} ms")
    print(f"ratio (a)/diagnose = {t_openssl / t_engine:6.1f}x faster than openssl   (target >= 20x)")
    print(f"ratio diagnose/(b) = {t_engine / t_bare:6.2f}x of the bare crypto       (target <= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
