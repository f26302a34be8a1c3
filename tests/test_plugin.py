"""The plug-in path, end to end, with the example plug-in ``examples/jacli-plugin-example``.

It is installed next to jacli (``pip install -e examples/jacli-plugin-example``) and found
through its entry point like any third-party backend.  Here: discovery (library and
``jacli backends``), use from the command line, and the plug-in's own tests — its
``BackendConformance`` subclass and its rule-by-rule checks — run as part of jacli's tests.

Every test needs the example installed; without it each is skipped with the command that
installs it (the CI installs it, so there they run).
"""
import importlib.util
import json
import re
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

from helpers import run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "jacli-plugin-example"
ARM = str(ROOT / "samples" / "arm.toml")

INSTALLED = importlib.util.find_spec("jacli_plugin_example") is not None and \
    "dual" in {ep.name for ep in entry_points(group="jacli.backends")}
requires_plugin = pytest.mark.skipif(
    not INSTALLED, reason="the example plug-in is not installed: pip install -e examples/jacli-plugin-example")


def _example_tests(filename):
    """The example's own test module, imported under a name that cannot clash with ours."""
    path = EXAMPLE / "tests" / filename
    spec = importlib.util.spec_from_file_location(f"jacli_plugin_example_tests.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- discovery


@requires_plugin
def test_discovered_through_the_entry_point():
    from jacli.backends import backend_class, backend_names, get_backend
    from jacli.testing import is_builtin

    ep = {e.name: e for e in entry_points(group="jacli.backends")}["dual"]
    assert ep.value == "jacli_plugin_example.backend:DualNumbers"
    assert ep.dist.name == "jacli-plugin-example"          # registered by the plug-in's metadata
    assert "dual" in backend_names()
    assert backend_names().index("dual") > backend_names().index("complex")   # plug-ins after built-ins
    cls = backend_class("dual")
    assert cls.__module__ == "jacli_plugin_example.backend"
    assert not is_builtin("dual")
    assert cls.capabilities.exact and cls.capabilities.forward
    assert not (cls.capabilities.reverse or cls.capabilities.second_order)
    assert get_backend("dual").spec == "dual"


@requires_plugin
def test_backends_command_lists_the_plugin(capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "backends", "-f", "json")
    assert code == 0
    row = {r["name"]: r for r in json.loads(out)}["dual"]
    assert row["available"] and row["capabilities"]["exact"] and row["capabilities"]["forward"]
    assert "dual numbers" in row["description"]
    code, out, _ = run(capsys, monkeypatch, "backends")
    assert code == 0 and "dual" in out
    code, out, _ = run(capsys, monkeypatch, "backends", "-f", "markdown")
    line = next(ln for ln in out.splitlines() if ln.startswith("| `dual` |"))
    assert line.endswith("| — | yes |")


# ----------------------------------------------------------------------------- use


@requires_plugin
def test_jacobian_from_the_command_line(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "jacobian", ARM, "--at", "theta1=0.5", "--backend", "dual",
                         "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    t1, t2, l1, l2 = 0.5, 1.2, 1.0, 0.5        # hand-derived, as in test_cli
    ref = [[-l1 * np.sin(t1) - l2 * np.sin(t1 + t2), -l2 * np.sin(t1 + t2)],
           [l1 * np.cos(t1) + l2 * np.cos(t1 + t2), l2 * np.cos(t1 + t2)]]
    np.testing.assert_allclose(doc["jacobian"], ref, rtol=1e-14)
    assert doc["backend"] == "dual" and doc["exact"] is True and doc["error"] is None


@requires_plugin
def test_products_and_refusals_from_the_command_line(capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "vjp", ARM, "--vector", "1,0", "--backend", "dual", "-f", "json")
    assert code == 0, err
    doc = json.loads(out)
    t1, t2 = 0.3, 1.2
    np.testing.assert_allclose(doc["vjp"], [-np.sin(t1) - 0.5 * np.sin(t1 + t2), -0.5 * np.sin(t1 + t2)],
                               rtol=1e-14)
    assert "no reverse mode" in json.dumps(doc)          # the cost note of a vjp formed from J
    code, out, err = run(capsys, monkeypatch, "hessian", ARM, "--output-name", "x", "--backend", "dual")
    assert code == 4 and out == ""
    assert err.count("\n") == 1 and "first derivatives only" in err and "--backend sympy" in err


# ----------------------------------------------------------------------------- the plug-in's own tests


if INSTALLED:
    # The plug-in author's conformance class, exactly as written in the example, collected here.
    TestDualConformance = requires_plugin(_example_tests("test_dual_conformance.py").TestDual)
    _rules = _example_tests("test_dual_rules.py")
    test_dual_rule_matches_mpmath = _rules.test_rule_matches_mpmath
    test_dual_strong_zero = _rules.test_strong_zero
    test_dual_rules_test_can_fail = _rules.test_rules_test_can_fail
    test_dual_unknown_ufunc = _rules.test_unknown_ufunc_is_an_error_not_a_number
    test_dual_every_model_function_is_checked = _rules.test_every_model_function_is_checked
else:
    @requires_plugin
    def test_dual_conformance():
        """Placeholder: the example's conformance tests (skipped when it is not installed)."""


@requires_plugin
def test_example_checks_every_function_of_the_model_language():
    """A function added to the model language must get a rule (and a check) in the example."""
    from jacli.model._expr import FUNCTIONS

    rules = _example_tests("test_dual_rules.py")
    assert set(FUNCTIONS) == set(rules.MODEL_FUNCTIONS)


@requires_plugin
def test_example_private_imports_are_the_flagged_one():
    """The plug-in uses jacli's public API, except the one documented private import."""
    private = set()
    for path in (EXAMPLE / "jacli_plugin_example").glob("*.py"):
        private |= set(re.findall(r"from (jacli(?:\.\w+)*\._\w+)", path.read_text()))
        private |= set(re.findall(r"import (jacli(?:\.\w+)*\._\w+)", path.read_text()))
    assert private == {"jacli.model._numeric"}, private


@requires_plugin
@pytest.mark.parametrize("ufunc, sc", [(np.sin, "tall"), (np.tanh, "transcendental")])
def test_plugin_fails_the_suite_when_broken(monkeypatch, ufunc, sc):
    """The suite sees a bug in the plug-in: one derivative rule off by 1e-9 fails the Jacobian check."""
    from jacli_plugin_example import dual

    from jacli.testing import run_suite, scenario

    right = dual._RULES[ufunc]
    monkeypatch.setitem(dual._RULES, ufunc, lambda y, a: tuple(p * (1 + 1e-9) for p in right(y, a)))
    outcomes = run_suite("dual", [scenario(sc)], checks=["jacobian"])
    assert [o.result for o in outcomes] == ["failed"], [str(o) for o in outcomes]
