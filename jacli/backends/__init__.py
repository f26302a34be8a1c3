"""Backends: the protocol, the registry and the built-ins (loaded through entry points)."""
from ._protocol import Backend, Block, Capabilities, Option, Prep, make_prep
from ._registry import backend_class, backend_info, backend_names, get_backend, parse_spec

__all__ = ["Backend", "Block", "Capabilities", "Option", "Prep", "make_prep", "backend_class",
           "backend_info", "backend_names", "get_backend", "parse_spec"]
