"""Long fuzz run of the engine (outside CI): ≥ 100,000 inputs, 0 crashes expected.

    python bench/fuzz.py --inputs 100000 --workers 2 --seed 1

A seeded mutation loop (`random.Random(seed)`) over a real onboarding corpus made with
the openssl CLI in a temporary folder (the property tests' mutators: bit flips,
truncation at every position class, base64 damage, mangled/swapped/duplicated BEGIN/END
lines, mixed line ends, inserted whitespace, Unicode look-alike dashes, DER damage,
UTF-16/BOM), plus random bytes, random text and random stunnel configurations, in random
combinations of files and names. Every input goes through `diagnose()` (never with an
endpoint: no network) and the invariants of `tests/properties/fuzzlib.check_report`.

A crash is an exception out of `diagnose()`, a step that crashed (`*.internal_error`),
any broken invariant (eight steps, valid statuses, unreadable input explained in step 5,
no private key line in JSON/text/Markdown/Block Kit), or an input slower than
--input-timeout. Crashing inputs are written to --crash-dir (a temporary folder by
default: they may hold the throwaway corpus's keys; never commit them).
Exit status: 0 with no crash, 1 otherwise.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import pickle
import random
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cryptography.utils import CryptographyDeprecationWarning

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.properties.fuzzlib import (
    NAMES,
    Corpus,
    build_corpus,
    mutate,
    run_engine,
    stunnel_text,
)

CHUNK = 500


@dataclass
class Result:
    tried: int = 0
    crashes: list[tuple[str, Path]] = field(default_factory=list)
    slowest_s: float = 0.0
    slowest_desc: str = ""
    seconds: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)


class InputTimeoutError(Exception):
    pass


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise InputTimeoutError


def make_input(rng: random.Random, corpus: Corpus) -> tuple[str, list[tuple[str, bytes]], tuple[str, bytes] | None]:
    """One fuzz case: (kind, files, stunnel)."""
    roll = rng.random()
    names = corpus.names
    if roll < 0.08:
        size = rng.choice((0, 1, 16, 256, 4096, 65536))
        return "random-bytes", [(rng.choice(NAMES), rng.randbytes(size))], None
    if roll < 0.14:
        chars = "".join(chr(rng.randint(1, 0x3000)) for _ in range(rng.randint(0, 400)))
        text = rng.choice(("-----BEGIN CERTIFICATE-----\n", "", "-----END PRIVATE KEY-----\n")) + chars
        return "random-text", [(rng.choice(NAMES), text.encode("utf-8", "surrogatepass"))], None
    if roll < 0.24:
        files = [(n, corpus.files[n]) for n in rng.sample(names, rng.randint(0, 3))]
        return "stunnel", files, (rng.choice(("stunnel.conf", "fix.conf")), stunnel_text(rng.randint))
    if roll < 0.32:
        parts = [corpus.files[rng.choice(names)] for _ in range(rng.randint(1, 5))]
        merged = rng.choice((b"", b"\n", b"\r\n", b"junk\n")).join(parts)
        return "merged", [(rng.choice(NAMES), mutate(merged, rng.randint) if rng.random() < 0.5 else merged)], None
    files = []
    for _ in range(rng.randint(1, 5)):
        source = rng.choice(names)
        data = corpus.files[source]
        if rng.random() < 0.8:
            data = mutate(data, rng.randint, rounds=rng.randint(1, 4))
        files.append((rng.choice((source, *NAMES)), data))
    return "mutated", files, None


def _describe(files: list[tuple[str, bytes]], stunnel: tuple[str, bytes] | None) -> str:
    sizes = ", ".join(f"{n!r}:{len(d)}B" for n, d in files)
    return sizes + (f" + stunnel {len(stunnel[1])}B" if stunnel else "")


_CORPUS: Corpus | None = None


def _init(corpus_bytes: bytes) -> None:
    global _CORPUS
    # Mutated serial numbers make `cryptography` warn once per certificate: noise here.
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    warnings.simplefilter("ignore", UserWarning)  # e.g. a mutated country name of the wrong length
    _CORPUS = pickle.loads(corpus_bytes)  # our own object, made by the parent process
    signal.signal(signal.SIGALRM, _on_alarm)


def run_chunk(args: tuple[int, int, int, float, str, float]) -> Result:
    seed, chunk, count, input_timeout, crash_dir, deadline = args
    assert _CORPUS is not None
    corpus = _CORPUS
    rng = random.Random(seed * 1_000_003 + chunk)
    result = Result()
    started = time.perf_counter()
    for n in range(count):
        if time.time() > deadline:
            break
        kind, files, stunnel = make_input(rng, corpus)
        result.kinds[kind] = result.kinds.get(kind, 0) + 1
        t0 = time.perf_counter()
        error: str | None = None
        signal.setitimer(signal.ITIMER_REAL, input_timeout)
        try:
            run_engine(files, stunnel, corpus.secret_lines)
        except InputTimeoutError:
            error = f"timeout: slower than {input_timeout}s"
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.perf_counter() - t0
        result.tried += 1
        if took > result.slowest_s:
            result.slowest_s, result.slowest_desc = took, f"{kind}: {_describe(files, stunnel)}"
        if error is not None:
            path = Path(crash_dir) / f"crash-{seed}-{chunk}-{n}.pickle"
            path.write_bytes(pickle.dumps({"files": files, "stunnel": stunnel, "error": error}))
            result.crashes.append((error, path))
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=min(2, mp.cpu_count()))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=1800, help="stop (and report) after this long")
    parser.add_argument("--input-timeout", type=float, default=10.0, help="one input slower than this is a crash")
    parser.add_argument("--crash-dir", type=Path, default=None)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="fixcheck-fuzz-"))
    crash_dir = args.crash_dir or work / "crashes"
    crash_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    corpus = build_corpus(work / "corpus")
    print(f"corpus: {len(corpus.files)} files made with openssl in {time.perf_counter() - t0:.1f}s ({work})", flush=True)

    deadline = time.time() + args.max_seconds
    chunks = [(args.seed, c, min(CHUNK, args.inputs - c * CHUNK), args.input_timeout, str(crash_dir), deadline)
              for c in range((args.inputs + CHUNK - 1) // CHUNK)]
    total = Result()
    started = time.perf_counter()
    with mp.get_context("fork").Pool(args.workers, initializer=_init, initargs=(pickle.dumps(corpus),)) as pool:
        for r in pool.imap_unordered(run_chunk, chunks):
            total.tried += r.tried
            total.crashes.extend(r.crashes)
            for k, v in r.kinds.items():
                total.kinds[k] = total.kinds.get(k, 0) + v
            if r.slowest_s > total.slowest_s:
                total.slowest_s, total.slowest_desc = r.slowest_s, r.slowest_desc
            if total.tried % 10_000 < CHUNK:
                print(f"  {total.tried:,} inputs, {len(total.crashes)} crashes, {time.perf_counter() - started:.0f}s", flush=True)
    elapsed = time.perf_counter() - started

    print(f"inputs tried: {total.tried:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(total.kinds.items()))})")
    print(f"crashes: {len(total.crashes)}")
    for error, path in total.crashes[:20]:
        print(f"  {error}  -> {path}")
    print(f"slowest input: {total.slowest_s * 1000:.1f} ms ({total.slowest_desc[:200]})")
    print(f"wall time: {elapsed:.0f}s on {args.workers} worker(s), {total.tried / max(elapsed, 1e-9):.0f} inputs/s")
    if total.tried < args.inputs:
        print(f"stopped early at --max-seconds {args.max_seconds:.0f}")
    return 0 if not total.crashes and total.tried >= args.inputs else 1


if __name__ == "__main__":
    sys.exit(main())
