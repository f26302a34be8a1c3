"""Large models through the AD backends: gradient cost and matrix-free eigenvalues at n = 1e3 … 1e6.

Expression models stop at 200,000 nodes (extended Rosenbrock: n = 39,990), so the issue's
large sizes are reached with a **Python-function model** — the same extended Rosenbrock,
``f(x) = ½ Σ 100 (x_{2i} − x_{2i−1}²)² + (1 − x_{2i−1})²``, written once with
``xp = array_namespace(x)`` into a file that jacli loads with ``--inputs N`` — and jacli's
``jax`` and ``torch`` backends.

(a) Gradient cost, time(vjp) / time(f), n = 1e3, 1e4, 1e5, 1e6 (point ``rosen_point(n)``):
    * jacli: the whole library call ``jacli.vjp(model, x, [1.0], prep=(backend, prep))``
      (validation, per-point status and the Result included) with ``-b jax`` and ``-b torch``;
    * f: the same user function, hand-compiled (``jax.jit(f)``; PyTorch forward, 1 thread as
      jacli's torch default) — the time a user pays for one evaluation;
    * peers: JAX ``jit(grad(f))``, PyTorch forward + ``autograd.grad``.
    Ratios are per alternating round, medians over rounds; every gradient is checked
    against the closed form.

(b) Top-5 eigenvalues of the Hessian at n = 1e5 (and 1e6 with ``--eig-n``), matrix-free:
    jacli ``hvp_function(model, x, backend="jax")`` with SciPy ``eigsh(k=5, which="LA",
    tol=0)`` (the issue's method) and with ``jacli.curvature.extreme_eigenvalues``; JAX
    ``jit(jvp(grad(f)))`` with the same two.  Same starting vector; reported: time, HVPs,
    max relative error of the five eigenvalues against the closed form (2 × 2 blocks).

Each tool runs in its own fresh process.

    python benchmarks/bench_ad_large.py [--quick] [--repeats R] [--eig-n N ...] [--out FILE.md]
                                        [--json F] [--from-json F]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _harness as H  # noqa: E402
import gen_models as G  # noqa: E402
from bench_hessian import _eig_runs, exact_hvp  # noqa: E402
from bench_products import _median, paired  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)
EIG_N = (100_000,)

MODEL_SOURCE = '''"""Extended Rosenbrock, f = 1/2 sum 100 (x[2i+1] - x[2i]^2)^2 + (1 - x[2i])^2 (benchmark model)."""
from array_api_compat import array_namespace


def f(x):
    xp = array_namespace(x)
    a, b = x[0::2], x[1::2]
    return 0.5 * xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)
'''


def exact_grad(x):
    import numpy as np
    a, b = x[0::2], x[1::2]
    g = np.empty_like(x)
    g[0::2] = -200.0 * a * (b - a * a) - (1.0 - a)
    g[1::2] = 100.0 * (b - a * a)
    return g


def _rel(g, ref):
    import numpy as np
    return float(np.max(np.abs(np.asarray(g).reshape(-1) - ref)) / np.max(np.abs(ref)))


def _user_f(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("_bench_rosen", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.f


# ============================================================================ workers


def _jacli_vjp(spec, backend):
    """Load the model, prepare a vjp with ``backend`` and make the first (compiling) call:
    ``(res, x, ref, model, X, vjp)`` with load/first-call times and the error in ``res`` and
    ``vjp()`` the whole library call to time."""
    import jacli
    from jacli import _ops
    n = spec["n"]
    res = {}
    x = G.rosen_point(n)
    ref = exact_grad(x)
    t0 = time.perf_counter()
    model = jacli.load_model(spec["path"], inputs=n)
    res["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, be, prep = _ops.prepare(model, "vjp", backend=backend)
    X = x.reshape(1, -1)
    r = jacli.vjp(model, X, [1.0], prep=(be, prep))
    res["first"] = time.perf_counter() - t0
    res["jacli_err"] = _rel(r.derivative[0], ref)
    res["status"] = int(r.status[0])
    return res, x, ref, model, X, lambda: jacli.vjp(model, X, [1.0], prep=(be, prep))


def _eig_measure(hv, x, repeats, res, t0):
    """First product (its time since ``t0`` is ``prepare``), per-HVP time and the eigenvalue runs."""
    import numpy as np
    n = x.size
    v = np.random.default_rng(5).standard_normal(n)
    w = hv(v)
    res["prepare"] = time.perf_counter() - t0
    res["hvp_err"] = _rel(w, exact_hvp(x, v))
    times, _ = paired({"hvp": lambda: hv(v)}, max(3, repeats))
    res["times"] = times
    _eig_runs(hv, n, repeats, res, "")
    return res


def worker_jax(spec):
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jacli import _ops
    path, repeats = spec["path"], spec["repeats"]
    res, x, ref, model, X, vjp = _jacli_vjp(spec, "jax")
    f = _user_f(path)
    fj = jax.jit(f)
    gj = jax.jit(jax.grad(f))
    xj = jnp.asarray(x)
    fj(xj).block_until_ready()
    res["jax_err"] = _rel(np.asarray(gj(xj)), ref)
    from jacli.model._numeric import model_function
    F = model_function(model)
    A = _ops._full_args(model, X)
    times, _ = paired({
        "f_jacli": lambda: F(A),
        "f": lambda: fj(xj).block_until_ready(),
        "jax_grad": lambda: gj(xj).block_until_ready(),
        "jacli_vjp": vjp,
    }, repeats)
    res["times"] = times
    return res


def worker_torch(spec):
    import torch
    torch.set_num_threads(1)                       # as jacli's torch backend by default
    path, repeats = spec["path"], spec["repeats"]
    res, x, ref, model, X, vjp = _jacli_vjp(spec, "torch")
    f = _user_f(path)
    xt = torch.tensor(x, dtype=torch.float64)

    def fwd():
        with torch.no_grad():
            return f(xt)

    def grad():
        xx = xt.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(xx), xx)
        return g
    res["torch_err"] = _rel(grad().numpy(), ref)
    times, _ = paired({"f": fwd, "torch_grad": grad,
                       "jacli_vjp": vjp}, repeats)
    res["times"] = times
    return res


def worker_jacli_eig(spec):
    import jacli
    path, n, repeats = spec["path"], spec["n"], spec["repeats"]
    res = {}
    x = G.rosen_point(n)
    t0 = time.perf_counter()
    model = jacli.load_model(path, inputs=n)
    res["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()                           # prepare + compile + first product
    hv, k, names = jacli.hvp_function(model, x.reshape(1, -1), backend="jax")
    return _eig_measure(hv, x, repeats, res, t0)


def worker_jax_eig(spec):
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    path, n, repeats = spec["path"], spec["n"], spec["repeats"]
    res = {}
    f = _user_f(path)
    x = G.rosen_point(n)
    x0 = jnp.asarray(x)
    hvp = jax.jit(lambda v: jax.jvp(jax.grad(f), (x0,), (v,))[1])

    def hv(v):
        return np.asarray(hvp(jnp.asarray(v)))
    return _eig_measure(hv, x, repeats, res, time.perf_counter())


WORKERS = {"jax": worker_jax, "torch": worker_torch, "jacli-eig": worker_jacli_eig,
           "jax-eig": worker_jax_eig}


# ============================================================================ parent side


def _run(spec, timeout):
    try:
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def _ratios(times, num, den):
    return [a / b for a, b in zip(times[num], times[den])]


def run(args):
    work = args.workdir or tempfile.mkdtemp(prefix="jacli-ad-large-")
    path = os.path.join(work, "rosen_ext.py")
    with open(path, "w") as fh:
        fh.write(MODEL_SOURCE)
    sizes = (1_000, 10_000) if args.quick else SIZES
    eig_n = (10_000,) if args.quick else tuple(args.eig_n)
    repeats = 2 if args.quick else args.repeats
    raw = {"products": {}, "eig": {}}
    for n in sizes:
        for tool in ("jax", "torch"):
            print(f"products n={n} {tool}", file=sys.stderr, flush=True)
            raw["products"].setdefault(str(n), {})[tool] = _run(
                {"tool": tool, "path": path, "n": n, "repeats": repeats}, 1800)
    for n in eig_n:
        for tool in ("jacli-eig", "jax-eig"):
            print(f"eig n={n} {tool}", file=sys.stderr, flush=True)
            raw["eig"].setdefault(str(n), {})[tool] = _run(
                {"tool": tool, "path": path, "n": n, "repeats": max(3, repeats)}, 3600)
    return raw


def _fmt(x, unit=""):
    if x is None or x != x:
        return "—"
    if unit == "ms":
        return f"{x * 1e3:.3g}"
    return f"{x:.3g}"


def report(raw) -> str:
    out = ["## Large models through the AD backends (Python-function model)", "",
           "`python benchmarks/bench_ad_large.py` — the extended Rosenbrock function written once "
           "as a Python function (`xp = array_namespace(x)`), loaded by jacli with `--inputs N`; "
           "fresh process per tool; medians over alternating rounds. f = the same user function "
           "compiled by hand (`jax.jit(f)`, PyTorch forward with 1 thread).", "",
           "### Gradient cost: time(vjp) / time(f)", "",
           "| n | f (JAX jit) ms | f (jacli, NumPy) ms | jacli `-b jax` vjp ms | **jacli jax vjp/f (JAX jit)** | jacli jax vjp/f (jacli) | JAX grad/f | "
           "f (PyTorch) ms | jacli `-b torch` vjp/f | PyTorch grad/f | max rel. err (jacli jax, torch) | "
           "jacli load s | first call s |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, tools in raw["products"].items():
        j, t = tools.get("jax", {}), tools.get("torch", {})
        if "error" in j or "error" in t:
            out.append(f"| {int(n):,} | error: {j.get('error') or t.get('error')} |||||||||||")
            continue
        jt, tt = j["times"], t["times"]
        out.append(
            f"| {int(n):,} | {_fmt(_median(jt['f']), 'ms')} | {_fmt(_median(jt.get('f_jacli', [])), 'ms')} | "
            f"{_fmt(_median(jt['jacli_vjp']), 'ms')} | "
            f"**{_median(_ratios(jt, 'jacli_vjp', 'f')):.2f}** | "
            f"{_median(_ratios(jt, 'jacli_vjp', 'f_jacli')) if 'f_jacli' in jt else float('nan'):.2f} | "
            f"{_median(_ratios(jt, 'jax_grad', 'f')):.2f} | "
            f"{_fmt(_median(tt['f']), 'ms')} | {_median(_ratios(tt, 'jacli_vjp', 'f')):.2f} | "
            f"{_median(_ratios(tt, 'torch_grad', 'f')):.2f} | "
            f"{j['jacli_err']:.1e}, {t['jacli_err']:.1e} | {j['load']:.2f} | {j['first']:.2f} |")
    out += ["", "### Top-5 eigenvalues of the Hessian, matrix-free", "",
            "| n | tool | prepare s | per HVP ms | eigsh (tol=0) s | HVPs | max rel. err | "
            "`extreme_eigenvalues` s | HVPs | max rel. err |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, tools in raw["eig"].items():
        for tool, r in tools.items():
            if "error" in r:
                out.append(f"| {int(n):,} | {tool} | error: {r['error']} ||||||||")
                continue
            out.append(
                f"| {int(n):,} | {tool} | {r['prepare']:.2f} | {_fmt(_median(r['times']['hvp']), 'ms')} | "
                f"{_median(r['eigsh_times']):.3f} | {r['eigsh_hvps']} | {r['eigsh_err']:.1e} | "
                f"{_median(r.get('curv_times', [])):.3f} | {r.get('curv_hvps', '—')} | "
                f"{r.get('curv_err', float('nan')):.1e} |")
        a, b = tools.get("jacli-eig", {}), tools.get("jax-eig", {})
        if "eigsh_times" in a and "eigsh_times" in b:
            out.append("")
            out.append(f"n = {int(n):,}: jacli + eigsh / JAX + eigsh = "
                       f"**{_median(a['eigsh_times']) / _median(b['eigsh_times']):.2f}×** "
                       f"(target ≤ 1.5×); per HVP {_median(a['times']['hvp']) / _median(b['times']['hvp']):.2f}×.")
    return "\n".join(out) + "\n"


def targets(raw):
    out = []
    ratios = []
    for n, tools in raw["products"].items():
        j = tools.get("jax", {})
        if "times" in j:
            ratios.append((int(n), _median(_ratios(j["times"], "jacli_vjp", "f"))))
    big = [r for n, r in ratios if n >= 100_000]
    out.append(H.target_line("vjp/f < 3 with `-b jax` on a Python model, n ≥ 1e5 (worst size)",
                             max(big) if big else None, 3.0, "max", unit="x"))
    for n, tools in raw["eig"].items():
        a, b = tools.get("jacli-eig", {}), tools.get("jax-eig", {})
        ok = "eigsh_times" in a and "eigsh_times" in b
        out.append(H.target_line(f"top-5 eigenvalues n = {int(n):,}: jacli `-b jax` + eigsh ≤ 1.5 × JAX + eigsh",
                                 _median(a["eigsh_times"]) / _median(b["eigsh_times"]) if ok else None,
                                 1.5, "max", unit="x",
                                 best=min(a["eigsh_times"]) / min(b["eigsh_times"]) if ok else None))
    return out


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        spec = json.loads(argv[1])
        print(json.dumps(WORKERS[spec["tool"]](spec)))
        return 0
    ap = H.common_args(__doc__.splitlines()[0])
    ap.add_argument("--eig-n", type=int, nargs="*", default=list(EIG_N))
    ap.add_argument("--from-json")
    args = H.parse_common(ap, argv)
    args.repeats = args.repeats or 7
    if args.from_json:
        with open(args.from_json) as fh:
            raw = json.load(fh)
    else:
        raw = run(args)
    raw["targets"] = targets(raw)
    text = report(raw)
    print(text + "\n" + H.targets_markdown(raw["targets"]) + "\n")
    H.write_outputs(args, text, raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
