"""Every tabular experiment in one command (``make train-tabular``), with the book's numbers beside ours.

    python -m rl.tabular                  # dynamic programming, MC vs TD prediction, TD control
    python -m rl.tabular --quick          # a few seconds: fewer runs and episodes (the tolerances
                                          # are the full run's, so some checks may fail)
    python -m rl.tabular --only control   # one module

Each module (``dp``, ``prediction``, ``control``) has ``run(out, quick, seed) -> dict`` and
``EXPECTED = {name: (book value, tolerance)}``. The figures go to ``--out`` (runs/tabular), the
numbers to its summary.json, and the table printed at the end says, for every expected number,
what we measured and whether it is within the tolerance. The exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from rl.common.logger import write_json

MODULES = ("dp", "prediction", "control")


def check_table(results: dict[str, dict[str, float]], expected: dict[str, dict[str, tuple[float, float]]]
                ) -> tuple[list[str], dict[str, bool]]:
    """Lines of a measured-vs-expected table, and pass/fail per 'module.name'."""
    lines = [f"{'check':<44} {'measured':>10} {'expected':>10} {'tol':>7}  ok"]
    passed = {}
    for mod, exp in expected.items():
        for name, (want, tol) in exp.items():
            got = results[mod].get(name)
            ok = got is not None and abs(got - want) <= tol
            passed[f"{mod}.{name}"] = ok
            shown = "missing" if got is None else f"{got:10.4g}"
            verdict = "yes" if ok else "NO"
            lines.append(f"{mod + '.' + name:<44} {shown:>10} {want:10.4g} {tol:7.3g}  {verdict}")
    return lines, passed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="runs/tabular")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a smoke run in seconds")
    p.add_argument("--only", default="", help=f"comma-separated subset of {','.join(MODULES)}")
    args = p.parse_args(argv)
    names = [m for m in (args.only.split(",") if args.only else MODULES) if m]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results, expected, seconds = {}, {}, {}
    for name in names:
        mod = importlib.import_module(f"rl.tabular.{name}")
        t0 = time.time()
        print(f"== rl.tabular.{name}", flush=True)
        results[name] = mod.run(out, quick=args.quick, seed=args.seed)
        seconds[name] = round(time.time() - t0, 1)
        expected[name] = getattr(mod, "EXPECTED", {})
    lines, passed = check_table(results, expected)
    print("\n".join(lines))
    write_json(out / "summary.json", {
        "config": vars(args), "seconds": seconds,
        "final": {f"{m}.{k}": v for m, r in results.items() for k, v in r.items()},
        "checks": passed, "files": sorted(p.name for p in out.glob("*.png"))})
    failed = [k for k, ok in passed.items() if not ok]
    print(f"{len(passed) - len(failed)}/{len(passed)} checks within tolerance; "
          f"figures and summary.json in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
