"""An example jacli plug-in: the ``dual`` backend (forward-mode AD with dual numbers).

Registered through the entry-point group ``jacli.backends`` in this package's
``pyproject.toml``; jacli finds it there like its own backends.  Importing this package
imports nothing heavy.
"""
__version__ = "0.1.0"
