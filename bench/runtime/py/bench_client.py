"""Celery side of the runtime benchmark; prints one JSON object.

  python3 bench_client.py enqueue <n>     time a loop of n noop.delay() calls
  python3 bench_client.py roundtrip <k>   k sequential delay() -> get() round trips (after 20 warm-ups)
"""

import json
import sys
import time

from benchtasks import app, noop


def enqueue(n):
    with app.producer_or_acquire() as producer:
        start = time.perf_counter()
        for _ in range(n):
            noop.apply_async(producer=producer)
        elapsed = time.perf_counter() - start
    return {"n": n, "ms": elapsed * 1000}


def roundtrip(k):
    samples = []
    for i in range(k + 20):
        start = time.perf_counter()
        noop.delay().get(timeout=10)
        if i >= 20:
            samples.append((time.perf_counter() - start) * 1000)
    return {"samples_ms": samples}


def main():
    mode, count = sys.argv[1], int(sys.argv[2])
    if mode == "enqueue":
        out = enqueue(count)
    elif mode == "roundtrip":
        out = roundtrip(count)
    else:
        raise SystemExit(f"bench_client.py: unknown mode {mode!r}; use enqueue or roundtrip")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
