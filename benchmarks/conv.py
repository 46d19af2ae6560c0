"""Benchmark: numpy Convolution / Pooling layers against torch on one CPU thread.

Run:  python benchmarks/conv.py [--rounds 15] [--warmup 3] [--repeats 3] [--clock wall|cpu]
                                [--stat median|min]

Prints median times (ms) and the ratio numpy / torch for
  * conv forward, conv forward+backward (dx, dW, db) on
      A: N=32, C=3,  32x32, F=32, K=3, P=1
      B: N=16, C=64, 32x32, F=64, K=3, P=1
  * max-pool 2x2 stride 2 forward+backward on the conv output of each shape,
in float32 and float64, with PASS/MISS against the targets:
  conv fwd+bwd: <= 1.25x torch (float32 and float64, both shapes);  max-pool fwd+bwd < 1x.

Method (see MEASURED.md): both libraries are pinned to ONE thread, the thread variables are set
before numpy is imported; each implementation runs in its own block (warm-up, then rounds,
median) because alternating numpy and torch calls slows torch; one large numpy array is
allocated and freed first so that later buffers do not page-fault on every call. The numpy and
torch blocks of a case alternate `--repeats` times and each side reports the median of its
block medians, so a burst of load from other jobs that slows one block does not decide the
ratio; the spread column gives the lowest and highest ratio of the paired blocks.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

SHAPES = {
    "A": dict(n=32, c=3, size=32, f=32, k=3, pad=1),
    "B": dict(n=16, c=64, size=32, f=64, k=3, pad=1),
}
# (benchmark, dtype) -> largest acceptable numpy/torch ratio; per shape where it differs.
TARGETS = {
    ("conv fwd+bwd", "float32", "A"): 1.25,
    ("conv fwd+bwd", "float32", "B"): 1.25,
    ("conv fwd+bwd", "float64", "A"): 1.25,
    ("conv fwd+bwd", "float64", "B"): 1.25,
    ("maxpool fwd+bwd", "float32", "A"): 1.0,
    ("maxpool fwd+bwd", "float32", "B"): 1.0,
    ("maxpool fwd+bwd", "float64", "A"): 1.0,
    ("maxpool fwd+bwd", "float64", "B"): 1.0,
}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def blas_kernels() -> str:
    """Which BLAS numpy runs and the kernels it chose for this CPU ("SkylakeX" = AVX-512,
    "Haswell" = AVX2): numpy's float32 products run about 1.5x faster with the former."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS kernels unknown (threadpoolctl not installed)"
    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    # torch may load a BLAS of its own: report numpy's.
    blas.sort(key=lambda info: "numpy" not in info.get("filepath", ""))
    if not blas:
        return "no BLAS found"
    return f"{blas[0].get('internal_api')} {blas[0].get('version')} " \
           f"{blas[0].get('architecture', '?')} kernels"
STATS = {"median": statistics.median, "min": min}


def median_time(fn: Callable[[], object], warmup: int, rounds: int,
                clock: Callable[[], float] = time.perf_counter,
                stat: Callable[[list[float]], float] = statistics.median) -> float:
    """Median (or `stat`) time of fn() in seconds after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        start = clock()
        fn()
        times.append(clock() - start)
    return stat(times)


def numpy_cases(shape: dict, dtype: np.dtype, seed: int = 0) -> dict[str, Callable[[], object]]:
    from cnncourse.conv import Convolution
    from cnncourse.pooling import Pooling

    rng = np.random.default_rng(seed)
    n, c, size, f, k, pad = (shape[key] for key in ("n", "c", "size", "f", "k", "pad"))
    x = rng.standard_normal((n, c, size, size)).astype(dtype)
    conv = Convolution((rng.standard_normal((f, c, k, k)) * 0.1).astype(dtype),
                       np.zeros(f, dtype=dtype), stride=1, pad=pad)
    dout = rng.standard_normal(conv.forward(x).shape).astype(dtype)
    pool = Pooling(2, 2)
    pool_in = rng.standard_normal(dout.shape).astype(dtype)
    pool_dout = rng.standard_normal(pool.forward(pool_in).shape).astype(dtype)

    def conv_fwd_bwd():
        conv.forward(x)
        return conv.backward(dout)

    def pool_fwd_bwd():
        pool.forward(pool_in)
        return pool.backward(pool_dout)

    return {"conv fwd": lambda: conv.forward(x), "conv fwd+bwd": conv_fwd_bwd,
            "maxpool fwd+bwd": pool_fwd_bwd}


def torch_cases(shape: dict, dtype: np.dtype, seed: int = 0) -> dict[str, Callable[[], object]]:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    torch_dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(dtype)]
    gen = torch.Generator().manual_seed(seed)
    n, c, size, f, k, pad = (shape[key] for key in ("n", "c", "size", "f", "k", "pad"))
    x = torch.randn(n, c, size, size, generator=gen, dtype=torch_dtype, requires_grad=True)
    weights = (torch.randn(f, c, k, k, generator=gen, dtype=torch_dtype) * 0.1).requires_grad_()
    bias = torch.zeros(f, dtype=torch_dtype, requires_grad=True)
    out_shape = (n, f, size + 2 * pad - k + 1, size + 2 * pad - k + 1)
    dout = torch.randn(*out_shape, generator=gen, dtype=torch_dtype)
    pool_in = torch.randn(*out_shape, generator=gen, dtype=torch_dtype, requires_grad=True)
    pool_dout = torch.randn(n, f, out_shape[2] // 2, out_shape[3] // 2, generator=gen,
                            dtype=torch_dtype)

    def conv_fwd():
        with torch.no_grad():
            return F.conv2d(x, weights, bias, padding=pad)

    def conv_fwd_bwd():
        # Fresh gradients each call, like the numpy layer that overwrites dx, dW, db.
        x.grad = weights.grad = bias.grad = None
        F.conv2d(x, weights, bias, padding=pad).backward(dout)
        return x.grad

    def pool_fwd_bwd():
        pool_in.grad = None
        F.max_pool2d(pool_in, 2, 2).backward(pool_dout)
        return pool_in.grad

    return {"conv fwd": conv_fwd, "conv fwd+bwd": conv_fwd_bwd, "maxpool fwd+bwd": pool_fwd_bwd}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed calls per case (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    parser.add_argument("--repeats", type=int, default=3,
                        help="numpy and torch blocks alternate this many times per case")
    parser.add_argument("--shapes", default="AB", help="which shapes to run, e.g. A or AB")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or this process's CPU time (steadier while other "
                             "processes share the cores; both libraries run one thread)")
    parser.add_argument("--stat", choices=sorted(STATS), default="median",
                        help="summary of the rounds (min is the least noisy under load)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    # One big allocation up front, freed at once: later buffers come from memory already mapped.
    big = np.ones(64 * 2**20 // 8)
    del big

    print(f"numpy {np.__version__}, torch {torch.__version__}, threads: numpy 1, torch "
          f"{torch.get_num_threads()}; {args.clock} clock, {args.stat} of {args.rounds} after "
          f"{args.warmup} warm-up, median of {args.repeats} alternating blocks; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; numpy: {blas_kernels()}")
    for key in args.shapes:
        s = SHAPES[key]
        print(f"  shape {key}: N={s['n']}, C={s['c']}, {s['size']}x{s['size']}, F={s['f']}, "
              f"K={s['k']}, P={s['pad']}; max-pool 2x2/2 on the conv output")
    header = f"{'case':<18}{'shape':<7}{'dtype':<9}{'numpy ms':>10}{'torch ms':>10}{'ratio':>8}" \
             f"{'spread':>13}{'target':>9}  result"
    print(header)
    print("-" * len(header))
    misses = 0
    clock, stat = CLOCKS[args.clock], STATS[args.stat]
    for key in args.shapes:
        for dtype_name in args.dtypes.split(","):
            dtype = np.dtype(dtype_name)
            np_fns = numpy_cases(SHAPES[key], dtype)
            torch_fns = torch_cases(SHAPES[key], dtype)
            for name in np_fns:
                np_blocks, torch_blocks = [], []
                for _ in range(args.repeats):
                    np_blocks.append(median_time(np_fns[name], args.warmup, args.rounds, clock,
                                                 stat))
                    torch_blocks.append(median_time(torch_fns[name], args.warmup, args.rounds,
                                                    clock, stat))
                np_time = statistics.median(np_blocks)
                torch_time = statistics.median(torch_blocks)
                ratio = np_time / torch_time
                pair_ratios = [a / b for a, b in zip(np_blocks, torch_blocks)]
                spread = f"{min(pair_ratios):.2f}-{max(pair_ratios):.2f}"
                target = TARGETS.get((name, dtype_name, key))
                if target is None:
                    verdict, target_text = "", "-"
                else:
                    verdict = "PASS" if ratio <= target else "MISS"
                    misses += verdict == "MISS"
                    target_text = f"<={target:g}x"
                print(f"{name:<18}{key:<7}{dtype_name:<9}{np_time * 1e3:>10.2f}"
                      f"{torch_time * 1e3:>10.2f}{ratio:>7.2f}x{spread:>13}{target_text:>9}  "
                      f"{verdict}", flush=True)
    print(f"{misses} target(s) missed" if misses else "all targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
