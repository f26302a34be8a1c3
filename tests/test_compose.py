"""Chains of models (jacli.compose): the chain rule stage by stage.

References are independent of the chain rule: the same chain written as ONE expression
model (``to_model``, differentiated as a whole by the sympy backend), hand-derived
derivatives, a brute-force matrix-chain search, and for the network sample hand-written
PyTorch autograd and ``jax.grad`` code that does not go through jacli.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import jacli
from jacli import _ops
from jacli import compose as C
from jacli.errors import ModelError, UsageError
from jacli.model import model_from_toml

from helpers import run

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "two_layer_net"
L1, L2 = str(SAMPLE / "layer1.toml"), str(SAMPLE / "layer2.toml")


def M(name, text):
    return model_from_toml(text, source=f"{name}.toml", name=name)


# ---------------------------------------------------------------------------- chains

WIDE_A = M("a", """
[inputs]
x = 0.7
y = -0.4
[outputs]
u1 = "x*y"
u2 = "sin(x)"
u3 = "exp(y/3)"
""")
WIDE_B = M("b", """
[inputs]
u1 = 0.0
u2 = 0.0
u3 = 1.0
[outputs]
f = "u1*u2 + u3^2 + log(1 + u1^2)"
""")

NECK_A = M("neck", """
[inputs]
x = 0.3
y = 1.1
z = -0.6
[outputs]
s = "x^2 + y*z + cos(z)"
""")
NECK_B = M("fan", """
[inputs]
s = 1.0
[outputs]
g1 = "s"
g2 = "s^2/2"
g3 = "sin(3*s)"
g4 = "atan(s)"
""")

# A DAG in stage order: stage 3 uses stage 1's output b, stage 2's output c and the
# composite input x that stage 1 also uses; stage 2 brings a new input t.
DAG_A = M("s1", """
[inputs]
x = 0.9
y = 0.2
[outputs]
a = "x*exp(y)"
b = "x + y^2"
""")
DAG_B = M("s2", """
[inputs]
a = 1.0
t = 0.5
[outputs]
c = "a*t + sin(a)"
""")
DAG_C = M("s3", """
[inputs]
b = 1.0
c = 1.0
x = 0.0
[outputs]
out1 = "b*c + x"
out2 = "c^2 - b*x^3"
""")

PAR_A = M("pa", """
[inputs]
x = 0.4
[parameters]
p = 1.5
q = -0.3
[outputs]
h1 = "tanh(p*x + q)"
h2 = "p*x^2"
""")
PAR_B = M("pb", """
[inputs]
h1 = 0.0
h2 = 0.0
y = 2.0
[parameters]
q = -0.3
r = 0.8
[outputs]
f = "r*h1*h2 + q*y + exp(r*h1)"
""")

CHAINS = {
    "wide": ([WIDE_A, WIDE_B], None, None),
    "bottleneck": ([NECK_A, NECK_B], None, None),
    "dag": ([DAG_A, DAG_B, DAG_C], None, None),
    "params": ([PAR_A, PAR_B], ["x", "p", "q", "r", "y"], None),
    "param_of_stage_2_only": ([PAR_A, PAR_B], ["r"], None),
    "intermediate_outputs": ([DAG_A, DAG_B, DAG_C], ["y", "t"], ["b", "out2", "c"]),
}


def points(comp, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return np.asarray(comp.nominal) + 0.3 * rng.standard_normal((n, len(comp.input_names)))


@pytest.mark.parametrize("case", list(CHAINS))
def test_chain_rule_product_equals_the_single_model(case):
    stages, wrt, outputs = CHAINS[case]
    comp = jacli.compose(stages, outputs=outputs)
    X = points(comp)
    r = C.jacobian(comp, X, wrt=wrt)
    one = C.to_model(comp)
    ref = jacli.jacobian(one, X, wrt=wrt, backend="sympy")
    assert r.ok and ref.ok
    assert r.wrt == ref.wrt and r.outputs == ref.outputs
    np.testing.assert_allclose(r.value, ref.value, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(r.derivative, ref.derivative, rtol=1e-12, atol=1e-13)
    assert r.exact and r.error is None
    # structure by the boolean chain product: never claims a zero that is not one
    assert r.structure is not None
    assert not (np.abs(ref.derivative) > 0)[:, ~r.structure].any()


def test_hand_derived_dag():
    # out1 = b*c + x with a = x e^y, b = x + y^2, c = a t + sin a
    x, y, t = 0.9, 0.2, 0.5
    a, b = x * math.exp(y), x + y * y
    c = a * t + math.sin(a)
    dc_da = t + math.cos(a)
    d_out1_dx = c + b * dc_da * math.exp(y) + 1.0          # b_x c + b c_a a_x + 1
    d_out1_dy = 2 * y * c + b * dc_da * x * math.exp(y)
    d_out1_dt = b * a
    r = C.jacobian([DAG_A, DAG_B, DAG_C])
    assert r.inputs == ("x", "y", "t")
    np.testing.assert_allclose(r.derivative[0, 0], [d_out1_dx, d_out1_dy, d_out1_dt], rtol=1e-14)


@pytest.mark.parametrize("backend,rtol", [("complex", 1e-12), ("fd", None)])
def test_other_backends_per_stage(backend, rtol):
    comp = jacli.compose([DAG_A, DAG_B, DAG_C])
    X = points(comp, 2, seed=1)
    exact = C.jacobian(comp, X).derivative
    r = C.jacobian(comp, X, backend=backend)
    assert r.ok and not r.exact and r.backend == backend
    if rtol is not None:
        np.testing.assert_allclose(r.derivative, exact, rtol=rtol, atol=1e-13)
    else:
        # finite differences: the stages' error estimates, propagated to first order, bound the error
        assert r.error is not None and (r.error > 0).any()
        assert (np.abs(r.derivative - exact) <= 2 * r.error + 1e-14).all()
        assert (r.error < 1e-6).all()


@pytest.mark.parametrize("case", ["wide", "bottleneck", "dag", "params"])
def test_sweeps_equal_products_of_the_single_model(case, monkeypatch):
    stages, wrt, outputs = CHAINS[case]
    comp = jacli.compose(stages, outputs=outputs)
    X = points(comp, 4, seed=2)
    J = jacli.jacobian(C.to_model(comp), X, wrt=wrt, backend="sympy").derivative
    rng = np.random.default_rng(3)
    U = rng.standard_normal((4, J.shape[1]))
    V = rng.standard_normal((4, J.shape[2]))

    def no_jacobians(*a, **k):
        raise AssertionError("a sweep formed a stage Jacobian")

    monkeypatch.setattr(_ops, "jacobian", no_jacobians)
    rv = C.vjp(comp, X, U, wrt=wrt)
    rj = C.jvp(comp, X, V, wrt=wrt)
    assert rv.ok and rj.ok
    np.testing.assert_allclose(rv.derivative, np.einsum("ni,nik->nk", U, J), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(rj.derivative, np.einsum("nik,nk->ni", J, V), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(rv.extra["vector"], U)


# ---------------------------------------------------------------------------- the order

def _brute(p, i, j):
    if i == j:
        return 0
    return min(_brute(p, i, s) + _brute(p, s + 1, j) + p[i] * p[s + 1] * p[j + 1] for s in range(i, j))


def test_chain_order_textbook_example():
    # Cormen, Leiserson, Rivest & Stein, Introduction to Algorithms, 3rd ed., Fig. 15.5:
    # dimensions 30, 35, 15, 5, 10, 20, 25 -> 15125 scalar multiplications, ((A1(A2A3))((A4A5)A6)).
    p = [30, 35, 15, 5, 10, 20, 25]
    cost, tree = C.chain_order(list(zip(p[:-1], p[1:])))
    assert cost == 15125
    assert tree == ((0, (1, 2)), ((3, 4), 5))


def test_chain_order_is_optimal_against_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(30):
        p = rng.integers(1, 40, size=rng.integers(2, 7)).tolist()
        cost, tree = C.chain_order(list(zip(p[:-1], p[1:])))
        assert cost == _brute(p, 0, len(p) - 2)

        def flops(t):                      # the cost of the returned tree, recomputed
            if isinstance(t, int):
                return 0, p[t], p[t + 1]
            (ca, ra, _), (cb, _, kb) = flops(t[0]), flops(t[1])
            return ca + cb + ra * p[_split(t[1])] * kb, ra, kb

        def _split(t):
            return t if isinstance(t, int) else _split(t[0])

        assert flops(tree)[0] == cost


def test_chain_order_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="factor 0 has 3 columns but factor 1 has 4 rows"):
        C.chain_order([(2, 3), (4, 5)])


def _fan_chain(n_in, width, n_out):
    a = M("in", "[inputs]\n" + "".join(f"x{i} = 0.{i + 1}\n" for i in range(n_in)) + "[outputs]\n"
          + "".join(f'h{j} = "sin({" + ".join(f"{j + 1}*x{i}" for i in range(n_in))})"\n'
                    for j in range(width)))
    b = M("mid", "[inputs]\n" + "".join(f"h{j} = 0.0\n" for j in range(width)) + "[outputs]\n"
          + "".join(f'k{j} = "tanh({" + ".join(f"h{i}" for i in range(width))} + {j})"\n'
                    for j in range(width)))
    c = M("out", "[inputs]\n" + "".join(f"k{j} = 0.0\n" for j in range(width)) + "[outputs]\n"
          + "".join(f'y{o} = "{" * ".join(f"k{j}" for j in range(width))} + {o}"\n'
                    for o in range(n_out)))
    return jacli.compose([a, b, c])


@pytest.mark.parametrize("n_in,n_out,order", [(1, 6, "J3·(J2·J1)"), (6, 1, "(J3·J2)·J1")])
def test_the_cheaper_order_is_used(n_in, n_out, order):
    comp = _fan_chain(n_in, 6, n_out)
    r = C.jacobian(comp)
    assert r.extra["chain"]["order"] == order          # forward for one input, reverse for one output
    assert r.extra["chain"]["multiply_adds"] == 6 * 6 * 1 + 6 * 6
    ref = jacli.jacobian(C.to_model(comp), backend="sympy").derivative
    np.testing.assert_allclose(r.derivative, ref, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- failures

FAIL_A = M("fa", """
[inputs]
x = 2.0
y = 1.0
[outputs]
u = "sqrt(x) - 1"
w = "x*y"
""")
FAIL_B = M("fb", """
[inputs]
u = 0.0
w = 0.0
[outputs]
f = "log(u) + w"
""")


@pytest.mark.parametrize("op", ["jacobian", "vjp", "jvp"])
def test_a_point_failing_in_a_stage_is_reported_and_the_rest_go_on(op):
    X = np.array([[4.0, 1.0], [0.25, 1.0], [-1.0, 2.0], [9.0, 2.0]])
    comp = jacli.compose([FAIL_A, FAIL_B])
    vec = {"jacobian": (), "vjp": ([1.0],), "jvp": ([1.0, -1.0],)}[op]
    r = getattr(C, op)(comp, X, *vec)
    assert r.status.tolist() == [0, 2, 2, 0]
    assert r.messages[1].startswith("stage 2 (fb.toml): output 'f' is not finite: log(")
    assert r.messages[2].startswith("stage 1 (fa.toml): output 'u' is not finite: sqrt(")
    assert np.isnan(r.derivative[[1, 2]]).all() and np.isnan(r.value[[1, 2]]).all()
    ok = [0, 3]
    one = C.to_model(comp)
    ref = getattr(jacli, op)(one, X[ok], *vec, backend="sympy")
    np.testing.assert_allclose(r.derivative[ok], ref.derivative, rtol=1e-13)
    if op == "jacobian":
        st2 = r.extra["stages"][1]
        assert st2["status"].tolist() == [0, 2, -1, 0]      # -1: not evaluated (stage 1 failed)
    with pytest.raises(jacli.errors.PointsFailed, match="point 1: stage 2"):
        getattr(C, op)(comp, X, *vec, throw=True)


def test_stream_batches_and_bad_rows():
    comp = jacli.compose([FAIL_A, FAIL_B])
    recs = [([4.0, 1.0], None), (None, "row 2: not a number"), ([0.25, 1.0], None), ([9.0, 2.0], None)]
    out = list(C.stream("jacobian", comp, recs, batch_size=3))
    assert [len(r) for r in out] == [3, 1]
    status = np.concatenate([r.status for r in out]).tolist()
    assert status == [0, 4, 2, 0]
    assert out[0].messages[1] == "row 2: not a number"
    assert out[0].extra["stages"][0]["status"].tolist() == [0, -1, 0]
    ref = jacli.jacobian(C.to_model(comp), [[4.0, 1.0], [9.0, 2.0]], backend="sympy").derivative
    np.testing.assert_allclose(out[0].derivative[0], ref[0], rtol=1e-13)
    np.testing.assert_allclose(out[1].derivative[0], ref[1], rtol=1e-13)


# ---------------------------------------------------------------------------- names

def test_composite_names():
    comp = jacli.compose([DAG_A, DAG_B, DAG_C])
    assert comp.input_names == ("x", "y", "t")
    assert comp.nominal == (0.9, 0.2, 0.5)           # x from stage 1, not stage 3's 0.0
    assert comp.output_names == ("out1", "out2")
    assert comp.labels == ("s1.toml", "s2.toml", "s3.toml")
    pc = jacli.compose([PAR_A, PAR_B], params={"q": 0.25})
    assert pc.parameter_names == ("p", "q", "r")
    assert [s.param_values["q"] for s in pc.stages] == [0.25, 0.25]   # a shared name, set everywhere


@pytest.mark.parametrize("stages,match", [
    ([WIDE_A, M("z", '[inputs]\nv1 = 0.0\nv2 = 0.0\n[outputs]\nf = "v1*v2"\n')],
     r"stage 2 \(z.toml\) uses none of the values produced before it: produced u1, u2, u3; "
     r"z.toml expects inputs v1, v2"),
    ([WIDE_A, M("typo", '[inputs]\nu1 = 0.0\nu2 = 0.0\nu4 = 0.0\n[outputs]\nf = "u1+u2+u4"\n')],
     r"output 'u3' of stage 1 \(a.toml\) is used by no later stage: a.toml produces u1, u2, u3; "
     r"typo.toml expects u1, u2, u4 \(did you mean 'u3' for 'u4'\?\)"),
    ([WIDE_A, M("dup", '[inputs]\nu1 = 0.0\nu3 = 0.0\n[outputs]\nu2 = "u1*u3"\n')],
     r"output 'u2' of stage 2 \(dup.toml\) is also an output of stage 1 \(a.toml\)"),
    ([WIDE_A, M("px", '[inputs]\nu1 = 0.0\nu2 = 0.0\nu3 = 0.0\n[parameters]\nx = 1.0\n'
                      '[outputs]\nf = "u1*x+u2+u3"\n')],
     r"'x' is an input of stage 1 \(a.toml\) but a parameter of stage 2 \(px.toml\)"),
    ([WIDE_A, M("pu", '[inputs]\nu2 = 0.0\nu3 = 0.0\n[parameters]\nu1 = 1.0\n[outputs]\nf = "u1+u2+u3"\n')],
     r"'u1' is produced by stage 1 \(a.toml\) but stage 2 \(pu.toml\) declares it a parameter"),
    ([PAR_A, M("q2", '[inputs]\nh1 = 0.0\nh2 = 0.0\n[parameters]\nq = 9.0\n[outputs]\nf = "q*h1*h2"\n')],
     r"parameter 'q' is -0.3 in stage 1 \(pa.toml\) and 9.0 in stage 2 \(q2.toml\)"),
    ([WIDE_A, M("ox", '[inputs]\nu1 = 0.0\nu2 = 0.0\nu3 = 0.0\n[outputs]\ny = "u1+u2+u3"\n')],
     r"output 'y' of stage 2 \(ox.toml\) has the name of an input of stage 1 \(a.toml\)"),
])
def test_name_errors(stages, match):
    with pytest.raises(ModelError, match=match):
        jacli.compose(stages)


def test_usage_errors():
    comp = jacli.compose([DAG_A, DAG_B, DAG_C])
    with pytest.raises(UsageError, match=r"--wrt: 'c' is computed by stage 2 \(s2.toml\)"):
        C.jacobian(comp, wrt=["c"])
    with pytest.raises(UsageError, match=r"--wrt: 'xx' is not an input or parameter of the chain "
                                         r"\(did you mean 'x' for 'xx'\?\)"):
        C.jacobian(comp, wrt=["xx"])
    with pytest.raises(UsageError, match="--outputs: 'd' is not produced by any stage"):
        jacli.compose([DAG_A, DAG_B, DAG_C], outputs=["d"])
    with pytest.raises(UsageError, match="--param: unknown parameter 'zz'; the stages' parameters are: p, q, r"):
        jacli.compose([PAR_A, PAR_B], params={"zz": 1})
    with pytest.raises(UsageError, match="--at: 'a' is not an input"):
        C.jacobian(comp, {"a": 1.0})
    with pytest.raises(jacli.errors.InputError, match="expected 2 values"):
        C.vjp(comp, None, [1.0])


def test_to_model_needs_expression_stages(tmp_path):
    py = tmp_path / "st.py"
    py.write_text('INPUTS = {"x": 0.5}\nOUTPUTS = ["u"]\n\ndef f(x):\n    return [x * x]\n')
    g = M("g", '[inputs]\nu = 0.0\n[outputs]\nf = "2*u"\n')
    with pytest.raises(jacli.errors.CapabilityError, match=r"stage 1 \(st.py:f\) is not an expression model"):
        C.to_model([jacli.load_model(f"{py}:f"), g])


def test_compose_is_both_a_function_and_the_module():
    assert callable(jacli.compose) and jacli.compose.jacobian is C.jacobian
    assert isinstance(jacli.compose([WIDE_A, WIDE_B]), C.Composite)


# ---------------------------------------------------------------------------- Python stages

PY_STAGE = '''
from array_api_compat import array_namespace

INPUTS = {"x": 0.5, "y": 1.0}
PARAMETERS = {"a": 2.0}
OUTPUTS = ["u", "v"]


def f(x, y, a):
    xp = array_namespace(x)
    return [a * x * y, xp.sin(x) + y]
'''


@pytest.mark.parametrize("backend", ["auto", "sympy", "fd", "jax", "torch"])
def test_python_stage_composes(tmp_path, backend):
    if backend in ("jax", "torch"):
        pytest.importorskip(backend, reason=f"{backend} is not installed")
    py = tmp_path / "stage.py"
    py.write_text(PY_STAGE)
    g = M("g", '[inputs]\nu = 1.0\nv = 2.0\n[outputs]\ng = "u*exp(v) + log(u)"\n')
    comp = jacli.compose([f"{py}:f", g])
    X = np.array([[0.5, 1.0], [1.3, 0.4]])
    r = C.jacobian(comp, X, wrt=["x", "y", "a"], backend=backend)
    x, y, a = X[:, 0], X[:, 1], 2.0
    u, v = a * x * y, np.sin(x) + y
    gu, gv = np.exp(v) + 1 / u, u * np.exp(v)           # hand-derived
    ref = np.stack([gu * a * y + gv * np.cos(x), gu * a * x + gv, gu * x * y], axis=1)[:, None, :]
    assert r.ok
    tol = 1e-7 if backend == "fd" else 1e-12
    np.testing.assert_allclose(r.derivative, ref, rtol=tol)
    rv = C.vjp(comp, X, [1.0], wrt=["x", "y", "a"], backend=backend)
    np.testing.assert_allclose(rv.derivative, ref[:, 0, :], rtol=tol)


def test_python_stage_raising_at_one_point(tmp_path):
    py = tmp_path / "raiser.py"
    py.write_text('import math\nINPUTS = {"x": 0.5}\nOUTPUTS = ["u"]\n\n\ndef f(x):\n'
                  '    if x > 1:\n        raise ValueError("x must be at most 1")\n    return [math.asin(x)]\n')
    g = M("g", '[inputs]\nu = 0.0\ny = 1.0\n[outputs]\ng = "2*u + y"\n')
    X = [[0.5, 1.0], [2.0, 1.0], [0.1, 0.0]]
    r = C.jacobian([f"{py}:f", g], X, backend="fd")
    assert r.status.tolist() == [0, int(jacli.Status.USER_ERROR), 0]
    assert r.messages[1].startswith("stage 1 (raiser.py:f): ") and "ValueError: x must be at most 1" in r.messages[1]
    assert r.extra["stages"][1]["status"].tolist() == [0, -1, 0]
    np.testing.assert_allclose(r.derivative[[0, 2], 0, 0], 2 / np.sqrt(1 - np.array([0.5, 0.1]) ** 2),
                               rtol=1e-8)


# ---------------------------------------------------------------------------- CLI

def _write(tmp_path, *models):
    paths = []
    for name, text in models:
        p = tmp_path / f"{name}.toml"
        p.write_text(text)
        paths.append(str(p))
    return paths


A_TXT = '[inputs]\nx = 0.7\ny = -0.4\n[outputs]\nu1 = "x*y"\nu2 = "sin(x)"\nu3 = "exp(y/3)"\n'
B_TXT = '[inputs]\nu1 = 0.0\nu2 = 0.0\nu3 = 1.0\n[outputs]\nf = "u1*u2 + u3^2 + log(1 + u1^2)"\n'


def test_cli_chain_matches_library(tmp_path, capsys, monkeypatch):
    a, b = _write(tmp_path, ("a", A_TXT), ("b", B_TXT))
    code, out, err = run(capsys, monkeypatch, "jacobian", a, b, "--at", "x=0.3", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    ref = C.jacobian([WIDE_A, WIDE_B], {"x": 0.3})
    assert doc["inputs"] == ["x", "y"] and doc["outputs"] == ["f"] and doc["model"] == "a → b"
    np.testing.assert_array_equal(doc["jacobian"], ref.derivative[0])
    assert "stages" not in doc


def test_cli_per_stage_json_and_table(tmp_path, capsys, monkeypatch):
    a, b = _write(tmp_path, ("a", A_TXT), ("b", B_TXT))
    code, out, err = run(capsys, monkeypatch, "jacobian", a, b, "--per-stage", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    st = doc["stages"]
    assert [s["model"] for s in st] == ["a.toml", "b.toml"]
    assert [s["shape"] for s in st] == [[3, 2], [1, 3]]
    assert st[0]["inputs"] == ["x", "y"] and st[1]["inputs"] == ["u1", "u2", "u3"]
    J = np.array(st[1]["jacobian"]) @ np.array(st[0]["jacobian"])
    np.testing.assert_allclose(doc["jacobian"], J, rtol=1e-15)
    ja = jacli.jacobian(WIDE_A, backend="sympy")
    np.testing.assert_array_equal(st[0]["jacobian"], ja.derivative[0])
    assert st[1]["at"] == dict(zip(["u1", "u2", "u3"], ja.value[0].tolist()))

    code, out, err = run(capsys, monkeypatch, "jacobian", a, b, "--per-stage")
    assert code == 0, err
    assert "chain rule: J (1 × 2) = J2 (1 × 3) · J1 (3 × 2), multiplied as J2·J1" in out
    assert "stage 1 (a.toml), J1 3 × 2" in out and "stage 2 (b.toml), J2 1 × 3" in out
    assert "∂/∂u3" in out

    pts = tmp_path / "p.csv"
    pts.write_text("x,y\n0.1,0.2\nbad,1\n0.5,0.5\n")
    code, out, err = run(capsys, monkeypatch, "jacobian", a, b, "--per-stage", "--points", str(pts),
                         "-f", "jsonl")
    assert code == 5 and "1 point failed" in err
    lines = [json.loads(s) for s in out.splitlines()]
    assert [d["status"] for d in lines] == ["ok", "bad_input", "ok"]
    assert [s["status"] for s in lines[1]["stages"]] == ["not_evaluated", "not_evaluated"]
    assert len(lines[2]["stages"]) == 2


def test_cli_errors(tmp_path, capsys, monkeypatch):
    a, b = _write(tmp_path, ("a", A_TXT), ("b", B_TXT))
    (z,) = _write(tmp_path, ("z", '[inputs]\nv1 = 0.0\n[outputs]\nf = "v1"\n'))
    code, _, err = run(capsys, monkeypatch, "jacobian", a, z)
    assert code == 3
    assert err.strip() == ("jacli: error: stage 2 (z.toml) uses none of the values produced before it: "
                           "produced u1, u2, u3; z.toml expects inputs v1 (did you mean 'u1' for 'v1'?)")
    for args, msg in [
        (("jacobian", a, b, "-e", "x*y"), "-e gives a single model"),
        (("jacobian", a, "--per-stage"), "--per-stage applies to a chain"),
        (("jacobian", a, b, "--per-stage", "-f", "csv"), "--per-stage supports --format table, json or jsonl"),
        (("jacobian", a, b, "--outputs", "q"), "--outputs: 'q' is not produced by any stage"),
        (("vjp", a, b), "vjp needs a vector: --vector with 1 value (f)"),
        (("jacobian", a, b, "--wrt", "u1"), "--wrt: 'u1' is computed by stage 1 (a.toml)"),
        (("jacobian", a, b, "--per-stage", "--symbolic"), "--per-stage shows the stages' numbers"),
        (("jacobian", "-", "-"), "stdin ('-') can hold only one model of a chain"),
        (("jvp", a, b, "--inputs", "x,y", "--vector", "1,0"), "--inputs cannot be given for a chain"),
    ]:
        code, _, err = run(capsys, monkeypatch, *args)
        assert code == 2 and msg in err, (args, err)
        assert "Traceback" not in err


def test_cli_products_and_symbolic(tmp_path, capsys, monkeypatch):
    a, b = _write(tmp_path, ("a", A_TXT), ("b", B_TXT))
    ref = C.jacobian([WIDE_A, WIDE_B]).derivative[0]
    code, out, err = run(capsys, monkeypatch, "vjp", a, b, "--vector", "2", "-f", "json")
    assert code == 0, err
    np.testing.assert_allclose(json.loads(out)["vjp"], 2 * ref[0], rtol=1e-14)
    code, out, err = run(capsys, monkeypatch, "jvp", a, b, "--vector", "y=1", "-f", "json")
    assert code == 0, err
    np.testing.assert_allclose(json.loads(out)["jvp"], ref[:, 1], rtol=1e-14)
    code, out, err = run(capsys, monkeypatch, "jacobian", a, b, "--symbolic", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["inputs"] == ["x", "y"] and len(doc["jacobian"][0]) == 2
    assert "cos(x)" in doc["jacobian"][0][0]
    code, out, err = run(capsys, monkeypatch, "jacobian", a, b, "--outputs", "u1,f", "--sparsity",
                         "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["outputs"] == ["u1", "f"] and doc["sparsity"]["source"] == "structural"


# ---------------------------------------------------------------------------- the network sample

def _weights():
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    d1 = tomllib.loads(Path(L1).read_text())
    d2 = tomllib.loads(Path(L2).read_text())
    x = np.array([d1["inputs"][f"x{i}"]["value"] for i in range(1, 5)])
    p1, p2 = d1["parameters"], d2["parameters"]
    W1 = np.array([[p1[f"W1_{j}{i}"] for i in range(1, 5)] for j in range(1, 5)])
    b1 = np.array([p1[f"b1_{j}"] for j in range(1, 5)])
    W2 = np.array([[p2[f"W2_{k}{j}"] for j in range(1, 5)] for k in range(1, 4)])
    b2 = np.array([p2[f"b2_{k}"] for k in range(1, 4)])
    t = np.array([p2[f"t{k}"] for k in range(1, 4)])
    return x, W1, b1, W2, b2, t


WEIGHTS = ([f"W1_{j}{i}" for j in range(1, 5) for i in range(1, 5)] + [f"b1_{j}" for j in range(1, 5)]
           + [f"W2_{k}{j}" for k in range(1, 4) for j in range(1, 5)] + [f"b2_{k}" for k in range(1, 4)])
INPUTS = ["x1", "x2", "x3", "x4"]


@pytest.fixture(scope="module")
def network():
    comp = jacli.compose([L1, L2])
    r = C.jacobian(comp, wrt=INPUTS + WEIGHTS)
    g = C.vjp(comp, None, [1.0], wrt=INPUTS + WEIGHTS)
    return comp, r, g


def test_network_gradient_equals_single_model(network):
    comp, r, g = network
    assert r.ok and r.derivative.shape == (1, 1, 39) and r.extra["chain"]["order"] == "J2·J1"
    ref = jacli.jacobian(C.to_model(comp), wrt=INPUTS + WEIGHTS, backend="sympy")
    np.testing.assert_allclose(r.value, ref.value, rtol=1e-14)
    np.testing.assert_allclose(r.derivative, ref.derivative, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g.derivative[0], ref.derivative[0, 0], rtol=1e-12, atol=1e-15)


def test_network_gradient_equals_pytorch_autograd(network):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: cross-check skipped")
    _, r, _ = network
    x, W1, b1, W2, b2, t = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in _weights())
    z = W2 @ torch.tanh(W1 @ x + b1) + b2
    loss = -(t * torch.log_softmax(z, dim=0)).sum()
    loss.backward()
    grads = np.concatenate([x.grad.numpy(), W1.grad.numpy().ravel(), b1.grad.numpy(),
                            W2.grad.numpy().ravel(), b2.grad.numpy()])
    assert abs(loss.item() - r.value[0, 0]) < 1e-14
    np.testing.assert_allclose(r.derivative[0, 0], grads, rtol=1e-12, atol=1e-15)


def test_network_gradient_equals_jax_grad(network):
    jax = pytest.importorskip("jax", reason="JAX is not installed: cross-check skipped")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    _, r, _ = network
    x, W1, b1, W2, b2, t = (jnp.asarray(a, dtype=jnp.float64) for a in _weights())

    def loss(x, W1, b1, W2, b2):
        z = W2 @ jnp.tanh(W1 @ x + b1) + b2
        return -(t * jax.nn.log_softmax(z)).sum()

    grads = jax.grad(loss, argnums=(0, 1, 2, 3, 4))(x, W1, b1, W2, b2)
    flat = np.concatenate([np.asarray(gr).ravel() for gr in grads])
    np.testing.assert_allclose(r.derivative[0, 0], flat, rtol=1e-12, atol=1e-15)


def test_network_cli_sample(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "jacobian", L1, L2, "--wrt", "x1,W1_11,b2_3", "--per-stage",
                         "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"] == "layer1 → layer2"
    assert [s["shape"] for s in doc["stages"]] == [[4, 2], [1, 5]]
    assert doc["stages"][1]["inputs"] == ["h1", "h2", "h3", "h4", "b2_3"]
    assert doc["value"] == pytest.approx([0.3073314508258178], rel=1e-14)
