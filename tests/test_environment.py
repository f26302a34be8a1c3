"""CI runs every optional backend: `.ci/run` sets JACLI_REQUIRE_BACKENDS, and a backend that
would be skipped there (not installed, not registered) fails this test instead."""
import os

import pytest

from jacli.backends import backend_names
from jacli.backends._registry import backend_class

REQUIRED = [n.strip() for n in os.environ.get("JACLI_REQUIRE_BACKENDS", "").split(",") if n.strip()]


@pytest.mark.skipif(not REQUIRED, reason="JACLI_REQUIRE_BACKENDS is not set (CI sets it)")
@pytest.mark.parametrize("name", REQUIRED or ["-"])
def test_required_backend_is_installed_and_available(name):
    assert name in backend_names(), f"backend {name!r} is not registered (entry point missing)"
    ok, why = backend_class(name).available()
    assert ok, f"backend {name!r} is required here but not available: {why}"
