"""Model loaders: TOML files, stdin, inline expressions; every error located in the file."""
from __future__ import annotations

import io
import pathlib
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli.errors import ModelError, UsageError
from jacli.model import _expr as E
from jacli.model import _loader
from jacli.model import load_model, model_from_expressions, model_from_toml
from jacli.model._loader import _toml_positions

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "samples"

ARM = """\
# planar two-link arm
name = "arm"
description = "forward kinematics"

[inputs]
theta1 = { value = 0.5, sigma = 0.01, unit = "rad" }
theta2 = 0.3

[parameters]
L1 = 1.0
L2 = { value = 0.8, unit = "m" }

[definitions]
c1 = "cos(theta1)"
c12 = "cos(theta1 + theta2)"

[outputs]
x = "L1*c1 + L2*c12"
y = "L1*sin(theta1) + L2*sin(theta1 + theta2)"

[correlations]
"theta1, theta2" = 0.25
"""

t1, t2, L1, L2 = (E.symbol(n) for n in ("theta1", "theta2", "L1", "L2"))


def toml(text, **kw):
    return model_from_toml(text, source="m.toml", **kw)


def model_error(text, pattern):
    with pytest.raises(ModelError, match=pattern) as info:
        toml(text)
    return info.value


# ----------------------------------------------------------------------------- a whole model

def test_arm_model(tmp_path):
    path = tmp_path / "arm.toml"
    path.write_text(ARM)
    m = load_model(path)
    assert m.name == "arm" and m.description == "forward kinematics"
    assert m.source == str(path)
    assert m.input_names == ("theta1", "theta2") and m.nominal == (0.5, 0.3)
    assert (m.inputs[0].sigma, m.inputs[0].unit) == (0.01, "rad")
    assert m.param_values == {"L1": 1.0, "L2": 0.8} and m.parameters[1].unit == "m"
    assert [d.name for d in m.definitions] == ["c1", "c12"]
    c1, c12 = E.call("cos", t1), E.call("cos", E.add(t1, t2))
    assert m.definitions[0].expr is c1
    # Definitions are substituted into outputs, sharing the definition's node.
    assert m.outputs[0].expr is E.add(E.mul(L1, c1), E.mul(L2, c12))
    assert m.outputs[0].text == "L1*c1 + L2*c12"
    assert m.output_names == ("x", "y")
    assert m.correlations == {("theta1", "theta2"): 0.25}
    pos = m.inputs[1].pos
    assert (pos.file, pos.line, pos.col, pos.field) == (str(path), 7, 1, "inputs.theta2")
    assert (m.outputs[1].pos.line, m.outputs[1].pos.col) == (19, 1)


def test_name_defaults_to_the_file_stem_and_can_be_overridden(tmp_path):
    path = tmp_path / "pendulum.toml"
    path.write_text('[inputs]\nx = 1\n[outputs]\ny = "x"\n')
    assert load_model(path).name == "pendulum"
    assert load_model(str(path), name="other").name == "other"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_sample_loads(path):
    m = load_model(path)
    assert m.inputs and m.outputs


def test_params_override_and_errors():
    m = toml(ARM, params={"L1": 2})
    assert m.param_values["L1"] == 2.0
    with pytest.raises(UsageError, match=r"unknown parameter 'L3'; parameters are: L1, L2"):
        toml(ARM, params={"L3": 1})
    with pytest.raises(UsageError, match=r"--param L1: expected a number, got 'abc'"):
        toml(ARM, params={"L1": "abc"})
    with pytest.raises(UsageError, match=r"expected a finite number"):
        toml(ARM, params={"L1": float("nan")})


def test_inputs_argument_is_ignored_for_toml(tmp_path):
    path = tmp_path / "arm.toml"
    path.write_text(ARM)
    assert load_model(path, inputs=["theta2", "theta1"]).input_names == ("theta1", "theta2")


# ----------------------------------------------------------------------------- TOML forms

def test_subtables_dotted_keys_and_bounds_midpoint():
    m = toml('[inputs.x]\nbounds = [0, 2]\ndistribution = "uniform"\n[inputs]\ny.value = 3\n'
             '[outputs]\nf = "x*y"\n')
    assert m.input_names == ("x", "y") and m.nominal == (1.0, 3.0)
    assert (m.inputs[0].bounds, m.inputs[0].distribution) == ((0.0, 2.0), "uniform")


def test_input_with_every_field():
    m = toml('[inputs]\nT = {value = 300, sigma = 2, unit = "K", distribution = "lognormal", '
             'bounds = [250, 350]}\n[outputs]\nf = "T"\n')
    q = m.inputs[0]
    assert (q.value, q.sigma, q.unit, q.distribution, q.bounds) == (300.0, 2.0, "K", "lognormal",
                                                                      (250.0, 350.0))


def test_multiline_and_literal_strings_keep_exact_positions():
    text = '[inputs]\nx = 1\n[outputs]\ny = """\n  x +\n  sinn(x)"""\n'
    model_error(text, r"^m\.toml:6:3: outputs\.y: unknown function 'sinn' \(did you mean 'sin'\?\)$")
    model_error("[inputs]\nx = 1\n[outputs]\ny = 'x + sinn(x)'\n", r"^m\.toml:4:10: outputs\.y: unknown")
    model_error("[inputs]\nx = 1\n[outputs]\ny = '''x +\n sinn(x)'''\n", r"^m\.toml:5:2: outputs\.y: unk")


def test_crlf_line_ends_keep_exact_positions():
    text = '[inputs]\r\nx = 1\r\n[outputs]\r\nz = """\r\nx +\r\n  sinn(x)"""\r\n'
    model_error(text, r"^m\.toml:6:3: outputs\.z: unknown function 'sinn'")


def test_escaped_strings_fall_back_to_the_value_position():
    model_error('[inputs]\nx = 1\n[outputs]\ny = "x + \\u0073inn(x)"\n',
                r"^m\.toml:4:5: outputs\.y: unknown function 'sinn'")


def test_unicode_before_the_expression_counts_characters():
    model_error('[inputs]\nx = 1\n[outputs]\n"θ" = "x + sinn(x)"\n',
                r"^m\.toml:4:1: outputs\.θ: 'θ' is not a valid name")
    model_error('description = "ünïcode"\n[inputs]\nx = 1\n[outputs]\ny = "x + sinn(x)"  # ü\n',
                r"^m\.toml:5:10: outputs\.y: unknown function 'sinn'")


# ----------------------------------------------------------------------------- error messages

@pytest.mark.parametrize("text, pattern", [
    # the examples of the format documentation
    ('[inputs]\ntheta1 = "abc"\n[outputs]\ny = "theta1"\n',
     r'^m\.toml:2:10: inputs\.theta1: expected a number, got string "abc"$'),
    ('[inputs]\ntheta1 = "0.5"\n[outputs]\ny = "theta1"\n',
     r'^m\.toml:2:10: inputs\.theta1: expected a number, got string "0\.5" \(remove the quotes\)$'),
    ('[inputs]\nx = true\n[outputs]\ny = "x"\n', r"^m\.toml:2:5: inputs\.x: expected a number, got boolean true$"),
    ('[inputs]\nx = [1]\n[outputs]\ny = "x"\n', r"^m\.toml:2:5: inputs\.x: expected a number, got an array$"),
    ('[inputs]\nx = nan\n[outputs]\ny = "x"\n', r"^m\.toml:2:5: inputs\.x: expected a finite number, got nan$"),
    ('[inputs]\nx = 1\n[outputs]\ny = "sinn(x)"\n',
     r"^m\.toml:4:6: outputs\.y: unknown function 'sinn' \(did you mean 'sin'\?\)$"),
    ('[inputs]\ntheta1 = 1\n[outputs]\ny = "2 * thta1"\n',
     r"^m\.toml:4:10: outputs\.y: unknown name 'thta1' \(did you mean 'theta1'\?\)$"),
    ('[inputs]\nx = 1\n[outputs]\ny = "x +"\n', r"^m\.toml:4:9: outputs\.y: syntax error: invalid syntax$"),
    ('[inputs]\nx = 1\n[outputs]\ny = 3\n',
     r"^m\.toml:4:5: outputs\.y: expected an expression string, got integer 3$"),
    # TOML syntax
    ("x = = 1\n", r"^m\.toml:1:5: invalid TOML: invalid value$"),
    ('[inputs]\nx = 1\n[outputs]\ny = "x\n', r"^m\.toml:4:7: invalid TOML: illegal character"),
    ("a = " + "[" * 3000 + "]" * 3000, r"^m\.toml: invalid TOML: nested too deeply$"),
    # sections
    ('[inputs]\nx = 1\n[ouputs]\ny = "x"\n',
     r"^m\.toml:3:1: ouputs: unknown section \(did you mean 'outputs'\?\); a model has name, "),
    ('name = 3\n[inputs]\nx = 1\n[outputs]\ny = "x"\n', r"^m\.toml:1:8: name: expected a string, got integer 3$"),
    ('description = [1]\n[inputs]\nx = 1\n[outputs]\ny = "x"\n', r"^m\.toml:1:15: description: expected a string"),
    ('inputs = 3\n[outputs]\ny = "x"\n', r"^m\.toml:1:10: inputs: expected a table \[inputs\], got integer 3$"),
    ('[inputs]\nx = 1\n', r"^m\.toml: no \[outputs\] table: a model needs at least one output"),
    ('[inputs]\nx = 1\n[outputs]\n', r"^m\.toml:3:1: outputs: \[outputs\] is empty"),
    ('[outputs]\ny = "1"\n', r"^m\.toml: inputs: no inputs: a model needs at least one input"),
    ('[inputs]\n[outputs]\ny = "1"\n', r"^m\.toml:1:1: inputs: no inputs"),
    # names
    ('[inputs]\nx = 1\n"bad name" = 2\n[outputs]\ny = "x"\n',
     r"^m\.toml:3:1: inputs\.bad name: 'bad name' is not a valid name: use letters, digits and '_'"),
    ('[inputs]\n__x = 1\n[outputs]\ny = "__x"\n', r"^m\.toml:2:1: inputs\.__x: '__x' is not allowed: names may not"),
    ('[inputs]\npi = 1\n[outputs]\ny = "pi"\n', r"^m\.toml:2:1: inputs\.pi: 'pi' is the constant pi$"),
    ('[inputs]\nE = 1\n[outputs]\ny = "E"\n', r"^m\.toml:2:1: inputs\.E: 'E' is the constant e$"),
    ('[inputs]\nx = 1\n[outputs]\nsin = "x"\n', r"^m\.toml:4:1: outputs\.sin: 'sin' is a function name$"),
    ('[inputs]\nx = 1\n[parameters]\nlambda = 2\n[outputs]\ny = "x"\n',
     r"^m\.toml:4:1: parameters\.lambda: 'lambda' is a reserved word$"),
    ('[inputs]\nx = 1\n[parameters]\nx = 2\n[outputs]\ny = "x"\n',
     r"^m\.toml:4:1: parameters\.x: 'x' is already an input \(m\.toml:2:1\); a name can be used once"),
    ('[inputs]\nx = 1\n[outputs]\nx = "x"\n',
     r"^m\.toml:4:1: outputs\.x: 'x' is already an input \(m\.toml:2:1\)"),
    ('[inputs]\nx = 1\n[definitions]\nd = "x"\n[outputs]\nd = "x"\n',
     r"^m\.toml:6:1: outputs\.d: 'd' is already a definition \(m\.toml:4:1\)"),
    # inputs and parameters
    ('[inputs]\nx = {value = 1, sigm = 2}\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:17: inputs\.x\.sigm: unknown key 'sigm' \(did you mean 'sigma'\?\); allowed: value, sigma, "),
    ('[parameters]\na = {value = 1, bounds = [0, 2]}\n[inputs]\nx = 1\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:17: parameters\.a\.bounds: unknown key 'bounds'; allowed: value, unit, sigma$"),
    ('[inputs]\nx = {value = 1, sigma = 0}\n[outputs]\ny = "x"\n', r"^m\.toml:2:25: inputs\.x\.sigma: sigma must be > 0, got 0$"),
    ('[inputs.x]\nvalue = 1\nsigma = -1\n[outputs]\ny = "x"\n', r"^m\.toml:3:9: inputs\.x\.sigma: sigma must be > 0"),
    ('[inputs]\nx = {value = 1, unit = 3}\n[outputs]\ny = "x"\n', r"^m\.toml:2:24: inputs\.x\.unit: expected a string"),
    ('[inputs]\nx = {sigma = 1}\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:1: inputs\.x: missing 'value' \(or bounds = \[lo, hi\] to use their midpoint\)$"),
    ('[parameters]\na = {unit = "m"}\n[inputs]\nx = 1\n[outputs]\ny = "x"\n', r"^m\.toml:2:1: parameters\.a: missing 'value'$"),
    ('[inputs]\nx = {value = 1, distribution = "gaussian"}\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:32: inputs\.x\.distribution: unknown distribution 'gaussian'; known: normal, uniform, "),
    ('[inputs]\nx = {value = 1, distribution = "normall", sigma = 1}\n[outputs]\ny = "x"\n',
     r"unknown distribution 'normall' \(did you mean 'normal'\?\)"),
    ('[inputs]\nx = {value = 1, distribution = "normal"}\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:32: inputs\.x\.distribution: distribution 'normal' needs sigma$"),
    ('[inputs]\nx = {value = 1, distribution = "uniform"}\n[outputs]\ny = "x"\n',
     r"distribution 'uniform' needs bounds = \[lo, hi\]$"),
    ('[inputs]\nx = {value = -1, sigma = 1, distribution = "lognormal"}\n[outputs]\ny = "x"\n',
     r"distribution 'lognormal' needs value > 0, got -1$"),
    ('[inputs]\nx = {bounds = [2, 1]}\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:15: inputs\.x\.bounds: bounds must have lower < upper, got \[2, 1\]$"),
    ('[inputs]\nx = {value = 1, bounds = [0]}\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:26: inputs\.x\.bounds: expected \[lower, upper\], got an array of 1$"),
    ('[inputs]\nx = {value = 1, bounds = [0, "a"]}\n[outputs]\ny = "x"\n',
     r'^m\.toml:2:30: inputs\.x\.bounds: expected a number, got string "a"$'),
    ('[inputs]\nx = {value = 5, bounds = [0, 1]}\n[outputs]\ny = "x"\n',
     r"^m\.toml:2:14: inputs\.x\.value: value 5 is outside bounds \[0, 1\]$"),
    ('[inputs]\nx = 1e400\n[outputs]\ny = "x"\n', r"inputs\.x: expected a finite number, got inf"),
    # definitions
    ('[inputs]\nx = 1\n[definitions]\na = "b + 1"\nb = "a*x"\n[outputs]\ny = "a"\n',
     r"^m\.toml:4:6: definitions\.a: circular definition: a -> b -> a$"),
    ('[inputs]\nx = 1\n[definitions]\na = "x + b"\nb = "c"\nc = "2*a"\n[outputs]\ny = "a"\n',
     r"^m\.toml:4:10: definitions\.a: circular definition: a -> b -> c -> a$"),
    ('[inputs]\nx = 1\n[definitions]\na = "a + 1"\n[outputs]\ny = "a"\n',
     r"^m\.toml:4:6: definitions\.a: circular definition: 'a' refers to itself$"),
    ('[inputs]\nx = 1\n[definitions]\na = "x*b + 1"\nb = "x"\n[outputs]\ny = "a"\n',
     r"^m\.toml:4:8: definitions\.a: 'b' is used before its definition \(m\.toml:5:1\); definitions must "),
    ('[inputs]\nx = 1\n[definitions]\nd = "undefined_thing"\n[outputs]\ny = "x"\n',
     r"^m\.toml:4:6: definitions\.d: unknown name 'undefined_thing'$"),
    ('[inputs]\nx = 1\n[definitions]\nspeed = "x"\n[outputs]\ny = "2*sped"\n',
     r"^m\.toml:6:8: outputs\.y: unknown name 'sped' \(did you mean 'speed'\?\)$"),
    ('[inputs]\nx = 1\n[definitions]\nd = 2\n[outputs]\ny = "d"\n',
     r"^m\.toml:4:5: definitions\.d: expected an expression string, got integer 2$"),
    # outputs
    ('[inputs]\nx = 1\n[outputs]\ny = "x"\nz = "y*2"\n',
     r"^m\.toml:5:6: outputs\.z: 'y' is an output; an output cannot be used in an expression "
     r"\(move it to \[definitions\]\)$"),
    ('[inputs]\nx = 1\n[outputs]\ny = "x < 1"\n', r"^m\.toml:4:6: outputs\.y: a comparison .* can only be a condition"),
    # correlations
    ('[inputs]\nx = 1\n[outputs]\ny = "x"\n[correlations]\n"x,z" = 0.5\n',
     r"^m\.toml:6:1: correlations\.x,z: 'z' is not an input; correlations are between inputs$"),
    ('[inputs]\nx = 1\n[parameters]\np = 1\n[outputs]\ny = "x"\n[correlations]\n"x,p" = 0.5\n',
     r"^m\.toml:8:1: correlations\.x,p: 'p' is a parameter; correlations are between inputs$"),
    ('[inputs]\nx = 1\n[outputs]\ny = "x"\n[correlations]\n"x" = 0.5\n',
     r'^m\.toml:6:1: correlations\.x: a correlation key names two inputs, "a,b"; got "x"$'),
    ('[inputs]\nx = 1\n[outputs]\ny = "x"\n[correlations]\n"x,x" = 0.5\n',
     r"^m\.toml:6:1: correlations\.x,x: an input cannot be correlated with itself \('x'\)$"),
    ('[inputs]\nx = 1\ny = 2\n[outputs]\nf = "x"\n[correlations]\n"x,y" = 0.5\n"y, x" = 0.1\n',
     r"^m\.toml:8:1: correlations\.y, x: correlation of 'y' and 'x' is given twice$"),
    ('[inputs]\nx = 1\ny = 2\n[outputs]\nf = "x"\n[correlations]\n"x,y" = 1.5\n',
     r"^m\.toml:7:9: correlations\.x,y: a correlation must be between -1 and 1, got 1\.5$"),
    ('[inputs]\nx = 1\ny = 2\n[outputs]\nf = "x"\n[correlations]\n"x,y" = "high"\n',
     r'^m\.toml:7:9: correlations\.x,y: expected a number, got string "high"$'),
])
def test_model_errors_are_located(text, pattern):
    model_error(text, pattern)


def test_error_carries_structured_location():
    err = model_error('[inputs]\nx = 1\n[outputs]\ny = "sinn(x)"\n', "sinn")
    assert (err.file, err.line, err.col, err.field) == ("m.toml", 4, 6, "outputs.y")
    assert err.detail == "unknown function 'sinn' (did you mean 'sin'?)"


def test_model_size_limit(monkeypatch):
    monkeypatch.setattr(_loader, "MAX_MODEL_NODES", 10)
    model_error('[inputs]\nx = 1\n[outputs]\ny = "sin(x) + cos(x) + x^2 + x^3 + x^4 + x^5"\n',
                r"^m\.toml: model too large: \d+ expression nodes after substituting definitions "
                r"\(the limit is 10\)$")


# ----------------------------------------------------------------------------- files and stdin

def test_file_errors(tmp_path):
    with pytest.raises(ModelError, match=r"missing\.toml: cannot read model file: no such file$"):
        load_model(tmp_path / "missing.toml")
    with pytest.raises(ModelError, match=r"cannot read model file: it is a directory$"):
        load_model(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'[inputs]\nx = 1\n# caf\xe9\n')
    with pytest.raises(ModelError, match=r"bad\.toml:3:6: not UTF-8 text \(TOML files are UTF-8\)$"):
        load_model(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("\n  \n")
    with pytest.raises(ModelError, match=r"empty\.toml: empty model file: it needs \[inputs\] and \[outputs\]"):
        load_model(empty)
    py = tmp_path / "model.py"
    py.write_text("x = 1\n")
    # a .py file is a Python-function model (tests/test_python_models.py); this one has no function
    with pytest.raises(ModelError, match=r"model\.py: which function\? .* it defines no functions$"):
        load_model(py)
    with pytest.raises(UsageError, match=r"model source must be a path or '-', got int"):
        load_model(3)


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes('\ufeff[inputs]\nx = 1\n[outputs]\ny = "x"\n'.encode("utf-8"))
    assert load_model(path).output_names == ("y",)


def test_ten_megabyte_expression_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text('[inputs]\nx = 1\n[outputs]\ny = "' + "x+" * 5_000_000 + 'x"\n')
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match=r"big\.toml: model file too large \(10000033 bytes; the limit is"):
        load_model(path)
    assert time.perf_counter() - t0 < 2.0


def test_expression_length_limit_inside_a_file():
    text = '[inputs]\nx = 1\n[outputs]\ny = "' + "x+" * 60_000 + 'x"\n'
    model_error(text, r"^m\.toml:4:6: outputs\.y: expression too long \(120001 characters; the limit is 100000\)")


def test_hostile_expression_in_a_file_is_located():
    model_error('[inputs]\nx = 1\n[outputs]\ny = "__import__(\'os\').system(\'x\')"\n',
                r"^m\.toml:4:6: outputs\.y: only the built-in functions can be called")
    model_error('[inputs]\nx = 1\n[outputs]\ny = "x + 9**9**9**9"\n',
                r"^m\.toml:4:13: outputs\.y: exponent 387420489 too large to fold")


def stdin(monkeypatch, text):
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_stdin_toml(monkeypatch):
    stdin(monkeypatch, '[inputs]\nx = 2\n[outputs]\ny = "x^2"\n')
    m = load_model("-")
    assert (m.source, m.name, m.nominal, str(m.outputs[0].expr)) == ("<stdin>", "stdin", (2.0,), "x**2")


def test_stdin_inline_list(monkeypatch):
    stdin(monkeypatch, "r = hypot(x, y)\nt = atan2(y, x)\n")
    m = load_model("-")
    assert (m.source, m.input_names, m.output_names) == ("<stdin>", ("x", "y"), ("r", "t"))
    stdin(monkeypatch, "a*x, y")
    m = load_model("-", inputs=["y", "x"], params={"a": 2})
    assert (m.input_names, m.param_values) == (("y", "x"), {"a": 2.0})


def test_stdin_errors(monkeypatch):
    stdin(monkeypatch, "")
    with pytest.raises(ModelError, match=r"^<stdin>: empty model: nothing on stdin$"):
        load_model("-")
    stdin(monkeypatch, 'y = "x')
    with pytest.raises(ModelError, match=r"^<stdin>:1(:7)?: invalid TOML: unterminated string"):
        load_model("-")
    stdin(monkeypatch, "[inputs]\nx = \n")
    with pytest.raises(ModelError, match=r"^<stdin>:2:5: invalid TOML: invalid value"):
        load_model("-")
    stdin(monkeypatch, "x + sinn(y)\n")
    with pytest.raises(ModelError, match=r"^<stdin>:1:5: outputs\.f1: unknown function 'sinn'"):
        load_model("-")


# ----------------------------------------------------------------------------- inline models

def test_inline_outputs_and_inputs_in_order_of_appearance():
    m = model_from_expressions("x*y, sin(x)+z")
    assert (m.source, m.name) == ("<expr>", "expr")
    assert m.input_names == ("x", "y", "z") and m.output_names == ("f1", "f2")
    assert m.nominal == (0.0, 0.0, 0.0)
    assert m.outputs[1].text == "sin(x)+z"
    x, y = E.symbol("x"), E.symbol("y")
    assert m.outputs[0].expr is E.mul(x, y)


def test_inline_named_outputs_commas_inside_calls_and_newlines():
    m = model_from_expressions("r = hypot(x, y), t = atan2(y, x)")
    assert m.output_names == ("r", "t") and m.input_names == ("x", "y")
    m = model_from_expressions("a = x,\n  y + min(x,\n y, 2)\n\n")
    assert m.output_names == ("a", "f2")
    m = model_from_expressions(["x*y", "y, z"])
    assert m.output_names == ("f1", "f2", "f3") and m.input_names == ("x", "y", "z")
    assert model_from_expressions("x, y,").output_names == ("f1", "f2")   # trailing comma


def test_inline_comparison_operators_are_not_names():
    m = model_from_expressions("where(x <= 1, x, y), where(x != y, 1, 2)")
    assert m.output_names == ("f1", "f2")


def test_inline_explicit_inputs_and_params():
    m = model_from_expressions("a*x^2 + y", inputs=["y", "x"], params={"a": 3})
    assert m.input_names == ("y", "x") and m.param_values == {"a": 3.0}
    m = model_from_expressions("x", inputs=["x", "unused"])
    assert m.input_names == ("x", "unused")
    m = model_from_expressions("2*pi*r + e + E")
    assert m.input_names == ("r",)


@pytest.mark.parametrize("args, kw, exc, pattern", [
    ("x*y + z", {"inputs": ["y", "x"]}, ModelError, r"^<expr>:1:7: outputs\.f1: unknown name 'z'$"),
    ("theta1 + thta1", {"inputs": ["theta1"]}, ModelError,
     r"^<expr>:1:10: outputs\.f1: unknown name 'thta1' \(did you mean 'theta1'\?\)$"),
    ("x,, y", {}, ModelError, r"^<expr>:1:3: empty expression in the list \(two commas in a row"),
    (", x", {}, ModelError, r"^<expr>:1:1: empty expression in the list"),
    ("r = x, r = y", {}, ModelError, r"^<expr>:1:12: output name 'r' is used twice$"),
    ("f2 = x, y", {}, ModelError, r"^<expr>:1:9: output name 'f2' is used twice$"),
    ("x = x", {"inputs": ["x"]}, ModelError, r"^<expr>:1:5: output name 'x' is already an input$"),
    ("a = x", {"params": {"a": 1}}, ModelError, r"^<expr>:1:5: output name 'a' is already a parameter$"),
    ("2x = x", {}, ModelError, r"^<expr>:1:1: output name: '2x' is not a valid name"),
    ("sin = x", {}, ModelError, r"^<expr>:1:1: output name: 'sin' is a function name$"),
    ("r = ", {}, ModelError, r"^<expr>:1:5: empty expression after '='$"),
    ("x, sinn(y)", {}, ModelError, r"^<expr>:1:4: outputs\.f2: unknown function 'sinn' \(did you mean 'sin'\?\)$"),
    ("x,\n  y + sinn(y)", {}, ModelError, r"^<expr>:2:7: outputs\.f2: unknown function 'sinn'"),
    ("r = hypot(x, y), q = r*2", {}, ModelError,
     r"^<expr>:1:22: outputs\.q: 'r' is an output; an output cannot be used in another expression$"),
    ("x == 1", {}, ModelError, r"^<expr>:1:1: outputs\.f1: a comparison .* can only be a condition"),
    ("2*pi", {}, ModelError, r"^<expr>: the expressions use no variables: nothing to differentiate"),
    ("", {}, ModelError, r"^<expr>: no expressions given$"),
    ("x", {"params": {"a": "abc"}}, UsageError, r"^parameter 'a': expected a number, got 'abc'$"),
    ("x", {"params": {"2a": 1}}, UsageError, r"^parameter name: '2a' is not a valid name"),
    ("x", {"inputs": ["x", "x"]}, UsageError, r"^input 'x' is given twice$"),
    ("x", {"inputs": ["x"], "params": {"x": 1}}, UsageError, r"^'x' is given both as an input and as a parameter$"),
    ("x", {"inputs": ["pi"]}, UsageError, r"^input name: 'pi' is the constant pi$"),
    (["x", 3], {}, UsageError, r"^expressions must be strings, got int$"),
    ("__import__('os').system('ls')", {}, ModelError, r"^<expr>:1:1: outputs\.f1: only the built-in functions"),
    ("x + __class__", {}, ModelError, r"^<expr>:1:5: outputs\.f1: name '__class__' is not allowed$"),
])
def test_inline_errors(args, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        model_from_expressions(args, **kw)


# ----------------------------------------------------------------------------- the TOML locator

def test_toml_positions():
    text = ('# c\n[ inputs ]  # x\n"a.b" = {value = 1, bounds = [0, 2]}\n'
            "c = '''\nlit'''\n[outputs]\ny.z = \"\"\"\\\n  q\"\"\"\nw = [\n 1,\n \"s\",\n]\n")
    locs = _toml_positions(text)
    assert (locs[("inputs",)].key_line, locs[("inputs",)].key_col) == (2, 1)
    ab = locs[("inputs", "a.b")]
    assert (ab.key_line, ab.key_col, ab.val_line, ab.val_col) == (3, 1, 3, 9)
    assert (locs[("inputs", "a.b", "bounds", 1)].val_col) == 34
    c = locs[("inputs", "c")]
    assert (c.str_line, c.str_col, c.raw) == (5, 1, "lit")
    yz = locs[("outputs", "y", "z")]
    assert (yz.str_line, yz.str_col, yz.raw) == (7, 10, "\\\n  q")
    assert (locs[("outputs", "w", 1)].str_line, locs[("outputs", "w", 1)].raw) == (11, "s")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('[]{}="\'#.,=\n abxyz019+*()^')), max_size=80))
def test_random_toml_is_a_model_or_a_model_error(text):
    try:
        model_from_toml(text, source="r.toml")
    except ModelError:
        pass
    # the locator never raises, whatever the text
    _toml_positions(text)
