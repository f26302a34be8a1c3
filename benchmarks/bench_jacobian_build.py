"""Time to a first Jacobian: derive + compile + first evaluation of the Bratu Jacobian.

For the 1-D Bratu residual with n = 100, 1000, 3000 inputs/outputs (see gen_models.py)
every tool starts from the same model file and produces the dense n x n Jacobian at the
nominal point (checked against the exact tridiagonal Jacobian).  Phases, in seconds:

* ``import``  — importing the tool (numpy included),
* ``load``    — reading the TOML file and turning the n expression strings into the
  tool's expressions (SymPy ``sympify``, SymEngine ``sympify``, CasADi SX through
  Python ``eval``, JAX through a generated Python function),
* ``derive``  — the symbolic Jacobian,
* ``compile`` — building the numeric function (``lambdify``, ``Lambdify``,
  ``casadi.Function``, ``jax.jit``; for JAX tracing + XLA compilation happen on the first
  call and are all counted here),
* ``eval``    — the first evaluation, up to a dense numpy array.

``build`` = load + derive + compile + eval (in-process, imports excluded).  ``process`` is
the wall time of the whole worker process (Python start, imports, build), which is what
the jacli column measures: the *whole* ``jacli jacobian bratu-N.toml --format json -o
/dev/null --no-cache`` process, including writing the dense n x n JSON result.

Tools:

* ``sympy-dense``  — plain SymPy: ``Matrix(F).jacobian(x)`` + ``lambdify(cse=True)``
  (n^2 ``diff`` calls and an n x n matrix expression).  Sizes where it would take more
  than ~60 s are not run; their time is extrapolated from the growth between the two
  largest sizes measured (marked ``~``).
* ``sympy-sparse`` — SymPy differentiating only the structurally non-zero entries
  (``free_symbols``), ``lambdify(cse=True)`` of the non-zero list, scattered into the
  dense result.
* ``symengine-sparse`` — the same with SymEngine: ``diff`` + ``Lambdify(cse=True)``, with the
  ``lambda`` (interpreted) and the ``llvm`` backend.
* ``casadi`` — CasADi SX: ``jacobian`` + ``Function`` + evaluation (non-zeros scattered
  into the dense array; ``DM.full()`` would add ~1 s at n = 3000).
* ``jax-str`` — ``jax.jit(jax.jacfwd(F))`` where ``F`` is generated from the model file
  (one scalar expression per output, as the file has it).
* ``jax-vec`` — ``jax.jit(jax.jacfwd(F))`` with ``F`` written by hand with array slices
  (what a JAX user would write; it does not read the file's expressions).

Usage::

    python benchmarks/bench_jacobian_build.py [--quick] [--repeats R] [--out FILE.md]
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _harness as H  # noqa: E402
import gen_models as G  # noqa: E402

TOOLS = ["sympy-dense", "sympy-sparse", "symengine-sparse", "symengine-sparse-llvm",
         "casadi", "jax-str", "jax-vec"]
LABELS = {
    "sympy-dense": "SymPy plain (`Matrix.jacobian` + `lambdify(cse=True)`)",
    "sympy-sparse": "SymPy, non-zero entries only + `lambdify(cse=True)`",
    "symengine-sparse": "SymEngine, non-zero entries, `Lambdify(cse=True)` lambda backend",
    "symengine-sparse-llvm": "SymEngine, non-zero entries, `Lambdify(cse=True)` LLVM backend",
    "casadi": "CasADi SX `jacobian` + `Function`",
    "jax-str": "JAX `jit(jacfwd)`, F generated from the model file",
    "jax-vec": "JAX `jit(jacfwd)`, F hand-vectorized",
}
SIZES = [100, 1000, 3000]
#: Extra small sizes for tools whose growth we extrapolate from.
EXTRA_SIZES = {"sympy-dense": [300]}
#: A measurement whose first run takes longer than this is not repeated, and a size whose
#: time, extrapolated from the smaller sizes, exceeds 2 * SLOW is not run but extrapolated.
SLOW = 60.0


# ============================================================================ worker side


def _values(d):
    import numpy as np
    return np.array([float(v) for v in d.values()])


def _check(J, n):
    import numpy as np
    ref = G.bratu_jacobian_exact(n)
    J = np.asarray(J, dtype=float)
    if J.shape != ref.shape:
        return float("inf")
    return float(np.max(np.abs(J - ref)))


def work_sympy(path, sparse):
    t = {}
    t0 = time.perf_counter()
    import numpy as np
    import sympy as sp
    t["import"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    name, inputs, params, outputs = G.read_model(path)
    xs = sp.symbols(list(inputs))
    ps = sp.symbols(list(params))
    ns = dict(zip(inputs, xs))
    ns.update(zip(params, ps))
    F = [sp.sympify(G.py_expr(s), locals=ns) for s in outputs.values()]
    t["load"] = time.perf_counter() - t0

    n = len(xs)
    x0, p0 = _values(inputs), _values(params)
    if not sparse:
        t0 = time.perf_counter()
        J = sp.Matrix(F).jacobian(xs)
        t["derive"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        f = sp.lambdify(xs + ps, J, modules="numpy", cse=True)
        t["compile"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        Jn = np.asarray(f(*x0, *p0), dtype=float)
        t["eval"] = time.perf_counter() - t0
        nnz = int(np.count_nonzero(Jn))
    else:
        t0 = time.perf_counter()
        index = {s: j for j, s in enumerate(xs)}
        rows, cols, vals = [], [], []
        for i, e in enumerate(F):
            for s in sorted(e.free_symbols & index.keys(), key=index.get):
                rows.append(i)
                cols.append(index[s])
                vals.append(e.diff(s))
        t["derive"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        f = sp.lambdify(xs + ps, vals, modules="numpy", cse=True)
        rows, cols = np.array(rows), np.array(cols)
        t["compile"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        Jn = np.zeros((n, n))
        Jn[rows, cols] = f(*x0, *p0)
        t["eval"] = time.perf_counter() - t0
        nnz = len(vals)
    t["err"] = _check(Jn, n)
    t["nnz"] = nnz
    return t


def work_symengine(path, backend):
    t = {}
    t0 = time.perf_counter()
    import numpy as np
    import symengine as se
    t["import"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    name, inputs, params, outputs = G.read_model(path)
    xs = [se.Symbol(s) for s in inputs]
    ps = [se.Symbol(s) for s in params]
    F = [se.sympify(G.py_expr(s)) for s in outputs.values()]
    t["load"] = time.perf_counter() - t0

    n = len(xs)
    x0, p0 = _values(inputs), _values(params)
    t0 = time.perf_counter()
    index = {s: j for j, s in enumerate(xs)}
    rows, cols, vals = [], [], []
    for i, e in enumerate(F):
        for s in sorted((e.free_symbols & index.keys()), key=index.get):
            rows.append(i)
            cols.append(index[s])
            vals.append(e.diff(s))
    t["derive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    f = se.Lambdify(xs + ps, vals, cse=True, backend=backend)
    rows, cols = np.array(rows), np.array(cols)
    t["compile"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Jn = np.zeros((n, n))
    Jn[rows, cols] = f(np.concatenate([x0, p0]))
    t["eval"] = time.perf_counter() - t0
    t["err"] = _check(Jn, n)
    t["nnz"] = len(vals)
    return t


def work_casadi(path):
    import types
    t = {}
    t0 = time.perf_counter()
    import numpy as np
    import casadi as ca
    t["import"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    name, inputs, params, outputs = G.read_model(path)
    x = ca.SX.sym("x", len(inputs))
    p = ca.SX.sym("p", len(params))
    src = G.python_source(inputs, params, outputs, module="M")
    M = types.SimpleNamespace(stack=lambda items: ca.vertcat(*items))
    Ffun = G.compile_function(src, G.math_namespace(ca, M=M))
    F = Ffun([x[i] for i in range(len(inputs))], [p[i] for i in range(len(params))])
    t["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    J = ca.jacobian(F, x)
    t["derive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    f = ca.Function("J", [x, p], [J])
    t["compile"] = time.perf_counter() - t0
    rows, cols = J.sparsity().get_triplet()
    t0 = time.perf_counter()
    # DM.full() of a large sparse result is slow (~1 s at n = 3000): scatter the non-zeros
    Jn = np.zeros(J.shape)
    Jn[rows, cols] = f(_values(inputs), _values(params)).nonzeros()
    t["eval"] = time.perf_counter() - t0
    t["err"] = _check(Jn, len(inputs))
    t["nnz"] = int(J.nnz())
    return t


def work_jax(path, vectorized):
    t = {}
    t0 = time.perf_counter()
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    t["import"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    name, inputs, params, outputs = G.read_model(path)
    n = len(inputs)
    if vectorized:
        def F(x, p):
            h, lam = p[0], p[1]
            xp = jnp.concatenate([jnp.zeros(1), x, jnp.zeros(1)])
            return xp[:-2] - 2.0 * xp[1:-1] + xp[2:] + h * h * lam * jnp.exp(x)
    else:
        src = G.python_source(inputs, params, outputs, module="jnp")
        F = G.compile_function(src, G.math_namespace(jnp, jnp=jnp))
    t["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    JF = jax.jacfwd(F)
    t["derive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    f = jax.jit(JF)
    x0, p0 = jnp.asarray(_values(inputs)), jnp.asarray(_values(params))
    f(x0, p0).block_until_ready()          # trace + compile + first run
    t["compile"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Jn = np.asarray(f(x0, p0).block_until_ready())   # a second, compiled call
    t["eval"] = time.perf_counter() - t0
    t["err"] = _check(Jn, n)
    t["nnz"] = int(np.count_nonzero(Jn))
    return t


def work_jacli_phases(path):
    """jacli in-process, through its Python API, cache off: where the CLI's time goes."""
    t = {}
    os.environ["JACLI_NO_CACHE"] = "1"
    t0 = time.perf_counter()
    import numpy as np
    import jacli
    from jacli.render import make_writer
    t["import"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = jacli.load_model(path)
    t["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, backend, prep = jacli.prepare(model, "jacobian", backend="sympy")
    t["derive"] = time.perf_counter() - t0          # diff + codegen + compile
    t0 = time.perf_counter()
    r = jacli.jacobian(model, prep=(backend, prep))
    t["eval"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with open(os.devnull, "w") as fp:
        w = make_writer("json", fp, model=model.name, single=True)
        w.write(r)
        w.close()
    t["render"] = time.perf_counter() - t0
    t["compile"] = 0.0
    t["err"] = _check(np.asarray(r.derivative)[0], len(model.inputs))
    t["nnz"] = int(np.count_nonzero(np.asarray(r.derivative)[0]))
    return t


def worker(tool, path):
    if tool == "jacli-phases":
        t = work_jacli_phases(path)
        t["build"] = t["load"] + t["derive"] + t["eval"] + t["render"]
        print(json.dumps(t))
        return
    if tool == "sympy-dense":
        t = work_sympy(path, sparse=False)
    elif tool == "sympy-sparse":
        t = work_sympy(path, sparse=True)
    elif tool == "symengine-sparse":
        t = work_symengine(path, "lambda")
    elif tool == "symengine-sparse-llvm":
        t = work_symengine(path, "llvm")
    elif tool == "casadi":
        t = work_casadi(path)
    elif tool == "jax-str":
        t = work_jax(path, vectorized=False)
    elif tool == "jax-vec":
        t = work_jax(path, vectorized=True)
    else:
        raise SystemExit(f"unknown tool {tool}")
    t["build"] = t["load"] + t["derive"] + t["compile"] + t["eval"]
    if tool.startswith("jax"):
        # for JAX the first call is inside "compile"; "eval" is a second call
        t["build"] = t["load"] + t["derive"] + t["compile"]
    print(json.dumps(t))


# ============================================================================ parent side


def measure_tool(tool, n, path, repeats, timeout):
    """Median of fresh-process runs; stops repeating when a run is slow."""
    runs = []
    spent = 0.0
    for i in range(repeats):
        r = H.run_worker(__file__, [tool, path], timeout=timeout)
        runs.append(r)
        spent += r["wall"]
        if "timeout" in r or "error" in r:
            break
        if r["wall"] > SLOW or spent > 3 * SLOW:
            break
    good = [r for r in runs if "build" in r]
    if not good:
        bad = runs[-1]
        return {"status": "timeout" if "timeout" in bad else "error",
                "detail": bad.get("error", f"no result within {timeout:.0f} s"),
                "wall": bad["wall"], "runs": 0}
    out = {k: H.median_of(good, k) for k in ("import", "load", "derive", "compile", "eval",
                                             "render", "build", "wall") if k in good[0]}
    out["err"] = max(r["err"] for r in good)
    out["nnz"] = good[0]["nnz"]
    out["runs"] = len(good)
    out["status"] = "ok"
    return out


def measure_jacli(n, path, repeats, timeout, cmd):
    """Whole-process wall time: --no-cache, and the cached repeat."""
    res = {}
    base = [*cmd, "jacobian", path, "--format", "json", "-o", os.devnull]
    cache = tempfile.mkdtemp(prefix="jacli-bench-cache-")
    env = {"JACLI_CACHE_DIR": cache}
    try:
        # correctness, once
        with tempfile.TemporaryDirectory() as td:
            outp = os.path.join(td, "J.json")
            r = H.run_process([*cmd, "jacobian", path, "--format", "json", "-o", outp,
                               "--no-cache"], env=env, timeout=timeout)
            if not r.ok:
                return {"status": "error", "detail": (r.stderr.strip().splitlines() or ["?"])[-1]}
            try:
                with open(outp) as f:
                    doc = json.load(f)
                res["err"] = _check(doc["jacobian"], n)
            except Exception as e:  # the check is informative, not fatal
                res["err"] = float("nan")
                res["check"] = f"could not read the result: {type(e).__name__}: {e}"
            res["first_run"] = r.seconds
        t = H.time_process([*base, "--no-cache"], repeats=repeats, warmup=0, env=env,
                           timeout=timeout)
        res["nocache"] = t.median
        res["nocache_min"], res["nocache_max"] = t.min, t.max
        H.run_process(base, env=env, timeout=timeout)          # fill the cache
        t = H.time_process(base, repeats=repeats, warmup=0, env=env, timeout=timeout)
        res["cached"] = t.median
        res["cached_min"], res["cached_max"] = t.min, t.max
        res["status"] = "ok"
    except H.BenchError as e:
        res["status"] = "error"
        res["detail"] = str(e).splitlines()[-1][:300]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return res


def extrapolate(points, n):
    """Power-law growth through the two largest measured sizes: (value, exponent)."""
    pts = sorted(points.items())
    if len(pts) < 2:
        return None, None
    (n1, t1), (n2, t2) = pts[-2], pts[-1]
    k = math.log(t2 / t1) / math.log(n2 / n1)
    return t2 * (n / n2) ** k, k


def run(args):
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    sizes = [100, 300] if quick else SIZES
    timeout = 120 if quick else 600
    load_start = H.loadavg()
    quiet = []
    workdir = args.workdir or tempfile.mkdtemp(prefix="jacli-bench-")
    all_sizes = set(sizes)
    for extra in EXTRA_SIZES.values():
        all_sizes |= {s for s in extra if s <= max(sizes)}
    paths = G.write_all(workdir, sizes=sorted(all_sizes))["bratu"]

    results = {tool: {} for tool in TOOLS}
    for tool in TOOLS:
        tool_sizes = sorted(set(sizes) | {s for s in EXTRA_SIZES.get(tool, []) if s <= max(sizes)})
        skip_rest = False
        for n in tool_sizes:
            done = {m: r["build"] for m, r in results[tool].items() if r.get("status") == "ok"}
            est, _ = extrapolate(done, n)
            if skip_rest or (est is not None and est > 2 * SLOW):
                results[tool][n] = {"status": "skipped",
                                    "detail": f"predicted > {2 * SLOW:.0f} s" if not skip_rest
                                    else f"slower than {SLOW:.0f} s at a smaller size"}
                skip_rest = True
                continue
            print(f"[build] {tool} n={n} ...", file=sys.stderr, flush=True)
            quiet.append(H.wait_quiet(args.max_busy, args.max_wait, f"{tool} n={n}"))
            r = measure_tool(tool, n, paths[n], repeats, timeout)
            results[tool][n] = r
            print(f"[build]   -> {r.get('build', r.get('status'))} s", file=sys.stderr, flush=True)
            if r["status"] != "ok" or r["wall"] > SLOW:
                skip_rest = True
        measured = {n: r["build"] for n, r in results[tool].items() if r.get("status") == "ok"}
        for n, r in results[tool].items():
            if r.get("status") != "ok":
                est, k = extrapolate(measured, n)
                if est is not None:
                    r["extrapolated"] = est
                    r["exponent"] = k

    jacli = {}
    status = H.jacli_status()
    if status:
        jacli_note = status
        for n in sizes:
            jacli[n] = {"status": "unavailable", "detail": status}
    else:
        jacli_note = ""
        cmd = [sys.executable, "-m", "jacli"]
        for n in sizes:
            print(f"[build] jacli n={n} ...", file=sys.stderr, flush=True)
            quiet.append(H.wait_quiet(args.max_busy, args.max_wait, f"jacli n={n}"))
            jacli[n] = measure_jacli(n, paths[n], repeats, timeout, cmd)
            print(f"[build]   -> {jacli[n].get('nocache', jacli[n].get('status'))} s",
                  file=sys.stderr, flush=True)
            ph = measure_tool("jacli-phases", n, paths[n], repeats, timeout)
            if ph.get("status") == "ok":
                # measure_tool keeps the keys it knows; fetch the render phase separately
                jacli[n]["phases"] = ph

    raw = {"sizes": sizes, "repeats": repeats, "peers": results, "jacli": jacli,
           "jacli_note": jacli_note, "workdir": workdir, "load_start": load_start,
           "load_end": H.loadavg(), "quiet": quiet}
    return raw


def _cell(r, key="build"):
    if r is None:
        return "—"
    if r.get("status") == "ok":
        v = H.fmt_s(r[key])
        return v + ("" if r.get("runs", 5) > 1 else " (1 run)")
    if "extrapolated" in r and key == "build":
        return f"~{H.fmt_s(r['extrapolated'])} (extrap.)"
    return r.get("status", "—")


def report(raw):
    sizes = raw["sizes"]
    peers, jacli = raw["peers"], raw["jacli"]
    lines = ["## Time to a first Jacobian: 1-D Bratu (n × n, tridiagonal)", ""]
    lines.append(f"Load average (1/5/15 min) at the start: {raw.get('load_start', '?')}; "
                 f"at the end: {raw.get('load_end', '?')}. {H.quiet_summary(raw.get('quiet', []))}")
    lines.append("")
    lines.append("Seconds, median of fresh-process runs "
                 f"(up to {raw['repeats']}; a run longer than {SLOW:.0f} s is not repeated). "
                 "Peer columns: *build* = load the model file + derive + compile + first "
                 "evaluation to a dense array, in-process (imports excluded). "
                 "jacli: the whole `jacli jacobian bratu-N.toml --format json -o /dev/null` "
                 "process (Python start-up, imports, parse, derive, codegen, evaluate, write "
                 "the dense n × n JSON).")
    lines.append("")
    hdr = ["tool"] + [f"n = {n}" for n in sizes]
    rows = []
    for tool in TOOLS:
        rows.append([LABELS[tool]] + [_cell(peers[tool].get(n)) for n in sizes])
    for key, label in (("nocache", "**jacli, whole process, `--no-cache`**"),
                       ("cached", "**jacli, whole process, cached repeat**")):
        row = [label]
        for n in sizes:
            r = jacli.get(n, {})
            row.append(H.fmt_s(r[key]) if r.get("status") == "ok" else r.get("status", "—"))
        rows.append(row)
    # ratio row
    row = ["plain SymPy build / jacli `--no-cache` process"]
    for n in sizes:
        s = peers["sympy-dense"].get(n, {})
        sv = s.get("build") if s.get("status") == "ok" else s.get("extrapolated")
        j = jacli.get(n, {})
        if sv and j.get("status") == "ok":
            row.append(("~" if s.get("status") != "ok" else "") + H.fmt_ratio(sv / j["nocache"]))
        else:
            row.append("—")
    rows.append(row)
    lines.append(H.md_table(hdr, rows))
    lines.append("")
    if raw.get("jacli_note"):
        lines.append(f"jacli not measured: {raw['jacli_note']}")
        lines.append("")

    # extrapolation notes
    for tool in TOOLS:
        for n, r in peers[tool].items():
            if r.get("status") != "ok" and "extrapolated" in r:
                meas = ", ".join(f"n={m}: {H.fmt_s(v['build'])} s" for m, v in sorted(peers[tool].items())
                                 if v.get("status") == "ok")
                lines.append(f"* {LABELS[tool]} at n = {n} was {r['status']} "
                             f"({r.get('detail', '')}); "
                             f"~{H.fmt_s(r['extrapolated'])} s is extrapolated as t ∝ n^{r['exponent']:.2f} "
                             f"from the measured {meas}.")
        extra = [n for n in peers[tool] if n not in sizes and peers[tool][n].get("status") == "ok"]
        for n in extra:
            lines.append(f"* {LABELS[tool]} also measured at n = {n}: {H.fmt_s(peers[tool][n]['build'])} s.")
    lines.append("")

    # phase breakdown
    lines.append("Phase breakdown of the peers (seconds, medians; *process* = whole worker process incl. "
                 "Python start-up and imports; *max err* = max |J − J_exact|):")
    lines.append("")
    rows = []
    for tool in TOOLS:
        for n in sorted(peers[tool]):
            r = peers[tool][n]
            if r.get("status") != "ok":
                continue
            rows.append([tool, n, H.fmt_s(r["import"]), H.fmt_s(r["load"]), H.fmt_s(r["derive"]),
                         H.fmt_s(r["compile"]), H.fmt_s(r["eval"]), H.fmt_s(r["build"]),
                         H.fmt_s(r["wall"]), f"{r['err']:.1e}", r["runs"]])
    lines.append(H.md_table(["tool", "n", "import", "load", "derive", "compile", "eval", "build",
                             "process", "max err", "runs"], rows))
    lines.append("")
    if any(j.get("status") == "ok" for j in jacli.values()):
        rows = []
        for n in sizes:
            j = jacli[n]
            if j.get("status") != "ok":
                rows.append([n, j.get("status"), "", "", "", ""])
                continue
            rows.append([n, f"{H.fmt_s(j['nocache'])} ({H.fmt_s(j['nocache_min'])}–{H.fmt_s(j['nocache_max'])})",
                         f"{H.fmt_s(j['cached'])} ({H.fmt_s(j['cached_min'])}–{H.fmt_s(j['cached_max'])})",
                         H.fmt_s(j["first_run"]),
                         f"{j['err']:.1e}" if j.get("err") == j.get("err") else j.get("check", "?")])
        prow = []
        for n in sizes:
            ph = jacli.get(n, {}).get("phases")
            if ph:
                prow.append([n, H.fmt_s(ph["import"]), H.fmt_s(ph["load"]), H.fmt_s(ph["derive"]),
                             H.fmt_s(ph["eval"]), H.fmt_s(ph["render"]), H.fmt_s(ph["build"]),
                             H.fmt_s(ph["wall"]), H.fmt_s(jacli[n].get("nocache"))])
        if prow:
            lines.append("Where jacli's time goes (in-process through its Python API, cache off, medians): "
                         "*import* = numpy + jacli, *load* = `load_model` (TOML + expression parser), "
                         "*prepare* = `prepare()` (derivative DAG + code generation + `compile`), "
                         "*eval* = first `jacobian()` call, *render* = JSON writer to /dev/null; "
                         "*worker process* = that script's whole process; *CLI process* = the "
                         "`--no-cache` column above (adds click, option handling and atomic output).")
            lines.append("")
            lines.append(H.md_table(["n", "import", "load", "prepare", "eval", "render",
                                     "sum (excl. import)", "worker process", "CLI process"], prow))
            lines.append("")
        lines.append("jacli whole-process wall time, median (min–max); *first* = the very first run "
                     "(cold OS file cache); *max err* of its JSON against the exact Jacobian:")
        lines.append("")
        lines.append(H.md_table(["n", "`--no-cache`", "cached", "first", "max err"], rows))
        lines.append("")
    return "\n".join(lines)


def targets(raw):
    jacli, peers = raw["jacli"], raw["peers"]
    out = []
    j3 = jacli.get(3000, {})
    ok3 = j3.get("status") == "ok"
    out.append(H.target_line("n = 3000: whole `jacli jacobian` process (`--no-cache`) < 2 s",
                             j3.get("nocache") if ok3 else None, 2.0, "max",
                             best=j3.get("nocache_min") if ok3 else None))
    j1 = jacli.get(1000, {})
    s1 = peers["sympy-dense"].get(1000, {})
    sv = s1.get("build") if s1.get("status") == "ok" else s1.get("extrapolated")
    ratio = sv / j1["nocache"] if (sv and j1.get("status") == "ok") else None
    t = H.target_line("n = 1000: ≥ 30× faster than plain SymPy", ratio, 30.0, "min", unit="x")
    if s1.get("status") != "ok" and ratio is not None:
        t["margin"] += " (SymPy time extrapolated)"
    out.append(t)
    return out


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        worker(argv[1], argv[2])
        return 0
    ap = H.common_args(__doc__.split("\n")[0])
    args = H.parse_common(ap, argv)
    raw = run(args)
    raw["targets"] = targets(raw)
    md = report(raw)
    print(md + "\n" + H.targets_markdown(raw["targets"]) + "\n")
    H.write_outputs(args, md, raw)   # run_all.py collects the targets of all benchmarks
    return 0


if __name__ == "__main__":
    sys.exit(main())
