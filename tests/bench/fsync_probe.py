"""Disk flush latency for bench/RESULTS.md: appends 4 KiB to a file and fsyncs it, 2,000 times,
and prints p50/p90/p99/max of the fsync alone (what a SQLite WAL commit waits for).

Run: python3 tests/bench/fsync_probe.py [directory]   (default: the system temp directory,
where the socket bench keeps its SQLite database).
"""

import os
import statistics
import sys
import tempfile
import time

SAMPLES = 2000
BLOCK = b"x" * 4096


def main() -> None:
    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir()
    handle, path = tempfile.mkstemp(prefix="fsync-probe-", dir=directory)
    times = []
    try:
        for _ in range(SAMPLES):
            os.write(handle, BLOCK)
            started = time.perf_counter()
            os.fsync(handle)
            times.append(time.perf_counter() - started)
    finally:
        os.close(handle)
        os.unlink(path)
    times.sort()

    def at(q: float) -> float:
        return times[round((len(times) - 1) * q)] * 1e3

    print(
        f"fsync after a 4 KiB append in {directory}, n={SAMPLES}: p50 {at(0.5):.3f} ms, "
        f"p90 {at(0.9):.3f} ms, p99 {at(0.99):.3f} ms, max {at(1.0):.3f} ms, "
        f"mean {statistics.fmean(times) * 1e3:.3f} ms"
    )


if __name__ == "__main__":
    main()
