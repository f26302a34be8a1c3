"""Global sensitivity (jacli.sensitivity.variance) against closed-form indices.

References are derived here from the functions' variance decompositions, not copied
constants: Ishigami (Ishigami & Homma 1990; Sobol' & Levitan 1999) and the Sobol' G-function.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import jacli
from jacli.errors import ModelError, UsageError
from jacli.sensitivity import variance as gsa

PI = math.pi
A_ISH, B_ISH = 7.0, 0.1
G_A = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0)


def _load(tmp_path_factory, name, text):
    path = tmp_path_factory.mktemp("gsa") / f"{name}.toml"
    path.write_text(text)
    return jacli.load_model(str(path))


@pytest.fixture(scope="module")
def ishigami(tmp_path_factory):
    # x4 is declared but unused: its indices and effects must be exactly 0
    rows = "\n".join(f'x{i} = {{ value = 0, bounds = [{-PI!r}, {PI!r}], distribution = "uniform" }}'
                     for i in (1, 2, 3, 4))
    return _load(tmp_path_factory, "ishigami", f"""
[inputs]
{rows}
[parameters]
a = {A_ISH}
b = {B_ISH}
[outputs]
f = "sin(x1) + a*sin(x2)^2 + b*x3^4*sin(x1)"
g = "x1 + 2*x2"
""")


@pytest.fixture(scope="module")
def gfun(tmp_path_factory):
    rows = "\n".join(f'x{i} = {{ value = 0.5, bounds = [0, 1] }}' for i in range(1, len(G_A) + 1))
    factors = " * ".join(f"(abs(4*x{i}-2) + {a})/(1 + {a})" for i, a in enumerate(G_A, 1))
    return _load(tmp_path_factory, "gfun", f'[inputs]\n{rows}\n[outputs]\nG = "{factors}"\n')


def ishigami_reference(a=A_ISH, b=B_ISH):
    """(S1, ST, V13/V) of Ishigami on [-π, π]³ from its ANOVA terms.

    With x ~ U(-π, π): E sin² = 1/2, E sin⁴ = 3/8, E x⁴ = π⁴/5, E x⁸ = π⁸/9.
    f1 = sin x1 (1 + b π⁴/5): V1 = (1 + bπ⁴/5)²/2; f2 = a (sin² x2 - 1/2): V2 = a²(3/8 - 1/4) = a²/8;
    f13 = b sin x1 (x3⁴ - π⁴/5): V13 = b²/2 (π⁸/9 - π⁸/25) = 8 b² π⁸/225; V3 = 0.
    """
    v1 = 0.5 * (1 + b * PI ** 4 / 5) ** 2
    v2 = a * a / 8
    v13 = b * b / 2 * (PI ** 8 / 9 - PI ** 8 / 25)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v, v13 / v


def gfun_reference(a=G_A):
    """S1, ST of the G-function: V_i = 1/(3(1+a_i)²), V = Π(1+V_i) - 1, ST_i = V_i Π_{j≠i}(1+V_j) / V."""
    vi = 1.0 / (3.0 * (1.0 + np.asarray(a)) ** 2)
    prod = np.prod(1.0 + vi)
    v = prod - 1.0
    return vi / v, vi * prod / (1.0 + vi) / v


def test_reference_values_match_the_literature():
    s1, st, _ = ishigami_reference()
    assert np.allclose(s1, [0.3139, 0.4424, 0.0], atol=5e-5)
    assert np.allclose(st, [0.5576, 0.4424, 0.2437], atol=5e-5)


def test_sobol_ishigami_within_its_confidence_interval(ishigami):
    r = gsa.sobol_indices(ishigami, samples=2 ** 12, seed=7, outputs=["f"])
    s1, st, _ = ishigami_reference()
    assert r.evaluations == 2 ** 12 * (4 + 2)
    assert np.all(np.abs(r.S1[0, :3] - s1) <= r.S1_conf[0, :3])
    assert np.all(np.abs(r.ST[0, :3] - st) <= r.ST_conf[0, :3])
    assert np.all(r.S1_conf[0, :3] < 0.05) and np.all(r.ST_conf[0, :3] < 0.05)
    # the unused input: exactly zero, with a zero-width interval
    assert r.S1[0, 3] == r.ST[0, 3] == r.S1_conf[0, 3] == r.ST_conf[0, 3] == 0.0


def test_sobol_interval_shrinks_with_samples(ishigami):
    small = gsa.sobol_indices(ishigami, samples=2 ** 10, seed=3, outputs=["f"])
    large = gsa.sobol_indices(ishigami, samples=2 ** 13, seed=3, outputs=["f"])
    # Monte Carlo rate: 8x the samples, ~1/sqrt(8) the width
    assert np.all(large.S1_conf[0, :3] < 0.6 * small.S1_conf[0, :3])
    assert np.all(large.ST_conf[0, :3] < 0.6 * small.ST_conf[0, :3])
    s1, st, _ = ishigami_reference()
    assert np.all(np.abs(large.S1[0, :3] - s1) <= large.S1_conf[0, :3])
    assert np.all(np.abs(large.ST[0, :3] - st) <= large.ST_conf[0, :3])


def test_sobol_linear_output_is_exact_and_additive(ishigami):
    r = gsa.sobol_indices(ishigami, samples=2 ** 10, seed=1, outputs=["g"])
    # g = x1 + 2 x2, equal ranges: S = (1, 4, 0, 0)/5 and additive (S1 = ST)
    assert np.allclose(r.S1[0], [0.2, 0.8, 0, 0], atol=0.01)
    assert np.allclose(r.ST[0], r.S1[0], atol=0.01)


def test_sobol_g_function(gfun):
    r = gsa.sobol_indices(gfun, samples=2 ** 12, seed=11)
    s1, st = gfun_reference()
    assert np.all(np.abs(r.S1[0] - s1) <= r.S1_conf[0])
    assert np.all(np.abs(r.ST[0] - st) <= r.ST_conf[0])
    assert r.ST[0].argmax() == 0 and r.ST[0, 4] < 0.01


def test_sobol_second_order_ishigami(ishigami):
    r = gsa.sobol_indices(ishigami, samples=2 ** 12, seed=5, second_order=True, outputs=["f"])
    _, _, s13 = ishigami_reference()
    ref = np.full((4, 4), np.nan)
    ref[np.triu_indices(4, 1)] = 0.0
    ref[0, 2] = s13
    upper = np.triu_indices(4, 1)
    assert np.all(np.abs(r.S2[0][upper] - ref[upper]) <= r.S2_conf[0][upper] + 1e-12)
    assert np.isnan(r.S2[0][np.tril_indices(4)]).all()
    assert r.evaluations == 2 ** 12 * (2 * 4 + 2)
    d = r.to_dict()["indices"]["f"]["S2"]
    assert set(d) == {"x1", "x2", "x3"} and set(d["x1"]) == {"x2", "x3", "x4"}
    assert d["x1"]["x3"] == pytest.approx(r.S2[0, 0, 2])


def test_sobol_seeded_reproducible_and_chunk_invariant(ishigami):
    a = gsa.sobol_indices(ishigami, samples=2 ** 9, seed=42)
    b = gsa.sobol_indices(ishigami, samples=2 ** 9, seed=42)
    c = gsa.sobol_indices(ishigami, samples=2 ** 9, seed=43)
    d = gsa.sobol_indices(ishigami, samples=2 ** 9, seed=42, chunk=100)
    assert a.to_dict() == b.to_dict()
    for key in ("S1", "S1_conf", "ST", "ST_conf"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
        assert np.allclose(getattr(a, key), getattr(d, key), rtol=1e-12, atol=1e-14)
    assert not np.array_equal(a.S1, c.S1)


def test_sobol_to_dict_is_the_documented_json(ishigami):
    r = gsa.sobol_indices(ishigami, samples=2 ** 8, seed=0)
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d["indices"]) == {"f", "g"}
    assert set(d["indices"]["f"]) == {"S1", "S1_conf", "ST", "ST_conf"}
    assert list(d["indices"]["f"]["S1"]) == ["x1", "x2", "x3", "x4"]
    assert (d["evaluations"], d["samples"], d["seed"]) == (2 ** 8 * 6, 2 ** 8, 0)


def test_morris_ranks_ishigami(ishigami):
    r = gsa.morris(ishigami, trajectories=40, levels=4, seed=2)
    f = r.indices["f"]
    assert r.evaluations == 40 * 5
    assert set(r.ranking("f")[:3]) == {"x1", "x2", "x3"} and r.ranking("f")[3] == "x4"
    assert f["mu_star"]["x4"] == f["mu"]["x4"] == f["sigma"]["x4"] == 0.0
    assert min(f["mu_star"][x] for x in ("x1", "x2", "x3")) > 1.0
    # x3 acts only through its interaction with x1: its effects change sign, mu << mu*
    assert abs(f["mu"]["x3"]) < 0.5 * f["mu_star"]["x3"]
    # a linear output: every effect is coefficient x range, no spread
    g = r.indices["g"]
    assert g["mu_star"]["x1"] == pytest.approx(2 * PI) and g["mu_star"]["x2"] == pytest.approx(4 * PI)
    assert g["sigma"]["x1"] == pytest.approx(0, abs=1e-12) and g["mu_star"]["x3"] == 0.0
    assert r.ranking("g") == ("x2", "x1", "x3", "x4")


def test_morris_seeded_and_normal_range(tmp_path_factory):
    m = _load(tmp_path_factory, "morris_normal",
              '[inputs]\nx = { value = 1, sigma = 0.5 }\ny = { value = 0, bounds = [0, 3] }\n'
              '[outputs]\nf = "3*x + y"\n')
    a, b = (gsa.morris(m, trajectories=10, seed=9) for _ in range(2))
    assert a.to_dict() == b.to_dict()
    assert a.ranges[0] == pytest.approx((0.0, 2.0))          # value ± 2σ
    assert a.indices["f"]["mu"]["x"] == pytest.approx(3 * 2.0)
    assert a.indices["f"]["mu"]["y"] == pytest.approx(1 * 3.0)


def test_dgsm_bounds_total_indices(ishigami):
    r = gsa.dgsm(ishigami, samples=2 ** 12, seed=4)
    _, st, _ = ishigami_reference()
    f = r.indices["f"]
    for i, x in enumerate(("x1", "x2", "x3")):
        assert f["ST_bound"][x] >= st[i]
    assert f["nu"]["x4"] == f["ST_bound"]["x4"] == 0.0
    # closed form: nu_2 = E[(a sin 2x2)^2] = a^2/2
    assert f["nu"]["x2"] == pytest.approx(A_ISH ** 2 / 2, rel=1e-3)
    assert r.evaluations == 2 ** 12 and r.backend == "sympy"
    assert r.indices["g"]["nu"] == pytest.approx({"x1": 1.0, "x2": 4.0, "x3": 0.0, "x4": 0.0})


def test_dgsm_normal_bound_is_tight_for_linear(tmp_path_factory):
    m = _load(tmp_path_factory, "dgsm_normal",
              '[inputs]\nx = { value = 1, sigma = 0.5 }\ny = { value = 2, sigma = 1.5, '
              'distribution = "normal" }\n[outputs]\nf = "x + y"\n')
    r = gsa.dgsm(m, samples=2 ** 12, seed=1)
    v = 0.5 ** 2 + 1.5 ** 2
    assert r.bound[0] == pytest.approx([0.25 / v, 2.25 / v], rel=0.02)   # = ST for linear Gaussian


def test_marginals_parameterisation(tmp_path_factory):
    m = _load(tmp_path_factory, "marginals", """
[inputs]
u = { value = 1, bounds = [0, 4] }
t = { value = 1, bounds = [0, 4], distribution = "triangular" }
n = { value = 2, sigma = 0.3 }
l = { value = 3, sigma = 0.6, distribution = "lognormal" }
c = { value = 0, sigma = 1, bounds = [-0.5, 2], distribution = "normal" }
[outputs]
f = "u + t + n + l + c"
""")
    mg = {q.name: q for q in gsa.marginals(m)}
    assert mg["u"].standard_uncertainty == pytest.approx(4 / math.sqrt(12))
    assert mg["t"].standard_uncertainty == pytest.approx(math.sqrt((0 + 16 + 1 - 0 - 0 - 4) / 18))
    assert mg["l"].standard_uncertainty == 0.6 and mg["l"].poincare is None
    assert mg["n"].range == pytest.approx((1.4, 2.6))
    X = gsa.sample_inputs(m, 2 ** 14, seed=0)
    means = {"u": 2.0, "t": 5 / 3, "n": 2.0, "l": 3.0}     # lognormal: value is the mean
    for j, q in enumerate(m.inputs[:4]):                  # c is truncated: its moments differ
        assert X[:, j].mean() == pytest.approx(means[q.name], rel=2e-3)
        assert X[:, j].std() == pytest.approx(mg[q.name].standard_uncertainty, rel=1e-2)
    c = X[:, 4]
    assert c.min() >= -0.5 and c.max() <= 2.0


def test_input_without_distribution_is_a_model_error():
    m = jacli.model_from_expressions("x*y")
    with pytest.raises(ModelError, match=r"input 'x' has no distribution .* add bounds = \[lo, hi\]"
                                         r".* or sigma ="):
        gsa.sobol_indices(m, samples=64)


@pytest.mark.parametrize("kwargs, match", [
    ({"samples": 1000}, r"samples must be a power of 2 .* got 1000"),
    ({"samples": 64, "bootstrap": 1}, r"bootstrap must be 0 \(no intervals\) or an integer >= 2"),
    ({"samples": 64, "confidence": 1.5}, r"confidence must be in \(0, 1\), got 1.5"),
    ({"samples": 64, "seed": -1}, r"seed must be a non-negative integer or None, got -1"),
    ({"samples": 64, "outputs": ["h"]}, r"'h' is not an output"),
])
def test_sobol_argument_errors(ishigami, kwargs, match):
    with pytest.raises(UsageError, match=match):
        gsa.sobol_indices(ishigami, **kwargs)


def test_morris_argument_errors(ishigami):
    with pytest.raises(UsageError, match=r"levels must be even \(Morris 1991\), got 3"):
        gsa.morris(ishigami, levels=3)
    with pytest.raises(UsageError, match=r"trajectories must be an integer >= 2, got 1"):
        gsa.morris(ishigami, trajectories=1)


def test_nonfinite_output_is_reported(tmp_path_factory):
    m = _load(tmp_path_factory, "domain", '[inputs]\nx = { value = 0.5, bounds = [-1, 1] }\n'
                                          '[outputs]\ny = "log(x)"\n')
    with pytest.raises(ModelError, match=r"output 'y' is not finite at \d+ of \d+ sampled points "
                                         r"\(first: x=-"):
        gsa.sobol_indices(m, samples=64, seed=0)


def test_constant_output_and_lognormal_are_explained(tmp_path_factory):
    m = _load(tmp_path_factory, "notes", '[inputs]\nx = { value = 2, sigma = 0.5, distribution = '
                                         '"lognormal" }\ny = { value = 1, bounds = [0, 3], '
                                         'distribution = "triangular" }\n'
                                         '[outputs]\nc = "0*x + 3"\ng = "x*y"\n')
    r = gsa.sobol_indices(m, samples=2 ** 8, seed=0)
    assert np.isnan(r.S1[0]).all() and np.isnan(r.ST_conf[0]).all() and np.isfinite(r.S1[1]).all()
    assert r.notes == ("output 'c' is constant over the sampled inputs: its indices are undefined "
                       "(NaN)",)
    d = gsa.dgsm(m, samples=2 ** 8, seed=0)
    assert d.indices["g"]["ST_bound"]["x"] is None and d.indices["g"]["ST_bound"]["y"] > 0
    assert any("input 'x' is lognormal: no finite Poincaré constant" in n for n in d.notes)
    assert json.loads(json.dumps(d.to_dict()))["notes"] == list(d.notes)
