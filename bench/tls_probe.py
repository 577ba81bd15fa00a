"""Benchmark: fixcheck's steps 3+4 (TCP + mTLS handshake + the read after it) vs `openssl s_client`.

Against the same local mTLS server (a real `openssl s_server -Verify 1
-verify_return_error` on 127.0.0.1, TLS 1.3 by default), the median wall time of:
  - fixcheck's steps 3 and 4, in-process (resolve, connect, handshake with the client
    certificate, read once after the handshake, findings);
  - the whole `diagnose(files, endpoint=...)`, in-process (all eight steps);
  - `openssl s_client -connect ... -key fix.itbit.pem -cert fix.itbit.pem -CAfile itbit-ca.pem`
    doing the same handshake, run as a process (stdin at EOF, so it leaves right after);
and prints the ratio steps 3+4 / s_client (target <= 1.5).

    python bench/tls_probe.py [--rounds 30] [--tls 1.3|1.2] [--server openssl|python]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import median_seconds
from bot.engine import diagnose
from bot.engine.context import Context, Endpoint
from bot.engine.inputs import read_file
from bot.engine.roles import assign_roles
from bot.engine.steps import tcp, tls
from bot.lab.onboarding import ServerFiles, make_client, make_server
from bot.lab.server import local_mtls_server


@contextlib.contextmanager
def s_server(server: ServerFiles, client_ca: Path, version: str) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(
        [
            "openssl",
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-cert",
            str(server.crt),
            "-key",
            str(server.key),
            "-CAfile",
            str(client_ca),
            "-Verify",
            "1",
            "-verify_return_error",
            "-tls1_3" if version == "1.3" else "-tls1_2",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        port = 0
        deadline = time.monotonic() + 10
        while not port and time.monotonic() < deadline:
            line = proc.stdout.readline().decode(errors="replace").strip()
            if line.startswith("ACCEPT"):
                port = int(line.rsplit(":", 1)[1])
        if not port:
            raise RuntimeError("openssl s_server did not start")
        stdout = proc.stdout
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    parser.add_argument("--server", choices=["openssl", "python"], default="openssl")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        client = make_client(folder / "client")
        server = make_server(folder / "exchange")
        work = client.folder
        (work / "itbit-ca.pem").write_bytes(server.ca_pem.read_bytes())
        files = [
            ("fix.itbit.pem", client.bundle.read_bytes()),
            ("ca.crt", client.ca_crt.read_bytes()),
            ("itbit-ca.pem", server.ca_pem.read_bytes()),
        ]
        manager = (
            s_server(server, client.ca_crt, args.tls)
            if args.server == "openssl"
            else local_mtls_server(server, client.ca_crt.read_bytes(), tls_version=args.tls)
        )
        with manager as (host, port):
            endpoint = f"{host}:{port}"
            onboarding = assign_roles([read_file(n, b) for n, b in files])

            def steps_3_4() -> None:
                ctx = Context(onboarding=onboarding, endpoint=Endpoint(host, port), timeout=10.0)
                ctx.results[3] = ctx.results.get(3) or _result(3, tcp.run(ctx))
                found = tls.run(ctx)
                if [f.code for f in found] != ["tls.ok"]:
                    raise RuntimeError(f"unexpected step 4 result: {[f.code for f in found]}")

            def whole() -> None:
                report = diagnose(files, endpoint=endpoint, timeout=10.0)
                if report.step(4).findings[0].code != "tls.ok":
                    raise RuntimeError("unexpected diagnosis")

            s_client = [
                "openssl",
                "s_client",
                "-connect",
                endpoint,
                "-key",
                "fix.itbit.pem",
                "-cert",
                "fix.itbit.pem",
                "-CAfile",
                "itbit-ca.pem",
            ]

            def openssl_s_client() -> None:
                proc = subprocess.run(
                    s_client, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False
                )
                if b"Verification: OK" not in proc.stdout:
                    raise RuntimeError("s_client did not complete the handshake")

            probe = median_seconds(steps_3_4, args.rounds)
            full = median_seconds(whole, args.rounds)
            ossl = median_seconds(openssl_s_client, args.rounds)

    print(f"server: {args.server} (TLS {args.tls}) on 127.0.0.1, {args.rounds} rounds, medians")
    print(f"  fixcheck steps 3+4 (in-process):      {probe * 1000:8.2f} ms")
    print(f"  fixcheck diagnose() (all 8 steps):    {full * 1000:8.2f} ms")
    print(f"  openssl s_client (process):           {ossl * 1000:8.2f} ms")
    ratio = probe / ossl
    print(f"  ratio steps 3+4 / s_client:           {ratio:8.2f}x  (target <= 1.5x)")
    print(f"  ratio diagnose() / s_client:          {full / ossl:8.2f}x")
    return 0 if ratio <= 1.5 else 1


def _result(number: int, findings: list[object]) -> object:
    from bot.engine.report import StepResult

    return StepResult(number, "", tuple(findings), "")  # type: ignore[arg-type]


if __name__ == "__main__":
    raise SystemExit(main())
