"""Batch throughput: Jacobians per second of the 10 x 10 transcendental model.

N points (N = 1e5 and 1e6; an (N, 10) float64 array within ±40 % of the nominal point,
see gen_models.dense10_points) go through each tool, which returns all N Jacobians as an
(N, 10, 10) float64 numpy array.  Throughput = N / (median time of one batch call),
measured after one untimed warm-up call; the first call (which includes any compilation
and, for jacli, deriving and generating code) is reported too.  Every tool runs in its own
fresh process, and its result on the first 1000 points is checked against SymPy's.

Tools:

* ``jax``       — ``jax.jit(jax.vmap(jax.jacfwd(F)))`` with F generated from the model file,
  float64 (``jax_enable_x64``), ``block_until_ready``; compilation is excluded from the
  throughput (it is the *first call* column).
* ``sympy``     — ``sympy.lambdify(cse=True)`` of the symbolic 10 x 10 Jacobian (100
  entries), called on the input columns; assembling the (N, 10, 10) array is timed.
* ``symengine`` — ``symengine.Lambdify(backend='llvm', cse=True)`` of the Jacobian matrix,
  called on the (N, 10) array (it broadcasts to (N, 10, 10) itself).
* ``casadi``    — extra peer: CasADi SX ``jacobian`` + ``Function.map(N)`` (serial),
  with the (10, 10 N) result reshaped to (N, 10, 10).
* ``jacli``     — ``jacli.jacobian(jacli.load_model(path), at=X, backend="sympy")`` (the
  headline; the result's ``derivative`` array is the (N, 10, 10) Jacobian).
* ``jacli-prep`` — the same with the one-time work done once by ``jacli.prepare`` and
  passed as ``prep=``.

Parameters are fixed at their file values in every tool.

Usage::

    python benchmarks/bench_batch_throughput.py [--quick] [--repeats R] [--out FILE.md]
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _harness as H  # noqa: E402
import gen_models as G  # noqa: E402

TOOLS = ["jax", "sympy", "symengine", "casadi", "jacli", "jacli-prep"]
LABELS = {
    "jax": "JAX `jit(vmap(jacfwd))`",
    "sympy": "SymPy `lambdify(cse=True)`",
    "symengine": "SymEngine `Lambdify(llvm, cse=True)`",
    "casadi": "CasADi SX `Function.map` (serial)",
    "jacli": "**jacli** `jacobian(m, at=X, backend=\"sympy\")`",
    "jacli-prep": "jacli, one-time work hoisted: `prepare()` + `jacobian(..., prep=)`",
}
CHECK_POINTS = 1000


# ============================================================================ worker side


def _sympy_jacobian(path):
    import sympy as sp
    name, inputs, params, outputs = G.read_model(path)
    xs = sp.symbols(list(inputs))
    ns = dict(zip(inputs, xs))
    ns.update({k: sp.Float(v) for k, v in params.items()})
    F = sp.Matrix([sp.sympify(G.py_expr(s), locals=ns) for s in outputs.values()])
    return xs, F.jacobian(xs)


def build(tool, path):
    """Return ``f(X) -> (N, 10, 10)`` (may be lazy: compiled on the first call)."""
    import numpy as np
    name, inputs, params, outputs = G.read_model(path)
    m, n = len(outputs), len(inputs)
    if tool == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        src = G.python_source(inputs, params, outputs, module="jnp")
        F = G.compile_function(src, G.math_namespace(jnp, jnp=jnp))
        p0 = jnp.asarray([float(v) for v in params.values()])
        g = jax.jit(jax.vmap(jax.jacfwd(lambda x: F(x, p0))))

        def f(X):
            return g(X).block_until_ready()
        return f
    if tool == "sympy":
        import sympy as sp
        xs, J = _sympy_jacobian(path)
        entries = list(J)  # row-major
        lf = sp.lambdify(xs, entries, modules="numpy", cse=True)

        def f(X):
            cols = X.T.copy()
            vals = lf(*cols)
            out = np.empty((X.shape[0], m * n))
            for k, v in enumerate(vals):
                out[:, k] = v
            return out.reshape(X.shape[0], m, n)
        return f
    if tool == "symengine":
        import symengine as se
        xs, J = _sympy_jacobian(path)
        sxs = [se.Symbol(str(s)) for s in xs]
        sJ = se.Matrix(m, n, [se.sympify(e) for e in J])
        lf = se.Lambdify(sxs, sJ, backend="llvm", cse=True)

        def f(X):
            return lf(X)
        return f
    if tool == "casadi":
        import types
        import casadi as ca
        x = ca.SX.sym("x", n)
        src = G.python_source(inputs, params, outputs, module="M")
        M = types.SimpleNamespace(stack=lambda items: ca.vertcat(*items))
        Ff = G.compile_function(src, G.math_namespace(ca, M=M))
        Fx = Ff([x[i] for i in range(n)], [float(v) for v in params.values()])
        fun = ca.Function("J", [x], [ca.jacobian(Fx, x)])
        cache = {}

        def f(X):
            N = X.shape[0]
            if N not in cache:
                cache[N] = fun.map(N, "serial")
            out = cache[N](X.T).full()           # (m, n*N): block k is point k
            return out.reshape(m, N, n).transpose(1, 0, 2)
        return f
    if tool == "jacli":
        import jacli
        model = jacli.load_model(path)

        def f(X):
            r = jacli.jacobian(model, at=X, backend="sympy")
            return _as_array(r)
        return f
    if tool == "jacli-prep":
        import jacli
        model, backend, prep = jacli.prepare(jacli.load_model(path), "jacobian", backend="sympy")

        def f(X):
            r = jacli.jacobian(model, at=X, prep=(backend, prep))
            return _as_array(r)
        return f
    raise SystemExit(f"unknown tool {tool}")


def _as_array(r):
    """The (N, m, n) Jacobian array of whatever jacli.jacobian returned."""
    import numpy as np
    for attr in ("derivative", "jacobian"):
        v = getattr(r, attr, None)
        if v is not None and not callable(v):
            return np.asarray(v)
    if isinstance(r, dict) and "jacobian" in r:
        return np.asarray(r["jacobian"])
    return np.asarray(r)


def worker(tool, path, npoints, repeats, checkfile):
    import numpy as np
    t0 = time.perf_counter()
    X = G.dense10_points(npoints)
    f = build(tool, path)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    J = f(X)
    t_first = time.perf_counter() - t0
    J = np.asarray(J)
    shape = list(J.shape)
    np.save(checkfile, np.asarray(J[:CHECK_POINTS], dtype=float))
    del J
    f(X)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(X)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"setup": t_build, "first": t_first, "times": times, "shape": shape}))


# ============================================================================ parent side


def run(args):
    import numpy as np
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    sizes = [10_000] if quick else [100_000, 1_000_000]
    workdir = args.workdir or tempfile.mkdtemp(prefix="jacli-bench-")
    path = G.write_all(workdir, sizes=())["dense10"]
    jacli_note = H.jacli_status()
    quiet = []
    res = {}
    for N in sizes:
        res[N] = {}
        for tool in TOOLS:
            if tool.startswith("jacli") and jacli_note:
                res[N][tool] = {"status": "unavailable", "detail": jacli_note}
                continue
            print(f"[batch] {tool} N={N} ...", file=sys.stderr, flush=True)
            quiet.append(H.wait_quiet(args.max_busy, args.max_wait, f"{tool} N={N}"))
            chk = os.path.join(workdir, f"check-{tool}-{N}.npy")
            r = H.run_worker(__file__, [tool, path, str(N), str(repeats), chk],
                             timeout=300 if quick else 1200)
            if "times" not in r:
                r["status"] = "timeout" if r.get("timeout") else "error"
                r.setdefault("detail", r.get("error", ""))
                res[N][tool] = r
                print(f"[batch]   -> {r['status']}: {r.get('detail')}", file=sys.stderr, flush=True)
                continue
            t = H.Timing(r["times"])
            r.update(status="ok", median=t.median, min=t.min, max=t.max, rate=N / t.median,
                     check=chk)
            res[N][tool] = r
            print(f"[batch]   -> {r['rate']:.3g} /s", file=sys.stderr, flush=True)
        # correctness against SymPy
        ref_path = res[N].get("sympy", {}).get("check")
        if ref_path and os.path.exists(ref_path):
            ref = np.load(ref_path)
            scale = np.maximum(np.abs(ref), 1.0)
            for tool, r in res[N].items():
                if r.get("status") == "ok" and os.path.exists(r["check"]):
                    got = np.load(r["check"])
                    if got.shape == ref.shape:
                        r["err"] = float(np.max(np.abs(got - ref) / scale))
                    else:
                        r["err"] = float("nan")
                        r["detail"] = f"shape {got.shape}, expected {ref.shape}"
                    os.remove(r["check"])
    return {"sizes": sizes, "repeats": repeats, "results": res, "jacli_note": jacli_note,
            "quiet": quiet}


def report(raw):
    lines = ["## Batch throughput: 10 × 10 transcendental model", ""]
    lines.append(f"Load average (1/5/15 min) at the start: {raw.get('load_start', '?')}; "
                 f"at the end: {raw.get('load_end', '?')}. {H.quiet_summary(raw.get('quiet', []))}")
    lines.append("")
    lines.append(f"Jacobians per second (N / median time of one batch call, {raw['repeats']} timed "
                 "calls after a warm-up; higher is better). *first call* includes compilation "
                 "(and for jacli deriving and generating code); *setup* is what ran before it "
                 "(symbolic differentiation for SymPy/SymEngine/CasADi, `load_model` for jacli). "
                 "*rel err* = max |J − J_SymPy| / max(|J_SymPy|, 1) over the first 1000 points.")
    lines.append("")
    for N in raw["sizes"]:
        rows = []
        res = raw["results"][N]
        jax_rate = res.get("jax", {}).get("rate")
        for tool in TOOLS:
            r = res.get(tool, {})
            if r.get("status") != "ok":
                rows.append([LABELS[tool], r.get("status", "—"), "", "", "", "", ""])
                continue
            rel = H.fmt_ratio(r["rate"] / jax_rate) if jax_rate else "—"
            err = f"{r['err']:.1e}" if "err" in r and r["err"] == r["err"] else r.get("detail", "—")
            rows.append([LABELS[tool], H.fmt_rate(r["rate"]) + "/s",
                         f"{H.fmt_s(r['median'])} ({H.fmt_s(r['min'])}–{H.fmt_s(r['max'])})",
                         rel, H.fmt_s(r["first"]), H.fmt_s(r["setup"]), err])
        lines.append(f"N = {N:,} points:")
        lines.append("")
        lines.append(H.md_table(["tool", "Jacobians/s", "s per batch (min–max)", "vs JAX",
                                 "first call s", "setup s", "rel err"], rows))
        lines.append("")
        for tool in TOOLS:
            r = res.get(tool, {})
            if r.get("status") not in (None, "ok") and r.get("detail"):
                lines.append(f"* {tool}: {r['status']}: {r['detail']}")
        lines.append("")
    return "\n".join(lines)


def targets(raw):
    out = []
    for N in raw["sizes"]:
        res = raw["results"][N]
        j, x = res.get("jacli", {}), res.get("jax", {})
        both = j.get("status") == "ok" and x.get("status") == "ok"
        ratio = j["rate"] / x["rate"] if both else None
        best = x["min"] / j["min"] if both else None
        out.append(H.target_line(f"batch N = {N:,}: jacli throughput ≥ JAX", ratio, 1.0, "min",
                                 unit="x", best=best))
    return out


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        worker(argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5])
        return 0
    ap = H.common_args(__doc__.split("\n")[0])
    args = H.parse_common(ap, argv)
    load_start = H.loadavg()
    raw = run(args)
    raw["load_start"], raw["load_end"] = load_start, H.loadavg()
    raw["targets"] = targets(raw)
    md = report(raw)
    print(md + "\n" + H.targets_markdown(raw["targets"]) + "\n")
    H.write_outputs(args, md, raw)   # run_all.py collects the targets of all benchmarks
    return 0


if __name__ == "__main__":
    sys.exit(main())
