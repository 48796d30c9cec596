"""Unlock atlas: an atlas of treatment resistance from longitudinal tissue, ctDNA and scRNA."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_atlas"]


def load_atlas(path):  # noqa: D103 - documented in unlock_atlas.atlas.load
    from .atlas.load import load_atlas as _load

    return _load(path)


load_atlas.__doc__ = "Load an atlas directory (``results/`` or ``results/atlas/``); see :mod:`unlock_atlas.atlas.load`."
