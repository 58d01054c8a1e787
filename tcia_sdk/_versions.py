"""The generated API versions installed with this package, found by their descriptors.

The CLI, the demo and the fake server list versions from here, so a new spec needs no code.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from types import ModuleType

import tcia_sdk


def available_versions() -> list[str]:
    """Names of the generated subpackages (``v3``, ``nbia_v4``, ...), sorted."""
    names = []
    for module in pkgutil.iter_modules(tcia_sdk.__path__):
        generated = module.ispkg and not module.name.startswith("_")
        if generated and importlib.util.find_spec(f"tcia_sdk.{module.name}._endpoints") is not None:
            names.append(module.name)
    return sorted(names)


def load_version(name: str) -> ModuleType:
    """The generated package ``tcia_sdk.<name>`` (``Client``, ``AsyncClient``, ``ENDPOINTS``, ...)."""
    if name not in available_versions():
        raise ValueError(f"unknown API version {name!r}; available: {', '.join(available_versions())}")
    return importlib.import_module(f"tcia_sdk.{name}")
