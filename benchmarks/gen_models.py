"""Write the benchmark models as jacli model files (TOML) into a folder.

Models (none of them is committed; they are regenerated for every run):

* ``bratu-N.toml`` — the 1-D Bratu residual on N interior points,
  ``F_i = x_{i-1} - 2 x_i + x_{i+1} + h^2 lam exp(x_i)`` with ``x_0 = x_{N+1} = 0``,
  inputs ``x1..xN`` at ``0.1 sin(pi i h)``, parameters ``h = 1/(N+1)``, ``lam = 1``.
  Its Jacobian is tridiagonal: ``-2 + h^2 lam exp(x_i)`` on the diagonal, 1 beside it.
* ``dense10.toml`` — a 10-input, 10-output transcendental model (sin, cos, exp, log,
  sqrt, tanh, atan, powers and products; every output uses 3 to 5 inputs, 39 of the
  100 Jacobian entries are structurally non-zero).  All logs and square roots stay
  in their domain for inputs within ±40 % of the nominal point, which is where the
  batch benchmark draws its points (:func:`dense10_points`).

Also the small readers the peer benchmarks use, so that every tool starts from the
*same* file: :func:`read_model` (TOML -> names, values, expression strings) and
:func:`python_source` (expression strings -> a Python function over an array).

Usage::

    python benchmarks/gen_models.py OUTDIR [--sizes 100 1000 3000]
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore

BRATU_SIZES = (100, 1000, 3000)


# ----------------------------------------------------------------------------- Bratu


def bratu_toml(n: int, lam: float = 1.0) -> str:
    h = 1.0 / (n + 1)
    out = [f'name = "bratu-{n}"',
           f'description = "1-D Bratu residual, {n} interior points"',
           "", "[inputs]"]
    for i in range(1, n + 1):
        out.append(f"x{i} = {0.1 * math.sin(math.pi * i * h)!r}")
    out += ["", "[parameters]", f"h = {h!r}", f"lam = {float(lam)!r}", "", "[outputs]"]
    for i in range(1, n + 1):
        terms = []
        if i > 1:
            terms.append(f"x{i - 1} ")
        terms.append(f"-2*x{i}" if i == 1 else f"- 2*x{i}")
        if i < n:
            terms.append(f" + x{i + 1}")
        terms.append(f" + h^2*lam*exp(x{i})")
        out.append(f'F{i} = "{"".join(terms)}"')
    return "\n".join(out) + "\n"


def bratu_jacobian_exact(n: int, lam: float = 1.0):
    """Dense reference Jacobian at the nominal point (numpy)."""
    import numpy as np
    h = 1.0 / (n + 1)
    x = 0.1 * np.sin(np.pi * np.arange(1, n + 1) * h)
    J = np.zeros((n, n))
    idx = np.arange(n)
    J[idx, idx] = -2.0 + h * h * lam * np.exp(x)
    J[idx[:-1], idx[:-1] + 1] = 1.0
    J[idx[1:], idx[1:] - 1] = 1.0
    return J


# ----------------------------------------------------------------------------- dense 10 x 10

DENSE10_INPUTS = {
    "x1": 0.8, "x2": 1.3, "x3": 0.6, "x4": 1.7, "x5": 1.1,
    "x6": 0.4, "x7": 1.5, "x8": 2.2, "x9": 0.9, "x10": 1.2,
}
DENSE10_PARAMS = {"k1": 0.5, "k2": 2.0, "k3": 0.25}
DENSE10_OUTPUTS = {
    "y1": "sin(x1)*exp(-k1*x2) + x3^2*log(1 + x4)",
    "y2": "sqrt(x2^2 + x5^2)*tanh(x1 - x6)",
    "y3": "exp(k3*x3*x7)/(1 + x8^2) + cos(x2*x9)",
    "y4": "log(x4 + x5 + x10)*sin(x6*x3) + x4*x10",
    "y5": "x5*x6*exp(-x7) + sqrt(x8)*tanh(k2*x9)",
    "y6": "tanh(x1*x10) + log(1 + x2*x3)*x6 - atan(x6 - x1)",
    "y7": "sqrt(1 + x7^2 + x8^2)*cos(x1) - exp(k1*(x4 - x9))",
    "y8": "x8*log(x9 + x2) + sin(x10 + x2)*exp(-x5^2)",
    "y9": "(x1 + x3 + x5)^2/(1 + exp(-x7)) + k2*sqrt(x10)",
    "y10": "sin(x4)*cos(x6)*sqrt(x8*x10) + tanh(x2 - x3)^2",
}


def dense10_toml() -> str:
    out = ['name = "dense10"',
           'description = "10 inputs, 10 outputs, transcendental, 3-5 inputs per output"',
           "", "[inputs]"]
    out += [f"{k} = {v!r}" for k, v in DENSE10_INPUTS.items()]
    out += ["", "[parameters]"] + [f"{k} = {v!r}" for k, v in DENSE10_PARAMS.items()]
    out += ["", "[outputs]"] + [f'{k} = "{v}"' for k, v in DENSE10_OUTPUTS.items()]
    return "\n".join(out) + "\n"


def dense10_points(n: int, seed: int = 0):
    """(n, 10) points uniformly within ±40 % of the nominal point."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x0 = np.array(list(DENSE10_INPUTS.values()))
    return x0 * rng.uniform(0.6, 1.4, size=(n, x0.size))


# ----------------------------------------------------------------------------- readers


def read_model(path: str):
    """``(name, inputs, params, outputs)`` of a model file; dicts keep file order."""
    with open(path, "rb") as f:
        d = tomllib.load(f)
    return (d.get("name", os.path.basename(path)), dict(d.get("inputs", {})),
            dict(d.get("parameters", {})), dict(d.get("outputs", {})))


_POW = re.compile(r"\^")


def py_expr(text: str) -> str:
    """Model expression text -> Python expression text (``^`` -> ``**``)."""
    return _POW.sub("**", text)


def python_source(inputs, params, outputs, module: str = "np", fname: str = "F",
                  stack: str = "stack") -> str:
    """Source of ``def F(x, p)`` returning the outputs, for any numpy-like ``module``.

    ``x`` and ``p`` are indexed on their first axis (``x[0]`` is the first input), so the
    same source serves one point (shape (n,)) and, with ``x`` transposed, many.
    """
    lines = [f"def {fname}(x, p):"]
    lines += [f"    {name} = x[{i}]" for i, name in enumerate(inputs)]
    lines += [f"    {name} = p[{i}]" for i, name in enumerate(params)]
    body = ", ".join(py_expr(t) for t in outputs.values())
    lines.append(f"    return {module}.{stack}([{body}])")
    return "\n".join(lines) + "\n"


MATH_FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "atan")


def math_namespace(module, **extra) -> dict:
    """``{"sin": module.sin, ..., "atan": module.atan or module.arctan}``."""
    ns = {}
    for name in MATH_FUNCTIONS:
        f = getattr(module, name, None)
        if f is None and name == "atan":
            f = getattr(module, "arctan")
        ns[name] = f
    ns.update(extra)
    return ns


def compile_function(src: str, namespace: dict, fname: str = "F"):
    """Compile :func:`python_source` output with ``namespace`` as its globals."""
    ns = dict(namespace)
    exec(compile(src, "<model>", "exec"), ns)
    return ns[fname]


# ----------------------------------------------------------------------------- writing


def write_all(outdir: str, sizes=BRATU_SIZES, extra_bratu=()) -> dict:
    """Write the models; return ``{"bratu": {n: path}, "dense10": path}``."""
    os.makedirs(outdir, exist_ok=True)
    paths = {"bratu": {}, "dense10": os.path.join(outdir, "dense10.toml")}
    for n in sorted(set(sizes) | set(extra_bratu)):
        p = os.path.join(outdir, f"bratu-{n}.toml")
        with open(p, "w") as f:
            f.write(bratu_toml(n))
        paths["bratu"][n] = p
    with open(paths["dense10"], "w") as f:
        f.write(dense10_toml())
    return paths


# ----------------------------------------------------------------------------- products / Hessians
#
# Models of the products-and-Hessian benchmarks (bench_products.py, bench_hessian.py).
#
# * ``rosenres-N.toml`` — the extended Rosenbrock residual (N even), one output per residual:
#   ``r_{2i-1} = 10*(x_{2i} - x_{2i-1}^2)``, ``r_{2i} = 1 - x_{2i-1}``, so that
#   ``f = ½‖r‖² = Σ 50 (x_{2i} - x_{2i-1}²)² + ½ (1 - x_{2i-1})²``.
# * ``rosensum-N.toml`` — that same ``f`` as ONE scalar output, ``f = 0.5*c1 + 0.5*c2 + ...``
#   over ``[definitions]`` chunks of ``ROSEN_CHUNK`` pairs each (an expression string is
#   limited to 100 kB, so one string cannot hold it beyond ~2000 pairs).
#   ``rosensumflat-N.toml`` writes it as ``f = c1 + c2 + ...`` (one flattened n-term sum,
#   which older jacli could not compile beyond n ~ 3000; see :func:`_chunked_sum`).
# * ``denseq-N.toml`` — a scalar with a dense Hessian: ``½ xᵀQx + log(1 + xᵀx) +
#   Σ sin(x_i) cos(x_{i+1})`` with a fixed random symmetric ``Q`` (:func:`denseq_data`); the
#   quadratic is written out term by term (N(N+1)/2 terms) in chunks.
#
# Every model starts at a fixed point where the Rosenbrock Hessian's 2×2 blocks all differ
# (:func:`rosen_point`), so its spectrum has no multiple eigenvalues; the peers build the same
# functions vectorised (numpy / jax.numpy / torch) from :func:`rosen_point` and :func:`denseq_data`.

ROSEN_CHUNK = 1000          # pairs per [definitions] chunk (~45 kB of text)
DENSEQ_CHUNK = 2000         # quadratic terms per chunk


def rosen_point(n: int, seed: int = 0):
    """The evaluation point of the Rosenbrock models (numpy, shape (n,), n even).

    ``x_{2i-1} = -1.2 + 0.5 z_i``, ``x_{2i} = 1 + 0.5 w_i`` with ``z, w`` standard normal from
    ``numpy.random.default_rng(seed)`` (the first n/2 of each stream, so the point of a
    smaller n is a prefix of a larger one's).  Every 2×2 Hessian block is different and the
    largest eigenvalues are separated by the tail of the normal distribution, as at a random
    point (at a regular pattern they cluster, and Lanczos needs thousands of products).
    """
    import numpy as np
    if n % 2:
        raise ValueError("the extended Rosenbrock function needs an even n")
    rng_a, rng_b = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    x = np.empty(n)
    x[0::2] = -1.2 + 0.5 * rng_a.standard_normal(n // 2)
    x[1::2] = 1.0 + 0.5 * rng_b.standard_normal(n // 2)
    return x


def rosen_top_eigenvalues(n: int, count: int = 5, seed: int = 0):
    """Exact largest eigenvalues of the Hessian of ``f = ½‖r‖²`` at :func:`rosen_point`.

    The Hessian is block diagonal: for the pair (a, b) = (x_{2i-1}, x_{2i}) the block is
    ``[[600 a² - 200 b + 1, -200 a], [-200 a, 100]]``, whose eigenvalues are closed-form.
    """
    import numpy as np
    x = rosen_point(n, seed)
    a, b = x[0::2], x[1::2]
    h11, h12, h22 = 600.0 * a * a - 200.0 * b + 1.0, -200.0 * a, 100.0
    mid, rad = 0.5 * (h11 + h22), np.hypot(0.5 * (h11 - h22), h12)
    lam = np.concatenate([mid + rad, mid - rad])
    return np.sort(lam)[::-1][:count]


def _inputs_section(x) -> list:
    return ["[inputs]"] + [f"x{i + 1} = {float(v)!r}" for i, v in enumerate(x)]


def rosenres_toml(n: int) -> str:
    x = rosen_point(n)
    out = [f'name = "rosenres-{n}"',
           f'description = "extended Rosenbrock residual, {n} inputs, {n} outputs"', ""]
    out += _inputs_section(x)
    out += ["", "[outputs]"]
    for i in range(1, n // 2 + 1):
        a, b = 2 * i - 1, 2 * i
        out.append(f'r{a} = "10*(x{b} - x{a}^2)"')
        out.append(f'r{b} = "1 - x{a}"')
    return "\n".join(out) + "\n"


def _chunked_sum(name: str, terms: list, chunk: int, factor: str = "") -> tuple:
    """``([definitions lines], output text)``: ``terms`` summed in chunks ``c1, c2, ...``.

    The output is ``factor*c1 + factor*c2 + ...``.  With an empty ``factor`` jacli's DAG
    flattens the chunks back into ONE sum of all the terms (``add`` is associative); jacli
    up to git 69b01f6 then generated a single Python expression of that many terms, which
    CPython's compiler refuses beyond ~3000 terms (RecursionError; fixed in b129615).  A
    constant factor in front of every chunk keeps them apart (``0.5*(a + b)`` stays a
    product); the flat form is kept as a regression check (``rosensumflat``).
    """
    defs, parts = [], []
    for c, s in enumerate(range(0, len(terms), chunk), start=1):
        defs.append(f'{name}{c} = "{" + ".join(terms[s:s + chunk])}"')
        parts.append(f"{factor}{name}{c}")
    return defs, " + ".join(parts)


def rosensum_toml(n: int, chunk: int = ROSEN_CHUNK, flat: bool = False) -> str:
    """Scalar extended Rosenbrock ``f = ½ Σ [100 (x_{2i} - x_{2i-1}²)² + (1 - x_{2i-1})²]``.

    Written as ``f = 0.5*c1 + 0.5*c2 + ...`` over chunks; ``flat=True`` writes the same
    function the obvious way, ``f = c1 + c2 + ...`` with the ½ inside every term, which
    jacli flattens into one n-term sum (see :func:`_chunked_sum`).
    """
    x = rosen_point(n)
    if flat:
        terms = [f"50*(x{2 * i} - x{2 * i - 1}^2)^2 + 0.5*(1 - x{2 * i - 1})^2"
                 for i in range(1, n // 2 + 1)]
    else:
        terms = [f"100*(x{2 * i} - x{2 * i - 1}^2)^2 + (1 - x{2 * i - 1})^2"
                 for i in range(1, n // 2 + 1)]
    defs, total = _chunked_sum("c", terms, chunk, factor="" if flat else "0.5*")
    out = [f'name = "rosensum{"flat" if flat else ""}-{n}"',
           f'description = "extended Rosenbrock, f = 1/2 |r|^2 as one scalar, {n} inputs"', ""]
    out += _inputs_section(x)
    out += ["", "[definitions]"] + defs + ["", "[outputs]", f'f = "{total}"']
    return "\n".join(out) + "\n"


def rosensumflat_toml(n: int) -> str:
    return rosensum_toml(n, flat=True)


def bratu_point(n: int):
    """Nominal point of ``bratu-N.toml`` (numpy)."""
    import numpy as np
    h = 1.0 / (n + 1)
    return 0.1 * np.sin(np.pi * np.arange(1, n + 1) * h)


def denseq_data(n: int, seed: int = 0):
    """``(x0, Q)`` of the dense model: Q symmetric with entries of size ~1/n plus 2 I."""
    import numpy as np
    rng = np.random.default_rng(seed)
    B = rng.uniform(-1.0, 1.0, size=(n, n)) / n
    Q = np.round(B + B.T + 2.0 * np.eye(n), 6)
    x0 = np.round(rng.uniform(-1.0, 1.0, size=n), 6)
    return x0, Q


def denseq_toml(n: int, chunk: int = DENSEQ_CHUNK) -> str:
    x0, Q = denseq_data(n)
    terms = []
    for i in range(n):
        terms.append(f"{float(Q[i, i])!r}*x{i + 1}^2")
        for j in range(i + 1, n):
            terms.append(f"{float(2.0 * Q[i, j])!r}*x{i + 1}*x{j + 1}")
    defs, quad = _chunked_sum("q", terms, chunk, factor="0.5*")
    sq = " + ".join(f"x{i + 1}^2" for i in range(n))
    sc = " + ".join(f"sin(x{i + 1})*cos(x{i + 2})" for i in range(n - 1))
    out = [f'name = "denseq-{n}"',
           f'description = "dense Hessian: 1/2 x^T Q x + log(1 + x^T x) + sum sin(x_i) cos(x_i+1), {n} inputs"',
           ""]
    out += _inputs_section(x0)
    out += ["", "[definitions]"] + defs + [f'ss = "{sq}"', f'sc = "{sc}"']
    out += ["", "[outputs]", f'f = "{quad} + log(1 + ss) + sc"']
    return "\n".join(out) + "\n"


def write_products_models(outdir: str, rosen=(), bratu=(), rosensum=(), denseq=(),
                          rosensumflat=()) -> dict:
    """Write the products/Hessian models; return ``{"rosenres": {n: path}, ...}``."""
    os.makedirs(outdir, exist_ok=True)
    makers = {"rosenres": (rosenres_toml, rosen), "rosensum": (rosensum_toml, rosensum),
              "rosensumflat": (rosensumflat_toml, rosensumflat),
              "bratu": (bratu_toml, bratu), "denseq": (denseq_toml, denseq)}
    paths: dict = {}
    for kind, (make, sizes) in makers.items():
        paths[kind] = {}
        for n in sorted(set(sizes)):
            p = os.path.join(outdir, f"{kind}-{n}.toml")
            with open(p, "w") as f:
                f.write(make(n))
            paths[kind][n] = p
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(BRATU_SIZES))
    a = ap.parse_args(argv)
    paths = write_all(a.outdir, a.sizes)
    for n, p in paths["bratu"].items():
        print(p)
    print(paths["dense10"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
