"""The key scan and log redaction on hostile input: time per MB against a benign baseline.

`exposure.scan` and `logs.redact` run on everything users send (messages up to 300 KB,
files up to the download cap) and on every log line. Both must stay linear: this prints,
for each hostile input, the time per MB divided by the time per MB of benign text of the
same size in the same process (a ratio near 1-10 is linear; a quadratic pattern shows
as 100+ and grows with --size).

    python bench/scan_redact.py [--size 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.slack import exposure, logs


def hostile(size: int) -> dict[str, bytes]:
    return {
        "one base64 run": b"A" * size,
        "16-char base64 lines": b"AAAAAAAAAAAAAAAA\n" * (size // 17),
        "quote marks": b"&gt; " * (size // 5),
        "DER length headers": b"\x30\x82\xff\xff" * (size // 4),
        "percent-encoded bytes": b"%41" * (size // 3),
        "colon hex, short runs": b"ab:cd:ef " * (size // 9),
        "PEM BEGIN lines": b"-----BEGIN A-----\n" * (size // 18),
    }


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    benign = (b"the quick brown fox jumps over the lazy dog " * (args.size // 44 + 1))[: args.size]
    base_scan = best(lambda: exposure.scan("x", benign), args.repeat)
    text = benign.decode()
    base_redact = best(lambda: logs.redact(text), args.repeat)
    print(f"baseline (benign text, {args.size} bytes): scan {base_scan * 1000:.1f} ms, redact {base_redact * 1000:.1f} ms")
    print(f"{'input':<24} {'scan ms':>9} {'ratio':>7} {'redact ms':>10} {'ratio':>7}")
    for name, data in hostile(args.size).items():
        scan = best(partial(exposure.scan, "x", data), args.repeat)
        redact = best(partial(logs.redact, data.decode("latin-1")), args.repeat)
        print(
            f"{name:<24} {scan * 1000:>9.1f} {scan / max(base_scan, 1e-6):>7.1f}"
            f" {redact * 1000:>10.1f} {redact / max(base_redact, 1e-6):>7.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
