"""A cattrs Converter wired with the generated structure hooks of one API version's models."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .endpoint import ModelInfo
from .structure import unstructure

if TYPE_CHECKING:
    import cattrs


def make_converter(models: Iterable[ModelInfo]) -> cattrs.Converter:
    """cattrs structures these models with the generated fast functions and unstructures them
    back to wire dicts (unknown keys included), so ``structure(unstructure(x)) == x``.

    cattrs is imported here, on first use, to keep ``import tcia_sdk.<version>`` light.
    """
    import cattrs

    converter = cattrs.Converter()
    for info in models:
        converter.register_structure_hook(info.cls, _structure_hook(info))
        converter.register_unstructure_hook(info.cls, _unstructure_hook)
    return converter


def _structure_hook(info: ModelInfo) -> Callable[[Any, Any], Any]:
    fn = info.structure

    def hook(value: Any, _cls: Any) -> Any:
        return fn(value)

    return hook


def _unstructure_hook(obj: Any) -> dict[str, Any]:
    return unstructure(obj)
