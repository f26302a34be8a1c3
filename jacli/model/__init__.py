"""Models: the one representation (Model), the safe parser and the loaders."""
from ._model import Equation, Model, Position, Quantity


def load_model(source, **kwargs):
    """Load a model: a TOML file, ``-`` for stdin, or a Python function ``model.py:f``.

    TOML: see :func:`jacli.model._loader.load_model`.  ``model.py`` / ``model.py:f`` runs
    that file's code (it is the user's own) and wraps the function; see
    :func:`jacli.model._python.load_python_model` (``inputs`` may then be a count).
    """
    from ._python import is_python_spec

    if is_python_spec(source):
        from ._python import load_python_model

        return load_python_model(source, **kwargs)
    from ._loader import load_model as _load

    return _load(source, **kwargs)


def model_from_expressions(text, **kwargs):
    """An inline model from ``"x*y, sin(x)+y"``; see :func:`jacli.model._loader.model_from_expressions`."""
    from ._loader import model_from_expressions as _from

    return _from(text, **kwargs)


def model_from_toml(text, **kwargs):
    """A model from TOML text; see :func:`jacli.model._loader.model_from_toml`."""
    from ._loader import model_from_toml as _from

    return _from(text, **kwargs)


__all__ = ["Equation", "Model", "Position", "Quantity", "load_model", "model_from_expressions",
           "model_from_toml"]
