"""Overhead of jacli's ``jax`` and ``torch`` backends over hand-written JAX / PyTorch code.

The 10 × 10 transcendental model of the batch benchmark (``dense10``, gen_models.py) at
N points (default N = 1e5; an (N, 10) float64 array within ±40 % of the nominal point).
Each tool returns its result as a NumPy float64 array — (N, 10, 10) Jacobians, or (N, 10)
vector-Jacobian products uᵀJ for one random u per point — and is timed as the median of
``repeats`` calls after one untimed warm-up call (compilation excluded; the first call is
reported separately).  Every tool runs in its own fresh process; its result on the first
1000 points is checked against the ``sympy`` backend's.

Tools:

* ``jax-hand``    — hand-written JAX for the same function: ``jax.jit(jax.vmap(jax.jacfwd(F)))``
  with F generated from the model file (as in the batch benchmark), float64, the whole batch
  in one call, ``np.asarray`` of the result; vjp: ``jit(vmap(lambda x, u: vjp(F, x)[1](u)))``.
* ``torch-hand``  — the same with ``torch.func`` (``vmap(jacfwd(F))``, ``.numpy()``), one
  PyTorch thread (jacli's ``torch`` default, see below); ``torch-hand-default-threads`` the
  same with PyTorch's default thread count, for reference.
* ``jacli-jax``, ``jacli-torch``, ``jacli-sympy`` — ``jacli.jacobian(model, at=X, backend=...)``
  (``jacli.vjp(model, X, U, backend=...)``): the whole public call (validation, per-point
  status, the backend's cached preparation).
* ``jacli-jax-prep``, ``jacli-torch-prep`` — the same with ``jacli.prepare`` hoisted out and
  passed as ``prep=``.

Target: jacli's time / the hand-written code's time ≤ 1.2 at N = 1e5, for ``jax`` and
``torch`` (whole public call).

Usage::

    python benchmarks/bench_ad_overhead.py [--quick] [--repeats R] [--out FILE.md] [--json FILE]
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

TOOLS = ["jax-hand", "jacli-jax", "jacli-jax-prep", "torch-hand", "torch-hand-default-threads",
         "jacli-torch", "jacli-torch-prep", "jacli-sympy"]
LABELS = {
    "jax-hand": "hand-written JAX `jit(vmap(jacfwd(F)))`",
    "jacli-jax": "**jacli** `backend=\"jax\"`",
    "jacli-jax-prep": "jacli `jax`, `prepare()` hoisted",
    "torch-hand": "hand-written PyTorch `vmap(jacfwd(F))`, 1 thread",
    "torch-hand-default-threads": "hand-written PyTorch, default threads",
    "jacli-torch": "**jacli** `backend=\"torch\"` (1 thread)",
    "jacli-torch-prep": "jacli `torch`, `prepare()` hoisted",
    "jacli-sympy": "jacli `backend=\"sympy\"` (generated NumPy code)",
}
VJP_LABELS = {
    "jax-hand": "hand-written JAX `jit(vmap(vjp))`",
    "torch-hand": "hand-written PyTorch `vmap(vjp)`, 1 thread",
    "torch-hand-default-threads": "hand-written PyTorch `vmap(vjp)`, default threads",
}
#: (jacli tool, hand-written tool) pairs whose ratio is the overhead.
PAIRS = [("jacli-jax", "jax-hand"), ("jacli-jax-prep", "jax-hand"),
         ("jacli-torch", "torch-hand"), ("jacli-torch-prep", "torch-hand")]
OPS = ("jacobian", "vjp")
CHECK_POINTS = 1000
TARGET = 1.2


# ============================================================================ worker side


def _hand(tool, op, path):
    """Hand-written code for the same function: ``f(X, U) -> ndarray``."""
    import numpy as np

    name, inputs, params, outputs = G.read_model(path)
    if tool == "jax-hand":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        F = G.compile_function(G.python_source(inputs, params, outputs, module="jnp"),
                               G.math_namespace(jnp, jnp=jnp))
        p0 = jnp.asarray([float(v) for v in params.values()])
        Fx = lambda x: F(x, p0)  # noqa: E731
        if op == "jacobian":
            g = jax.jit(jax.vmap(jax.jacfwd(Fx)))
            return lambda X, U: np.asarray(g(jnp.asarray(X)))
        g = jax.jit(jax.vmap(lambda x, u: jax.vjp(Fx, x)[1](u)[0]))
        return lambda X, U: np.asarray(g(jnp.asarray(X), jnp.asarray(U)))
    import torch

    if tool == "torch-hand":
        torch.set_num_threads(1)
    F = G.compile_function(G.python_source(inputs, params, outputs, module="torch"),
                           G.math_namespace(torch, torch=torch))
    p0 = torch.tensor([float(v) for v in params.values()], dtype=torch.float64)
    Fx = lambda x: F(x, p0)  # noqa: E731
    if op == "jacobian":
        g = torch.func.vmap(torch.func.jacfwd(Fx))
        return lambda X, U: g(torch.from_numpy(X)).numpy()
    g = torch.func.vmap(lambda x, u: torch.func.vjp(Fx, x)[1](u)[0])
    return lambda X, U: g(torch.from_numpy(X), torch.from_numpy(U)).numpy()


def build(tool, op, path):
    """Return ``f(X, U) -> ndarray`` (compiled lazily on the first call where that applies)."""
    if tool.endswith("-hand") or tool == "torch-hand-default-threads":
        return _hand(tool, op, path)
    import jacli

    backend = tool.split("-")[1]
    model = jacli.load_model(path)
    if tool.endswith("-prep"):
        model, be, prep = jacli.prepare(model, op, backend=backend)
        if op == "jacobian":
            return lambda X, U: jacli.jacobian(model, X, prep=(be, prep)).derivative
        return lambda X, U: jacli.vjp(model, X, U, prep=(be, prep)).derivative
    if op == "jacobian":
        return lambda X, U: jacli.jacobian(model, X, backend=backend).derivative
    return lambda X, U: jacli.vjp(model, X, U, backend=backend).derivative


def worker(tool, op, path, npoints, repeats, checkfile):
    import numpy as np

    X = G.dense10_points(npoints)
    U = np.random.default_rng(1).uniform(-1, 1, size=(npoints, 10))
    t0 = time.perf_counter()
    f = build(tool, op, path)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    R = np.asarray(f(X, U))
    t_first = time.perf_counter() - t0
    shape = list(R.shape)
    np.save(checkfile, np.asarray(R[:CHECK_POINTS], dtype=float))
    del R
    f(X, U)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(X, U)
        times.append(time.perf_counter() - t0)
    threads = None
    if tool.startswith("jacli-torch"):
        from jacli.backends import get_backend
        threads = get_backend("torch").options_dict["threads"]   # set by jacli during its calls
    elif "torch" in tool:
        import torch
        threads = torch.get_num_threads()
    print(json.dumps({"setup": t_build, "first": t_first, "times": times, "shape": shape,
                      "threads": threads}))


# ============================================================================ parent side


def run(args):
    import numpy as np

    quick = args.quick
    repeats = args.repeats or (2 if quick else 7)
    N = 10_000 if quick else args.points
    workdir = args.workdir or tempfile.mkdtemp(prefix="jacli-bench-")
    path = G.write_all(workdir, sizes=())["dense10"]
    res, quiet = {}, []
    for op in OPS:
        res[op] = {}
        for tool in TOOLS:
            print(f"[ad] {op} {tool} N={N} ...", file=sys.stderr, flush=True)
            quiet.append(H.wait_quiet(args.max_busy, args.max_wait, f"{op} {tool}"))
            chk = os.path.join(workdir, f"check-{op}-{tool}.npy")
            r = H.run_worker(__file__, [tool, op, path, str(N), str(repeats), chk],
                             timeout=300 if quick else 1200)
            if "times" not in r:
                r["status"] = "timeout" if r.get("timeout") else "error"
                r.setdefault("detail", r.get("error", ""))
                res[op][tool] = r
                print(f"[ad]   -> {r['status']}: {r.get('detail')}", file=sys.stderr, flush=True)
                continue
            t = H.Timing(r["times"])
            r.update(status="ok", median=t.median, min=t.min, max=t.max, check=chk)
            res[op][tool] = r
            print(f"[ad]   -> {t.median:.4g} s", file=sys.stderr, flush=True)
        ref_path = res[op].get("jacli-sympy", {}).get("check")
        ref = np.load(ref_path) if ref_path and os.path.exists(ref_path) else None
        for tool, r in res[op].items():
            if r.get("status") == "ok" and os.path.exists(r["check"]):
                if ref is not None:
                    got = np.load(r["check"])
                    r["err"] = (float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)))
                                if got.shape == ref.shape else float("nan"))
                os.remove(r["check"])
    return {"points": N, "repeats": repeats, "results": res, "quiet": quiet,
            "versions": {m: H.package_version(m) for m in ("jax", "torch")}}


def report(raw):
    N = raw["points"]
    v = raw.get("versions", {})
    lines = ["## Overhead of the `jax` and `torch` backends over hand-written code", ""]
    lines.append(f"Load average (1/5/15 min) at the start: {raw.get('load_start', '?')}; at the end: "
                 f"{raw.get('load_end', '?')}. {H.quiet_summary(raw.get('quiet', []))}")
    lines.append("")
    lines.append(f"The 10 × 10 transcendental model (`dense10`) at N = {N:,} points, JAX "
                 f"{v.get('jax') or '—'}, PyTorch {v.get('torch') or '—'}. Seconds per call: median of "
                 f"{raw['repeats']} calls after a warm-up (min–max), each tool in a fresh process; *first "
                 "call* includes compilation and jacli's preparation. *ratio* = jacli's median / the "
                 "hand-written code's median, same run (target ≤ 1.2). *rel err* = max |R − R_sympy| / "
                 "max(|R_sympy|, 1) over the first 1000 points.")
    lines.append("")
    for op in OPS:
        res = raw["results"][op]
        rows = []
        for tool in TOOLS:
            r = res.get(tool, {})
            label = (VJP_LABELS.get(tool) if op == "vjp" else None) or LABELS[tool]
            if r.get("status") != "ok":
                rows.append([label, r.get("status", "—"), "", "", "", ""])
                continue
            pair = dict(PAIRS).get(tool)
            ratio = H.fmt_ratio(r["median"] / res[pair]["median"]) if pair and res.get(pair, {}).get(
                "status") == "ok" else ""
            err = f"{r['err']:.1e}" if "err" in r and r["err"] == r["err"] else "—"
            rows.append([label, f"{H.fmt_s(r['median'])} ({H.fmt_s(r['min'])}–{H.fmt_s(r['max'])})",
                         ratio, H.fmt_s(r["first"]), err,
                         "" if r.get("threads") is None else str(r["threads"])])
        what = "Jacobians (N, 10, 10)" if op == "jacobian" else "vector-Jacobian products uᵀJ (N, 10)"
        lines.append(f"{what}:")
        lines.append("")
        lines.append(H.md_table(["tool", "s per call (min–max)", "ratio", "first call s", "rel err",
                                 "torch threads"], rows))
        lines.append("")
        for tool in TOOLS:
            r = res.get(tool, {})
            if r.get("status") not in (None, "ok") and r.get("detail"):
                lines.append(f"* {tool}: {r['status']}: {r['detail']}")
        lines.append("")
    return "\n".join(lines)


def targets(raw):
    out = []
    N = raw["points"]
    for op in OPS:
        res = raw["results"][op]
        for jt, ht in PAIRS:
            if jt.endswith("-prep"):
                continue
            j, h = res.get(jt, {}), res.get(ht, {})
            both = j.get("status") == "ok" and h.get("status") == "ok"
            ratio = j["median"] / h["median"] if both else None
            best = j["min"] / h["min"] if both else None
            out.append(H.target_line(f"{op} N = {N:,}: jacli `{jt.split('-')[1]}` ≤ {TARGET} × hand-written "
                                     f"{'JAX' if 'jax' in jt else 'PyTorch'}", ratio, TARGET, "max", unit="x",
                                     best=best))
    return out


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        worker(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6])
        return 0
    ap = H.common_args(__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=100_000, help="batch size N (default 1e5)")
    args = H.parse_common(ap, argv)
    load_start = H.loadavg()
    raw = run(args)
    raw["load_start"], raw["load_end"] = load_start, H.loadavg()
    raw["targets"] = targets(raw)
    md = report(raw)
    print(md + "\n" + H.targets_markdown(raw["targets"]) + "\n")
    H.write_outputs(args, md, raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
