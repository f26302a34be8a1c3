"""jacli.sensitivity: local sensitivities and GUM propagation against hand-derived and published values.

Published references: JCGM 100:2008 (the GUM) Annex H.1 (end-gauge calibration, Table H.1)
and Annex H.2 (simultaneous resistance and reactance, Table H.3).
"""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from jacli.errors import ModelError, UsageError
from jacli.model import model_from_toml
from jacli.sensitivity import (correlation_matrix, coverage_factor, local_sensitivity, monte_carlo,
                               propagate, standard_uncertainties)

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "samples"
NM = 1e-6          # one nanometre in millimetres (the H.1 sample is in mm)


def toml(text):
    return model_from_toml(text)


# ----------------------------------------------------------------------------- local


def test_local_hand_derived():
    # y = x² z at (2, 3): ∂y/∂x = 2xz = 12, ∂y/∂z = x² = 4; elasticities 2 and 1
    m = toml('[inputs]\nx = { value = 2.0, sigma = 0.1 }\nz = { value = 3.0, sigma = 0.5 }\n'
             '[outputs]\ny = "x^2*z"\n')
    r = local_sensitivity(m, backend="sympy")
    o = r.outputs[0]
    assert o.estimate == 12.0
    assert o.derivative == {"x": 12.0, "z": 4.0}
    assert o.normalized == pytest.approx({"x": 2.0, "z": 1.0}, rel=1e-14)
    assert o.scaled == pytest.approx({"x": 1.2, "z": 2.0}, rel=1e-14)
    assert o.share == pytest.approx({"x": 1.44 / 5.44, "z": 4.0 / 5.44}, rel=1e-14)
    assert o.ranking == ("z", "x")
    assert o.std_uncertainty == pytest.approx(math.sqrt(5.44), rel=1e-14)
    d = r.to_dict()
    assert d["outputs"]["y"]["budget"][0] == pytest.approx(
        {"input": "z", "u_input": 0.5, "contribution": 2.0, "share": 4.0 / 5.44})


def test_local_zero_output_and_zero_input_are_noted():
    m = toml('[inputs]\nx = 0.0\nz = 2.0\n[outputs]\ny = "x*z"\nw = "x + z"\n')
    r = local_sensitivity(m, backend="sympy")
    y, w = r.outputs
    assert y.normalized == {"x": None, "z": None}
    assert any("undefined" in n for n in y.notes)
    assert w.normalized == {"x": 0.0, "z": 1.0}
    assert any("x = 0" in n for n in w.notes)
    # no uncertainties: ranked by |elasticity|, then |derivative| (y = 0: ∂y/∂x = 2, ∂y/∂z = 0)
    assert w.ranking == ("z", "x") and y.ranking == ("x", "z")
    assert y.scaled == {"x": None, "z": None}


def test_local_at_point():
    m = toml('[inputs]\nx = 1.0\n[outputs]\ny = "x^3"\n')
    r = local_sensitivity(m, {"x": 2.0}, backend="sympy")
    assert r.at == {"x": 2.0}
    assert r.outputs[0].derivative["x"] == 12.0
    assert r.outputs[0].normalized["x"] == pytest.approx(3.0)


# ----------------------------------------------------------------------------- distributions


DISTS = """
[inputs]
n = { value = 1.0, sigma = 0.2, distribution = "normal" }
u = { value = 1.0, bounds = [0.0, 2.0], distribution = "uniform" }
t = { value = 0.0, bounds = [-1.0, 1.0], distribution = "triangular" }
ta = { value = 1.0, bounds = [0.0, 4.0], distribution = "triangular" }
ln = { value = 2.0, sigma = 0.5, distribution = "lognormal" }
s = { value = 1.0, sigma = 0.3 }
b = { value = 0.0, bounds = [-3.0, 3.0] }
ex = 5.0
[outputs]
yn = "n"
yu = "u"
yt = "t"
yta = "ta"
yln = "ln"
ys = "s"
yb = "b"
yex = "ex"
"""


def test_standard_uncertainty_from_distribution():
    m = toml(DISTS)
    q = {x.name: x for x in standard_uncertainties(m)}
    assert q["n"].u == 0.2 and q["n"].distribution == "normal"
    assert q["u"].u == pytest.approx(1.0 / math.sqrt(3.0), rel=1e-15)          # half-width/√3
    assert q["t"].u == pytest.approx(1.0 / math.sqrt(6.0), rel=1e-15)          # half-width/√6
    # asymmetric triangular (a, b, c) = (0, 4, 1): √((0 + 16 + 1 - 0 - 0 - 4)/18)
    assert q["ta"].u == pytest.approx(math.sqrt(13.0 / 18.0), rel=1e-15)
    assert q["ln"].u == 0.5 and q["ln"].distribution == "lognormal"
    assert q["s"].u == 0.3 and q["s"].distribution == "normal"
    assert q["b"].u == pytest.approx(3.0 / math.sqrt(3.0)) and q["b"].distribution == "uniform"
    assert "uniform" in q["b"].note
    assert q["ex"].u == 0.0 and q["ex"].distribution is None


def test_exact_inputs_are_listed():
    p = propagate(toml(DISTS), backend="sympy")
    assert p.exact_inputs == ("ex",)
    assert any("exact" in n and "ex" in n for n in p.notes)
    assert p.outputs[-1].std_uncertainty == 0.0


def test_monte_carlo_reproduces_each_distribution():
    # identity outputs: the samples' mean and std are the distributions' own
    m = toml(DISTS)
    mc = monte_carlo(m, 200_000, seed=7)
    u = [x.u for x in standard_uncertainties(m)]
    means = [1.0, 1.0, 0.0, 5.0 / 3.0, 2.0, 1.0, 0.0, 5.0]   # triangular mean (a+b+c)/3
    np.testing.assert_allclose(mc.std, u, rtol=0.01)
    np.testing.assert_allclose(mc.mean, means, atol=0.01)


# ----------------------------------------------------------------------------- correlations


def test_correlation_matrix_not_psd_is_an_error():
    m = toml('[inputs]\na = { value = 1, sigma = 1 }\nb = { value = 1, sigma = 1 }\n'
             'c = { value = 1, sigma = 1 }\n[correlations]\n"a,b" = 0.9\n"b,c" = 0.9\n"a,c" = -0.9\n'
             '[outputs]\ny = "a + b + c"\n')
    with pytest.raises(ModelError, match=r"not positive semidefinite \(smallest eigenvalue -0\.8"):
        propagate(m, backend="sympy")
    with pytest.raises(ModelError, match="not positive semidefinite"):
        monte_carlo(m, 100, seed=0)


def test_correlation_out_of_range_is_an_error():
    m = toml('[inputs]\na = 1\nb = 2\n[outputs]\ny = "a*b"\n')
    with pytest.raises(ModelError, match="between -1 and 1"):
        correlation_matrix(m, {("a", "b"): 1.2})
    with pytest.raises(ModelError, match="'q' is not an input"):
        correlation_matrix(m, {("a", "q"): 0.2})


def test_gum_linear_with_correlation_hand_derived():
    # y1 = 2a + 3b, y2 = a - b, u = (0.1, 0.2), r = 0.5:
    # u²(y1) = 0.04 + 0.36 + 2·2·3·0.5·0.02 = 0.52; u²(y2) = 0.01 + 0.04 - 2·0.5·0.02 = 0.03
    # cov = 2·0.01 - 3·0.04 + (-2 + 3)·0.5·0.02 = -0.09
    m = toml('[inputs]\na = { value = 1, sigma = 0.1 }\nb = { value = 2, sigma = 0.2 }\n'
             '[correlations]\n"a,b" = 0.5\n[outputs]\ny1 = "2*a + 3*b"\ny2 = "a - b"\n')
    p = propagate(m, backend="sympy")
    y1, y2 = p.outputs
    assert y1.estimate == 8.0 and y2.estimate == -1.0
    assert y1.std_uncertainty == pytest.approx(math.sqrt(0.52), rel=1e-14)
    assert y2.std_uncertainty == pytest.approx(math.sqrt(0.03), rel=1e-14)
    assert p.covariance[0, 1] == pytest.approx(-0.09, rel=1e-13)
    assert p.correlation[0, 1] == pytest.approx(-0.09 / math.sqrt(0.52 * 0.03), rel=1e-13)
    assert y1.coefficients == {"a": 2.0, "b": 3.0}
    assert [(b.input, b.contribution) for b in y1.budget] == [("b", pytest.approx(0.6)),
                                                             ("a", pytest.approx(0.2))]
    assert y1.budget[0].share == pytest.approx(0.36 / 0.52)
    assert y1.correlation_share == pytest.approx(0.12 / 0.52)
    # Monte Carlo on a linear model agrees, no warning
    mc = propagate(m, backend="sympy", check_mc=100_000, seed=1).monte_carlo
    assert mc.agree == (True, True) and mc.warnings == ()
    np.testing.assert_allclose(mc.std, [math.sqrt(0.52), math.sqrt(0.03)], rtol=0.01)


def test_fully_anticorrelated_sum():
    m = toml('[inputs]\na = { value = 1, sigma = 0.3 }\nb = { value = 1, sigma = 0.1 }\n'
             '[correlations]\n"a,b" = -1.0\n[outputs]\ny = "a + b"\n')
    p = propagate(m, backend="sympy", check_mc=20_000, seed=3)
    assert p.outputs[0].std_uncertainty == pytest.approx(0.2, rel=1e-12)
    assert p.monte_carlo.agree == (True,)     # a singular R (|r| = 1) is sampled, no Cholesky failure
    assert p.monte_carlo.std[0] == pytest.approx(0.2, rel=0.03)


# ----------------------------------------------------------------------------- second order, Monte Carlo


def test_second_order_product_hand_derived():
    # y = a b, independent normals: Var = b²u_a² + a²u_b² + u_a²u_b² exactly; mean shift 0
    m = toml('[inputs]\na = { value = 2, sigma = 0.5 }\nb = { value = 3, sigma = 0.4 }\n'
             '[outputs]\ny = "a*b"\n')
    so = propagate(m, backend="sympy", second_order=True).second_order
    assert so.variance_term[0] == pytest.approx(0.25 * 0.16, rel=1e-13)
    assert so.std_uncertainty[0] == pytest.approx(math.sqrt(9 * 0.25 + 4 * 0.16 + 0.04), rel=1e-13)
    assert so.mean_shift[0] == 0.0


def test_nonlinear_model_monte_carlo_disagrees_and_warns():
    # y = exp(x), x ~ N(0, 1): linear u = 1; exact std √((e - 1)e) = 2.16, mean √e
    m = toml('[inputs]\nx = { value = 0, sigma = 1 }\n[outputs]\ny = "exp(x)"\n')
    p = propagate(m, backend="sympy", check_mc=50_000, seed=11)
    assert p.outputs[0].std_uncertainty == pytest.approx(1.0)
    assert p.monte_carlo.agree == (False,)
    assert "first order is not enough" in p.monte_carlo.warnings[0]
    assert p.monte_carlo.mean[0] == pytest.approx(math.exp(0.5), rel=0.05)
    assert p.second_order.mean_shift[0] == pytest.approx(0.5)     # ½ H u² with H = 1
    assert p.second_order.variance_term[0] == pytest.approx(0.5)  # ½ H² u⁴


def test_monte_carlo_seeded_reproducibility():
    m = toml('[inputs]\nx = { value = 1, sigma = 0.1 }\nz = { value = 0, bounds = [-1, 1], '
             'distribution = "triangular" }\n[correlations]\n"x,z" = 0.3\n[outputs]\ny = "x*exp(z)"\n')
    a = monte_carlo(m, 5000, seed=42, chunk=1000)
    b = monte_carlo(m, 5000, seed=42, chunk=1000)
    c = monte_carlo(m, 5000, seed=43, chunk=1000)
    assert a == b
    assert a.mean != c.mean
    assert any("copula" in n for n in a.notes)


def test_usage_errors():
    m = toml('[inputs]\nx = { value = 1, sigma = 0.1 }\n[outputs]\ny = "x"\n')
    with pytest.raises(UsageError, match="--coverage must be a probability"):
        propagate(m, coverage=1.5)
    with pytest.raises(UsageError, match="--check-mc must be an integer >= 2"):
        monte_carlo(m, 1)
    assert coverage_factor(0.95) == pytest.approx(1.959964, abs=1e-6)
    p = propagate(m, coverage=0.95, backend="sympy")
    assert p.outputs[0].expanded == pytest.approx(0.1 * 1.959964, rel=1e-6)


# ----------------------------------------------------------------------------- published GUM values


def test_gum_h2_impedance_published():
    """JCGM 100 H.2, Table H.3: u(R) = 0.071, u(X) = 0.295, u(Z) = 0.236 ohm;
    r(R,X) = -0.588, r(R,Z) = -0.485, r(X,Z) = 0.993.  The GUM computed them from the
    unrounded observations; from the rounded Table H.2 statistics first order agrees to
    ~1.5 % (u(R) = 0.0700), so the tolerance is 2 % on u and 0.01 on r."""
    p = propagate(str(SAMPLES / "gum_impedance.toml"), backend="sympy")
    est = [o.estimate for o in p.outputs]
    u = [o.std_uncertainty for o in p.outputs]
    np.testing.assert_allclose(est, [127.732, 219.847, 254.260], atol=0.0015)
    np.testing.assert_allclose(u, [0.071, 0.295, 0.236], rtol=0.02)
    r = p.correlation
    np.testing.assert_allclose([r[0, 1], r[0, 2], r[1, 2]], [-0.588, -0.485, 0.993], atol=0.01)
    np.testing.assert_allclose(np.diag(p.covariance), np.square(u), rtol=1e-12)
    # Z = V/I does not depend on phi: no "first-order zero" note for it
    assert not any("Z/phi" in n for n in p.notes)


def test_gum_h1_end_gauge_published():
    """JCGM 100 H.1, Table H.1: contributions 25, 9.7, 0, 0, 2.9, 16.6 nm; u_c(l) = 32 nm
    (u_c² = 1002 nm²); with the second-order terms u_c(l) = 34 nm (H.1.7)."""
    p = propagate(str(SAMPLES / "gum_end_gauge.toml"), backend="sympy", second_order=True)
    o = p.outputs[0]
    assert o.estimate == pytest.approx(50.000838, abs=0.5e-6)            # l, H.1.5
    assert o.std_uncertainty / NM == pytest.approx(32, abs=0.5)
    assert (o.std_uncertainty / NM) ** 2 == pytest.approx(1002, abs=2)
    c = o.coefficients
    assert c["l_S"] == pytest.approx(1.0) and c["d"] == 1.0
    assert c["alpha_S"] == 0 and c["theta_bar"] == 0 and c["Delta"] == 0   # first-order zeros
    assert c["delta_alpha"] == pytest.approx(5.0, rel=1e-4)               # -l_S θ, mm/°C
    assert c["delta_theta"] / NM == pytest.approx(-575, rel=1e-3)          # -l_S α_S, nm/°C
    contrib = {b.input: b.contribution / NM for b in o.budget}
    assert contrib["l_S"] == pytest.approx(25, abs=0.05)
    assert contrib["d"] == pytest.approx(9.7, abs=0.05)
    assert contrib["delta_alpha"] == pytest.approx(2.9, abs=0.05)
    assert contrib["delta_theta"] == pytest.approx(16.6, abs=0.05)
    assert contrib["alpha_S"] == contrib["theta_bar"] == contrib["Delta"] == 0
    assert [b.input for b in o.budget[:4]] == ["l_S", "delta_theta", "d", "delta_alpha"]
    assert any("0 at the estimate" in n and "alpha_S" in n for n in p.notes)
    # u(theta) = √(0.2² + 0.35²) = 0.41 °C (H.1.3.4); second order: 34 nm
    u = {q.name: q.u for q in p.inputs}
    assert math.hypot(u["theta_bar"], u["Delta"]) == pytest.approx(0.41, abs=0.005)
    assert u["alpha_S"] == pytest.approx(1.2e-6, abs=0.05e-6)
    assert u["delta_alpha"] == pytest.approx(0.58e-6, abs=0.005e-6)
    assert u["delta_theta"] == pytest.approx(0.029, abs=0.0005)
    assert p.second_order.std_uncertainty[0] / NM == pytest.approx(34, abs=0.5)


def test_monte_carlo_distributions_follow_at():
    # --at moves a uniform input's bounds with its estimate (width kept)
    m = toml('[inputs]\nx = { value = 0, bounds = [-1, 1], distribution = "uniform" }\n'
             '[outputs]\ny = "x"\n')
    p = propagate(m, {"x": 5.0}, backend="sympy", check_mc=20_000, seed=4)
    assert p.outputs[0].estimate == 5.0
    assert p.monte_carlo.mean[0] == pytest.approx(5.0, abs=0.02)
    assert p.monte_carlo.agree == (True,)
    assert any("assume normal inputs" in n for n in p.notes)


def test_uniform_value_off_midpoint_is_noted():
    m = toml('[inputs]\nx = { value = 0.5, bounds = [-1, 1], distribution = "uniform" }\n'
             '[outputs]\ny = "x"\n')
    (q,) = standard_uncertainties(m)
    assert "not the midpoint" in q.note
