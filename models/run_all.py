"""Run every model of the zoo: a smoke test (``--quick``) or the full default runs (``--check-targets``).

    python -m models.run_all --quick            # each model for a few seconds, into a temporary folder
    python -m models.run_all --check-targets    # the default configurations, into runs/<name>; minutes
    python -m models.run_all --quick --only mlp,cnn --keep runs/quick

A model is any module ``models/<name>.py`` that defines ``main(argv) -> dict`` (the final metrics).
``--quick`` checks that each one ran, wrote its files (metrics.csv, curves.png, the checkpoints,
summary.json and its pictures) and that its training loss went down. ``--check-targets`` also
checks each module's ``TARGET``: ``("test_acc", ">=", 0.97)``, or a list of such triples, and then
runs the module's other configurations with targets, ``EXTRA_TARGET_RUNS = {"label": (["--flag",
"value"], [triples])}``, each into runs/<name>-<label> (``--only name`` runs them all,
``--only name-label`` one of them). The exit status is non-zero when any check fails.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import operator
import pkgutil
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import read_metrics

NOT_MODELS = {"harness", "plots", "run_all"}
REQUIRED_FILES = ("metrics.csv", "curves.png", "last.ckpt", "final.ckpt", "summary.json")
OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass
class Result:
    name: str
    ok: bool = True
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.ok = False
        self.problems.append(why)


def discover() -> list[str]:
    """Names of the modules in models/ that look like models (not the harness, not private modules)."""
    package_dir = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(package_dir)])
                  if not m.name.startswith("_") and m.name not in NOT_MODELS)


def _as_triples(t: Any) -> list[tuple[str, str, float]]:
    if t is None:
        return []
    return [t] if isinstance(t[0], str) else list(t)


def _targets(module: Any) -> list[tuple[str, str, float]]:
    return _as_triples(getattr(module, "TARGET", None))


def extra_runs(name: str) -> dict[str, tuple[list[str], list[tuple[str, str, float]]]]:
    """``{label: (extra argv, targets)}`` of a model's non-default configurations (``EXTRA_TARGET_RUNS``)."""
    module = importlib.import_module(f"models.{name}")
    runs = getattr(module, "EXTRA_TARGET_RUNS", None) or {}
    return {label: (list(argv), _as_triples(t)) for label, (argv, t) in runs.items()}


def check_files(out: Path, res: Result) -> None:
    for f in REQUIRED_FILES:
        if not (out / f).is_file() or (out / f).stat().st_size == 0:
            res.fail(f"missing or empty {f}")
    summary = out / "summary.json"
    if summary.is_file():
        for f in json.loads(summary.read_text())["files"]:
            if not (out / f).is_file() or (out / f).stat().st_size == 0:
                res.fail(f"missing or empty {f}")


def check_loss_decreased(out: Path, res: Result, column: str = "train_loss") -> None:
    """The training loss of the last epoch must be below that of the first (needs >= 2 epochs).

    A model whose training loss need not fall (a GAN's discriminator loss rises from D's early win to
    the equilibrium) names the column that must instead, ``PROGRESS_METRIC = "classifier_fid"``."""
    if not (out / "metrics.csv").is_file():
        return
    rows = read_metrics(out / "metrics.csv")
    if len(rows) < 2:
        res.fail(f"only {len(rows)} epoch(s) in metrics.csv: cannot tell whether {column} decreased")
        return
    if column not in rows[0]:
        res.fail(f"metrics.csv has no {column} column")
        return
    first, last = rows[0][column], rows[-1][column]
    if not (math.isfinite(last) and last < first):
        res.fail(f"{column} did not decrease: {first:.4g} -> {last:.4g}")
    else:
        res.notes.append(f"{column} {first:.3g} -> {last:.3g}")


def check_targets(targets: list[tuple[str, str, float]], final: dict, res: Result) -> None:
    if not targets:
        res.notes.append("no TARGET")
    for key, op, value in targets:
        if key not in final:
            res.fail(f"target {key} {op} {value}: the run did not report {key}")
        elif not OPS[op](final[key], value):
            res.fail(f"target missed: {key} = {final[key]:.4g}, want {op} {value}")
        else:
            res.notes.append(f"{key} = {final[key]:.4g} ({op} {value} ok)")


def run_one(name: str, argv: list[str], out: Path, quick: bool, label: str | None = None) -> Result:
    """Run ``models.<name>`` (its ``EXTRA_TARGET_RUNS[label]`` configuration if label is given); check it."""
    res = Result(name if label is None else f"{name}-{label}")
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"models.{name}")
        if not callable(getattr(module, "main", None)):
            res.notes.append("no main(argv): skipped")
            return res
        targets = _targets(module)
        if label is not None:
            extra_argv, targets = extra_runs(name)[label]
            argv = [*argv, *extra_argv]
            res.notes.append(" ".join(extra_argv))
        final = module.main([*argv, "--out", str(out)])
        check_files(out, res)
        check_loss_decreased(out, res, getattr(module, "PROGRESS_METRIC", "train_loss"))
        if not quick:
            check_targets(targets, final or {}, res)
    except (Exception, SystemExit) as e:  # a crash of one model must not stop the others
        res.fail(f"{type(e).__name__}: {e}")
        traceback.print_exc()
    res.seconds = time.perf_counter() - t0
    return res


def run_models(names: list[str] | None = None, quick: bool = True, out_root: str | Path | None = None,
               device: str = "cpu") -> list[Result]:
    """Run each model (in this process) and check it; returns one ``Result`` per model."""
    names = names or discover()
    tmp = None
    if out_root is None:
        tmp = tempfile.mkdtemp(prefix="minigrad-zoo-") if quick else None
        out_root = tmp or "runs"
    results = []
    try:
        for name, label in _expand(names, quick):
            title = name if label is None else f"{name}-{label}"
            print(f"\n=== {title} {'(quick)' if quick else ''} ===", flush=True)
            argv = ["--device", device] + (["--quick"] if quick else [])
            results.append(run_one(name, argv, Path(out_root) / title, quick, label))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def _expand(names: list[str], quick: bool) -> list[tuple[str, str | None]]:
    """(model, extra-run label or None) pairs: ``--check-targets`` adds each model's extra configurations;
    a name ``model-label`` selects one of them."""
    known = set(discover())
    pairs: list[tuple[str, str | None]] = []
    for name in names:
        if name not in known and "-" in name and name.split("-", 1)[0] in known:
            model, label = name.split("-", 1)
            if label not in extra_runs(model):
                raise SystemExit(f"run_all: models.{model} has no EXTRA_TARGET_RUNS entry {label!r}")
            pairs.append((model, label))
            continue
        pairs.append((name, None))
        if not quick and name in known:
            pairs += [(name, label) for label in extra_runs(name)]
    return pairs


def print_summary(results: list[Result]) -> None:
    print("\n" + "=" * 78)
    for r in results:
        status = "ok  " if r.ok else "FAIL"
        print(f"{status} {r.name:<22} {r.seconds:7.1f}s  " + "; ".join(r.problems + r.notes))
    n_bad = sum(not r.ok for r in results)
    print("=" * 78)
    print(f"{len(results) - n_bad}/{len(results)} models passed" + (f", {n_bad} FAILED" if n_bad else ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.run_all", description=__doc__.split("\n")[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="a few seconds per model (smoke test)")
    mode.add_argument("--check-targets", action="store_true", help="default runs + accuracy targets")
    p.add_argument("--only", default=None, help="comma-separated model names (default: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--keep", default=None, help="write the outputs here (--quick uses a temporary folder)")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else None
    results = run_models(names, quick=args.quick, out_root=args.keep, device=args.device)
    print_summary(results)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
