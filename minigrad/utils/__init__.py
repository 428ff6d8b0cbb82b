"""Data utilities: ``minigrad.utils.data`` (DataLoader ...), ``transforms`` and ``datasets``."""

from . import data, transforms

__all__ = ["data", "transforms", "datasets"]


def __getattr__(name: str):  # ``minigrad.utils.datasets`` is imported on first use
    if name == "datasets":
        import importlib

        return importlib.import_module(".datasets", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
