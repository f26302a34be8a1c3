"""Sobol' indices: jacli vs SALib on the Ishigami function, same N, same run.

For N = 2^10 ... 2^15 base samples (no second order, ``--bootstrap`` resamples each, 95 %
intervals), both tools do the whole job: the Saltelli design on a scrambled Sobol' sequence,
N·(k+2) model evaluations, first-order and total indices with bootstrap intervals.

* jacli: ``jacli.sensitivity.variance.sobol_indices(model, samples=N, seed=s)`` on the
  Ishigami model read from TOML (its generated, vectorised NumPy code; compiled once before
  timing, as a prepared model would be).
* SALib: ``SALib.sample.sobol.sample`` + ``SALib.test_functions.Ishigami.evaluate`` (NumPy)
  + ``SALib.analyze.sobol.analyze``.

Reported per tool and N: median wall time over ``--repeats`` runs (run r uses seed + r for
both tools, which alternate within a round so they see the same machine load), model
evaluations, the RMS error of S1 and ST (x1..x3) against the analytic indices (derived from
the ANOVA terms, not constants) over all runs, and how many of those indices lie within the
tool's own reported interval.  Both tools draw the same scrambled Sobol' points for a seed
and use the same estimators, so their indices agree to rounding; the intervals differ
(different bootstrap draws, and jacli centres f before estimating).

Usage::

    python benchmarks/bench_sensitivity.py [--quick] [--repeats R] [--bootstrap B] [--seed S]
                                           [--second-order] [--out FILE.md]
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings

A, B = 7.0, 0.1
PI = math.pi


def reference():
    """Analytic S1, ST, S2 (pairs 12, 13, 23) of Ishigami on [-π, π]³ (see tests/test_sensitivity_global.py)."""
    v1 = 0.5 * (1 + B * PI ** 4 / 5) ** 2
    v2 = A * A / 8
    v13 = B * B / 2 * (PI ** 8 / 9 - PI ** 8 / 25)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v], [0.0, v13 / v, 0.0]


def jacli_model():
    from jacli.model import model_from_toml

    rows = "\n".join(f"x{i} = {{ value = 0, bounds = [{-PI!r}, {PI!r}], distribution = \"uniform\" }}"
                     for i in (1, 2, 3))
    return model_from_toml(f'[inputs]\n{rows}\n[parameters]\na = {A}\nb = {B}\n[outputs]\n'
                           f'f = "sin(x1) + a*sin(x2)^2 + b*x3^4*sin(x1)"\n')


def run_jacli(model, N, seed, bootstrap, second_order=False):
    from jacli.sensitivity.variance import sobol_indices

    t = time.perf_counter()
    r = sobol_indices(model, samples=N, seed=seed, bootstrap=bootstrap, second_order=second_order)
    dt = time.perf_counter() - t
    return (dt, r.evaluations, list(r.S1[0]), list(r.S1_conf[0]), list(r.ST[0]), list(r.ST_conf[0]),
            _pairs(r.S2[0]) if second_order else None, _pairs(r.S2_conf[0]) if second_order else None)


def run_salib(N, seed, bootstrap, second_order=False):
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample
    from SALib.test_functions import Ishigami

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
    t = time.perf_counter()
    X = sample.sample(problem, N, calc_second_order=second_order, scramble=True, seed=seed)
    Y = Ishigami.evaluate(X, A=A, B=B)
    Si = analyze.analyze(problem, Y, calc_second_order=second_order, num_resamples=bootstrap,
                         conf_level=0.95, seed=seed)
    dt = time.perf_counter() - t
    return (dt, len(Y), list(Si["S1"]), list(Si["S1_conf"]), list(Si["ST"]), list(Si["ST_conf"]),
            _pairs(Si["S2"]) if second_order else None, _pairs(Si["S2_conf"]) if second_order else None)


def _pairs(S2):
    """S2 of (x1,x2), (x1,x3), (x2,x3) from a k x k upper-triangular matrix."""
    return [float(S2[0][1]), float(S2[0][2]), float(S2[1][2])]


def summarise(results, ref):
    """RMS error over runs and indices, indices within their interval, largest half-width."""
    r1, rt, r2 = ref
    sq, inside, total, width = 0.0, 0, 0, 0.0
    for _, _, s1, s1c, st, stc, s2, s2c in results:
        groups = [(s1, s1c, r1), (st, stc, rt)] + ([(s2, s2c, r2)] if s2 is not None else [])
        for est, conf, true in groups:
            for a, c, b in zip(est, conf, true):
                sq += (a - b) ** 2
                inside += abs(a - b) <= c
                total += 1
                width = max(width, c)
    return math.sqrt(sq / total), f"{inside}/{total}", width


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="N up to 2^12, 2 repeats")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bootstrap", type=int, default=100, help="resamples (SALib's default: 100)")
    ap.add_argument("--seed", type=int, default=1, help="first seed; run r uses seed + r")
    ap.add_argument("--second-order", action="store_true", help="also S2: N(2k+2) evaluations")
    ap.add_argument("--out", help="also write the markdown table to this file")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")          # SALib/pandas deprecation chatter
    exps = range(10, 13) if args.quick else range(10, 16)
    repeats = 2 if args.quick else args.repeats
    so = args.second_order

    import numpy
    import scipy
    import importlib.util
    from importlib.metadata import version
    if importlib.util.find_spec("SALib") is None:
        print("SALib is not installed: pip install SALib", file=sys.stderr)
        return 2
    salib_version = version("SALib")

    model = jacli_model()
    run_jacli(model, 2 ** 8, args.seed, 2, so)   # generate and compile the model's code once
    run_salib(2 ** 8, args.seed, 2, so)
    ref = reference()
    rows = []
    for e in exps:
        N = 2 ** e
        rj, rs = [], []
        for rep in range(repeats):   # both tools see the same seed and the same machine load
            rj.append(run_jacli(model, N, args.seed + rep, args.bootstrap, so))
            rs.append(run_salib(N, args.seed + rep, args.bootstrap, so))
        mj = statistics.median(r[0] for r in rj)
        ms = statistics.median(r[0] for r in rs)
        ej, ij, wj = summarise(rj, ref)
        es, is_, ws = summarise(rs, ref)
        rows.append((e, rj[0][1], mj, ms, ms / mj, ej, es, wj, ws, ij, is_))

    what = "first-order, total and second-order" if so else "first-order + total"
    head = (f"Ishigami (a = 7, b = 0.1), {what} indices, {args.bootstrap} bootstrap "
            f"resamples, 95 % intervals; {repeats} runs per N with seeds {args.seed}..."
            f"{args.seed + repeats - 1} (time: median; error: RMS over runs and the S1/ST"
            f"{'/S2' if so else ''} indices; within CI: over all runs).  "
            f"numpy {numpy.__version__}, scipy {scipy.__version__}, SALib {salib_version}.\n\n")
    table = ["| N | evaluations (both) | jacli time [ms] | SALib time [ms] | SALib / jacli | "
             "RMS error jacli | RMS error SALib | max CI half-width jacli | max CI half-width SALib | "
             "within CI jacli | within CI SALib |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e, ev, mj, ms, ratio, ej, es, wj, ws, ij, is_ in rows:
        table.append(f"| 2^{e} | {ev} | {mj * 1e3:.1f} | {ms * 1e3:.1f} | {ratio:.2f} | {ej:.2e} | "
                     f"{es:.2e} | {wj:.3f} | {ws:.3f} | {ij} | {is_} |")
    text = head + "\n".join(table) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
