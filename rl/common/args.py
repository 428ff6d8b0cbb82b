"""The command line of an algorithm file, from its hyper-parameter dataclass (CleanRL style).

    @dataclass
    class Args:
        env_id: str = "CartPole-v1"
        \"\"\"the gymnasium environment\"\"\"
        learning_rate: float = 2.5e-4
        ...

    args = parse_args(Args, argv)    # --env-id, --learning-rate, ... with the defaults shown by --help

Every field becomes a flag (underscores read as dashes); booleans become ``--flag/--no-flag``.
Help texts come from the ``help`` entry of a field's metadata. ``run_dir(args, algo)`` names the
run's folder: ``runs/<algo>_<env>_s<seed>`` unless ``--run-name`` says otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def parse_args(cls: type[T], argv: Sequence[str] | None = None, description: str | None = None,
               presets: dict[str, dict[str, Any]] | None = None) -> T:
    """Parse ``argv`` into an instance of the dataclass ``cls``.

    presets: tuned hyper-parameters per environment, ``{"Acrobot-v1": {"learning_rate": 6.3e-4}}``:
    the ``--env-id`` given picks its preset, whose values replace the dataclass defaults; flags given on
    the command line still win (the RL Zoo's per-environment settings, CleanRL's explicit flags).
    """
    parser = argparse.ArgumentParser(description=description)
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help_ = (f.metadata.get("help", "") + " (default: %(default)s)").strip()
        annotation = hints[f.name]
        kind = annotation if isinstance(annotation, type) else _type_from_annotation(annotation, default)
        if kind is bool:
            parser.add_argument(flag, default=default, help=help_, action=argparse.BooleanOptionalAction)
        elif kind in (list, tuple):
            inner = type(default[0]) if default else str
            parser.add_argument(flag, default=default, help=help_, type=inner, nargs="*")
        else:
            optional = "None" in str(annotation)       # "int | None": the word none reads as None
            parser.add_argument(flag, default=default, help=help_, type=_optional(kind) if optional else kind)
    if presets:
        for env_id, preset in presets.items():
            unknown = set(preset) - set(hints)
            if unknown:
                raise ValueError(f"parse_args: preset for {env_id} names unknown fields {sorted(unknown)}")
        defaults = {a.dest: a.default for a in parser._actions if a.dest != "help"}
        parser.set_defaults(**presets.get(defaults.get("env_id"), {}))   # what --help shows
        known, _ = parser.parse_known_args(argv)
        parser.set_defaults(**defaults)                                   # then the chosen env's preset only
        parser.set_defaults(**presets.get(getattr(known, "env_id", None), {}))
    return cls(**vars(parser.parse_args(argv)))


def _type_from_annotation(annotation: Any, default: Any) -> type:
    """``from __future__ import annotations`` leaves types as strings: read the common ones."""
    text = str(annotation).replace(" ", "")
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str), ("list", list),
                       ("tuple", tuple)):
        if text.startswith(name):
            return kind
    return type(default) if default is not None else str


def _optional(kind: type):
    def convert(text: str):
        return None if text.lower() == "none" else kind(text)
    convert.__name__ = kind.__name__
    return convert


def run_dir(args: Any, algo: str) -> Path:
    """runs/<run_name>, with run_name defaulting to <algo>_<env_id>_s<seed>."""
    name = getattr(args, "run_name", "") or f"{algo}_{args.env_id.replace('/', '-')}_s{args.seed}"
    return Path(getattr(args, "out_dir", "runs")) / name
