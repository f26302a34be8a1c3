import pytest


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    """Every test gets its own generated-code cache: none touches the user's ~/.cache."""
    monkeypatch.setenv("JACLI_CACHE_DIR", str(tmp_path / "cache"))
    from jacli import _cache
    _cache.disable(False)
