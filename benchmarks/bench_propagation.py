"""First-order (GUM) propagation of a 1000-input model: jacli against `uncertainties`.

The model is a linearised measurement equation with k inputs and 3 outputs:
    y1 = sum_i a_i x_i,   y2 = sum_i b_i x_i^2 / 2,   y3 = exp(sum_i c_i x_i / k)
each x_i normal with its own sigma, uncorrelated.  Both tools give the first-order
combined standard uncertainty; the exact reference is the closed form
u(y)^2 = sum_i (dy/dx_i)^2 u_i^2 evaluated by NumPy.  Timings are medians of fresh
calls (jacli: `propagate` including model loading and derivation; uncertainties: building
the ufloats and evaluating the three outputs).

    python benchmarks/bench_propagation.py [--k 1000] [--repeats 5] [--out FILE.md]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def write_model(path, k, rng):
    a = rng.uniform(0.5, 2.0, k)
    b = rng.uniform(0.1, 1.0, k)
    c = rng.uniform(-1.0, 1.0, k)
    x = rng.uniform(1.0, 3.0, k)
    s = rng.uniform(0.01, 0.05, k)
    lines = ['name = "linearised-%d"' % k, "[inputs]"]
    lines += [f"x{i} = {{ value = {float(x[i])!r}, sigma = {float(s[i])!r} }}" for i in range(k)]
    lines += ["[definitions]"]
    # chunked sums keep every expression string short
    for name, coef, term in (("p", a, "{c}*x{i}"), ("q", b, "{c}*x{i}^2/2"), ("r", c, "{c}*x{i}")):
        for j in range(0, k, 100):
            body = " + ".join(term.format(c=repr(float(coef[i])), i=i) for i in range(j, min(j + 100, k)))
            lines.append(f'{name}{j // 100} = "{body}"')
    nchunks = (k + 99) // 100
    lines += ["[outputs]"]
    lines.append('y1 = "' + " + ".join(f"p{j}" for j in range(nchunks)) + '"')
    lines.append('y2 = "' + " + ".join(f"q{j}" for j in range(nchunks)) + '"')
    lines.append(f'y3 = "exp(({" + ".join(f"r{j}" for j in range(nchunks))})/{k})"')
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return a, b, c, x, s


def exact(a, b, c, x, s):
    k = len(x)
    e = math.exp(float(c @ x) / k)
    return [float(np.sqrt(np.sum((a * s) ** 2))), float(np.sqrt(np.sum((b * x * s) ** 2))),
            float(e * np.sqrt(np.sum((c / k * s) ** 2)))]


def run_jacli(path):
    import jacli
    from jacli import _cache
    from jacli.sensitivity.propagation import propagate

    _cache.disable()
    t = time.perf_counter()
    res = propagate(jacli.load_model(path))
    return time.perf_counter() - t, [o.std_uncertainty for o in res.outputs]


def run_uncertainties(a, b, c, x, s):
    from uncertainties import ufloat
    from uncertainties import umath

    t = time.perf_counter()
    xs = [ufloat(float(xi), float(si)) for xi, si in zip(x, s)]
    k = len(xs)
    y1 = sum(float(ai) * xi for ai, xi in zip(a, xs))
    y2 = sum(float(bi) * xi ** 2 / 2 for bi, xi in zip(b, xs))
    y3 = umath.exp(sum(float(ci) * xi for ci, xi in zip(c, xs)) / k)
    us = [y1.std_dev, y2.std_dev, y3.std_dev]
    return time.perf_counter() - t, us


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "lin.toml")
        a, b, c, x, s = write_model(path, args.k, rng)
        ref = exact(a, b, c, x, s)
        tj, uj = zip(*[run_jacli(path) for _ in range(args.repeats)])
        try:
            tu, uu = zip(*[run_uncertainties(a, b, c, x, s) for _ in range(args.repeats)])
        except ImportError:
            tu, uu = None, None
    rows = ["| tool | median s | max rel. error of u(y1), u(y2), u(y3) |", "| :--- | ---: | ---: |"]
    ej = max(abs(u - r) / r for u, r in zip(uj[0], ref))
    rows.append(f"| jacli `propagate` (load + derive + evaluate) | {statistics.median(tj):.3g} | {ej:.1e} |")
    if tu is not None:
        eu = max(abs(u - r) / r for u, r in zip(uu[0], ref))
        rows.append(f"| `uncertainties` (ufloats + evaluation) | {statistics.median(tu):.3g} | {eu:.1e} |")
        rows.append(f"| ratio uncertainties / jacli | {statistics.median(tu) / statistics.median(tj):.2g}× | |")
    else:
        rows.append("| `uncertainties` | not installed | |")
    text = (f"First-order propagation, k = {args.k} inputs, 3 outputs, medians of {args.repeats} "
            "calls:\n\n" + "\n".join(rows) + "\n")
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
