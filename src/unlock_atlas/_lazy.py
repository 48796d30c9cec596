"""Lazy package exports (PEP 562): a package's public names are imported on first use.

Every ``unlock-atlas`` command and every workflow job imports the CLI, which registers all
sub-commands; eager ``from .module import name`` lines in the packages' ``__init__`` made each
of those processes import the whole stack (scanpy, anndata, scipy.stats: ~2-3 s of CPU a job).
With lazy exports a job imports only what its command uses; ``from unlock_atlas.calling import
call_patient`` keeps working.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose ``exports`` map name -> relative module.

    Parameters
    ----------
    namespace
        The package's ``globals()``: a name is stored there once imported.
    exports
        Public name -> module relative to the package (``".caller"``).
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
