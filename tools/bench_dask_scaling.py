"""Dask scaling of cbce: one fused forward+backward pass of BCE with logits over a chunked
float32 array (10^8 elements by default) on a dask.distributed LocalCluster of 1 worker
process and on one of 2 (one thread each, ``num_threads=1`` in the core), and the ratio.

Both clusters are started first and the data generated on their workers and persisted, so
the times are the fused pass only (each block: loss sum and gradient written in one pass, a
two-number summary sent back).  The two clusters are timed alternately, ``--repeat`` times
each; the best and the median of each are reported (on a shared machine other jobs then
load both alike).

    python tools/bench_dask_scaling.py [--n 100000000] [--chunk 4194304] [--repeat 5]
"""
import argparse
import statistics
import time

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait

import cbce


def _fused_block(x, y):
    loss, grad = cbce.binary_cross_entropy_with_logits_forward_backward(
        x, y, reduction="sum", num_threads=1)
    return np.array([float(loss), float(grad[-1])])


def start(workers, n, chunk):
    """A cluster of ``workers`` processes, its client, and the lazy pass over data that is
    already in the workers' memory."""
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=40)
    client = Client(cluster)
    rng = da.random.default_rng(0)
    x = rng.standard_normal(n, chunks=chunk, dtype=np.float32)
    # labels made from each block of x, so a block's x and y are on the same worker
    y = (da.sin(x * 1e3) > 0.2).astype(np.uint8)
    x, y = client.persist([x, y])
    wait([x, y])
    return cluster, client, da.map_blocks(_fused_block, x, y, chunks=(2,), dtype=np.float64)


def timed(client, summary):
    t0 = time.perf_counter()
    parts = client.compute(summary, sync=True)
    return time.perf_counter() - t0, float(np.sum(parts[0::2]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**8)
    ap.add_argument("--chunk", type=int, default=1 << 22)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    runs = {w: start(w, a.n, a.chunk) for w in (1, 2)}
    times, sums = {1: [], 2: []}, set()
    try:
        for _ in range(a.repeat):
            for w, (_, client, summary) in runs.items():
                t, total = timed(client, summary)
                times[w].append(t)
                sums.add(total)
    finally:
        for cluster, client, _ in runs.values():
            client.close()
            cluster.close()
    assert len(sums) == 1, f"the loss sums differ: {sums}"
    print(f"cbce {cbce.__version__}, {a.n} float32 elements in chunks of {a.chunk}, "
          f"fused forward+backward, {a.repeat} runs each")
    for w in (1, 2):
        print(f"{w} worker process(es): best {min(times[w]):.3f} s "
              f"({min(times[w]) / a.n * 1e9:.2f} ns/element), median "
              f"{statistics.median(times[w]):.3f} s")
    print(f"speed-up 2 vs 1: {min(times[1]) / min(times[2]):.2f}x (best), "
          f"{statistics.median(times[1]) / statistics.median(times[2]):.2f}x (median)")


if __name__ == "__main__":
    main()
