"""Benchmark driver: minigrad against PyTorch, each framework in its own process.

Usage::

    python -m benchmarks.run [--quick] [--device cpu|cuda] [--repeats N] [--only PATTERN]

The driver never imports minigrad or torch. For each group of cases it spawns
``python -m benchmarks.run --worker minigrad ...`` and then ``--worker torch ...``
(NumPy's and PyTorch's thread pools would fight in one process); a worker prints one
JSON line per case on stdout, prefixed with ``@@bench``. A case that cannot be built
(a module not written yet, an API mismatch) is reported as ``n/a (reason)``; a worker
that crashes loses only the case it was running (the driver restarts it on the rest).

Each case is timed as the median of ``--repeats`` runs (default 10 or more per case)
after ``--warmup`` untimed runs, waiting for the device before each timer stops. The
table goes to stdout and ``benchmarks/results/<device>-latest.md``; everything (every
run's time, machine and library info, output fingerprints) to ``<device>-latest.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

MARK = "@@bench "
ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
FRAMEWORKS = ("minigrad", "torch")
GROUP_ORDER = ("matmul", "overhead", "conv", "rnn", "train")
CHECK_RTOL = 1e-3
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# ----------------------------------------------------------------------------------------------
# Worker: runs inside the framework's own process


def _reason(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def time_step(step: Any, sync: Any, repeats: int, warmup: int, max_case_s: float,
              min_sample_s: float = 0.002) -> dict:
    """Time ``step()``: ``warmup`` untimed calls, then ``repeats`` samples (device synced before each stop).

    A sample averages ``number`` back-to-back calls, with ``number`` chosen so a sample lasts at least
    ``min_sample_s`` (only very fast steps get number > 1). If one call is so slow that ``repeats``
    samples would exceed ``max_case_s``, fewer samples are taken (at least 3); ``repeats`` in the
    result says how many were.
    """
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    step()
    sync()
    one = time.perf_counter() - t0
    number = 1 if one >= min_sample_s else min(1000, math.ceil(min_sample_s / max(one, 1e-7)))
    n = repeats
    if one * repeats > max_case_s:
        n = max(3, min(repeats, int(max_case_s / max(one, 1e-9))))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        for _ in range(number):
            step()
        sync()
        times.append((time.perf_counter() - t0) / number)
    ms = [t * 1e3 for t in times]
    q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0]] * 3
    return {
        "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms),
        "mean_ms": statistics.fmean(ms), "stdev_ms": statistics.stdev(ms) if len(ms) > 1 else 0.0,
        "q1_ms": q[0], "q3_ms": q[2], "repeats": n, "repeats_requested": repeats, "number": number,
        "warmup": warmup, "times_ms": ms,
    }


def run_case(fw: Any, case: Any, quick: bool, repeats: int, warmup: int, max_case_s: float) -> dict:
    from .cases import fingerprint

    if fw.name not in case.frameworks:
        return {"status": "n/a", "reason": f"{fw.name} has no implementation of this case"}
    gc.collect()
    t0 = time.perf_counter()
    try:
        bench = case.build(fw, quick)  # runs the step once (outputs for the check)
        fw.sync()
        setup_s = time.perf_counter() - t0
        check, dtypes = [], []
        for a in bench.check:
            if a is None:
                check.append(None)
                dtypes.append(None)
                continue
            arr = fw.numpy(a)
            check.append(fingerprint(arr))
            dtypes.append(str(arr.dtype))
        res = time_step(bench.step, fw.sync, repeats, warmup, max_case_s)
    except Exception as e:  # noqa: BLE001  (a missing module or API gap: report it, keep going)
        return {"status": "n/a", "reason": _reason(e), "traceback": traceback.format_exc(limit=6)}
    res.update(status="ok", setup_s=setup_s, check=check, dtypes=dtypes)
    return res


def worker_main(args: argparse.Namespace) -> int:
    from . import cases as C

    def emit(obj: dict) -> None:
        sys.stdout.write(MARK + json.dumps(obj, default=str) + "\n")
        sys.stdout.flush()

    ids = [c for c in args.cases.split(",") if c]
    try:
        fw = C.make_framework(args.worker, args.device)
        info = fw.info()
    except Exception as e:  # noqa: BLE001  (torch not installed, no GPU, ...)
        emit({"info": {"error": _reason(e)}})
        for cid in ids:
            emit({"case": cid, "result": {"status": "n/a", "reason": _reason(e)}})
        return 0
    emit({"info": info})
    for cid in ids:
        case = C.get_case(cid)
        repeats = args.repeats or (3 if args.quick else case.repeats)
        warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
        res = run_case(fw, case, args.quick, repeats, warmup, args.max_case_seconds)
        other = "torch" if args.worker == "minigrad" else "minigrad"
        res["other_framework_loaded"] = other in sys.modules
        if res["status"] == "ok":
            print(f"  [{args.worker}] {cid}: {res['median_ms']:.3f} ms (median of {res['repeats']})",
                  file=sys.stderr, flush=True)
        else:
            print(f"  [{args.worker}] {cid}: n/a ({res['reason']})", file=sys.stderr, flush=True)
        emit({"case": cid, "result": res})
    return 0


# ----------------------------------------------------------------------------------------------
# Driver


def _torch_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def select_cases(all_cases: list, only: str | None) -> list:
    """Cases matching one of the comma-separated ``only`` patterns.

    A pattern is a glob (``conv2d_*_fwd``), an exact case id, or else a substring of ids (``lstm``).
    """
    if not only:
        return list(all_cases)
    known = {c.id for c in all_cases}

    def match(cid: str, pat: str) -> bool:
        if any(ch in pat for ch in "*?["):
            return fnmatch.fnmatch(cid, pat)
        return cid == pat if pat in known else pat in cid

    pats = [p.strip() for p in only.split(",") if p.strip()]
    return [c for c in all_cases if any(match(c.id, p) for p in pats)]


def run_worker(fw: str, ids: list[str], args: argparse.Namespace) -> tuple[dict, dict[str, dict]]:
    """Run ``ids`` in worker processes for ``fw``; restart after a crash. Returns (info, results by id)."""
    info: dict = {}
    results: dict[str, dict] = {}
    todo = list(ids)
    while todo:
        cmd = [sys.executable, "-m", "benchmarks.run", "--worker", fw, "--device", args.device,
               "--cases", ",".join(todo), "--max-case-seconds", str(args.max_case_seconds)]
        if args.quick:
            cmd.append("--quick")
        if args.repeats:
            cmd += ["--repeats", str(args.repeats)]
        if args.warmup is not None:
            cmd += ["--warmup", str(args.warmup)]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        if args.threads:
            for var in THREAD_VARS:
                env[var] = str(args.threads)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        killed = threading.Event()

        def kill(p: subprocess.Popen = proc, ev: threading.Event = killed) -> None:
            ev.set()
            p.kill()

        timer = threading.Timer(args.worker_timeout, kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if not line.startswith(MARK):
                    sys.stderr.write(line)  # a library printing to stdout: pass it on
                    continue
                msg = json.loads(line[len(MARK):])
                if "info" in msg:
                    info = msg["info"]
                elif msg.get("case") in todo:
                    results[msg["case"]] = msg["result"]
                    todo.remove(msg["case"])
            rc = proc.wait()
        finally:
            timer.cancel()
        if todo:  # the worker died while running todo[0]
            why = f"timed out ({args.worker_timeout:g} s)" if killed.is_set() else f"exited with code {rc}"
            results[todo[0]] = {"status": "n/a", "reason": f"{fw} worker {why} during this case"}
            todo.pop(0)
    return info, results


def _machine_info() -> dict:
    info: dict[str, Any] = {
        "platform": platform.platform(), "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "processor": platform.processor(),
    }
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
        info["cpu_simd"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                            if f in flags]
    except OSError:
        pass
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    info["thread_env"] = {k: os.environ[k] for k in THREAD_VARS if k in os.environ}
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    return info


def _check_diff(a: list | None, b: list | None) -> float | None:
    """Largest fingerprint difference relative to the arrays' norms (None if not comparable)."""
    if not a or not b or len(a) != len(b):
        return None
    worst = 0.0
    for fa, fb in zip(a, b):
        if fa is None or fb is None:
            if fa is not fb:
                return math.inf
            continue
        scale = max(abs(fa[0]), abs(fb[0]), 1e-30)
        worst = max(worst, max(abs(x - y) for x, y in zip(fa, fb)) / scale)
    return worst


def summarize(case: Any, res: dict[str, dict], quick: bool, by_id: dict[str, dict]) -> dict:
    """One output row: times, ratio or speed-up, target verdict, throughput, output check."""
    mg, th = res.get("minigrad", {}), res.get("torch", {})
    row: dict[str, Any] = {"id": case.id, "title": case.title, "group": case.group, "results": res,
                           "target": None, "ratio": None, "speedup": None, "pass": None, "check": None}
    mg_ms = mg.get("median_ms") if mg.get("status") == "ok" else None
    th_ms = th.get("median_ms") if th.get("status") == "ok" else None
    if case.baseline:
        base = by_id.get(case.baseline, {}).get("results", {}).get("minigrad", {})
        if mg_ms and base.get("status") == "ok":
            row["speedup"] = mg_ms / base["median_ms"]
            row["check"] = _check_diff(mg.get("check"), base.get("check"))
        row["baseline"] = case.baseline
    elif mg_ms and th_ms:
        row["ratio"] = mg_ms / th_ms
        row["check"] = _check_diff(mg.get("check"), th.get("check"))
    if case.target is not None:
        row["target"] = {"kind": case.target.kind, "value": case.target.value,
                         "text": case.target.describe()}
        row["pass"] = case.target.evaluate(row["speedup"] if case.baseline else row["ratio"])
    if case.flops is not None:
        row["flops"] = case.flops(quick)
        row["gflops"] = {fw: row["flops"] / (r["median_ms"] * 1e6)
                         for fw, r in res.items() if r.get("status") == "ok"}
    if case.ops is not None:
        row["ops"] = case.ops(quick)
        row["us_per_op"] = {fw: r["median_ms"] * 1e3 / row["ops"]
                            for fw, r in res.items() if r.get("status") == "ok"}
    if case.per_second:
        row["steps_per_s"] = {fw: 1e3 / r["median_ms"] for fw, r in res.items() if r.get("status") == "ok"}
    dtypes = {d for r in res.values() for d in (r.get("dtypes") or []) if d and d.startswith("float")}
    row["dtypes"] = sorted(dtypes)
    return row


def _cell_time(r: dict | None, fw: str, case: Any) -> str:
    if fw not in case.frameworks:
        return "—"
    if not r:
        return "n/a (not run)"
    if r.get("status") != "ok":
        reason = r.get("reason", "?")
        return f"n/a ({reason[:90] + '…' if len(reason) > 90 else reason})".replace("|", "\\|")
    s = _num(r["median_ms"])
    if r["repeats"] < 10 and r["repeats"] < r["repeats_requested"]:
        s += f" (n={r['repeats']})"
    return s


def _num(v: float) -> str:
    """Three significant digits, no exponent for the usual range."""
    if v == 0 or not math.isfinite(v):
        return str(v)
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:.{digits}f}"


def _pair(d: dict | None, unit: str) -> str:
    if not d:
        return ""
    parts = [f"{'mg' if fw == 'minigrad' else fw} {_num(v)}" for fw, v in d.items()]
    return " / ".join(parts) + f" {unit}"


def to_markdown(report: dict) -> str:
    from .cases import get_case

    rows = report["cases"]
    m = report["machine"]
    lines = [
        f"# minigrad benchmarks — {report['device']}{' (quick)' if report['quick'] else ''}",
        "",
        f"{report['created']} · {m.get('cpu_model', m.get('processor', '?'))} · "
        f"{m.get('cpus_usable', m.get('cpu_count'))} CPUs usable · commit {str(m.get('git_commit'))[:10]}",
        "",
        "Median over timed runs after warm-up; each framework in its own process; float32. "
        "Ratio = minigrad time / torch time (lower is better for minigrad).",
        "",
        *_load_warning(m),
        "| case | minigrad ms | torch ms | minigrad/torch | target | result | check | throughput |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for row in rows:
        case = get_case(row["id"])
        res = row["results"]
        if row.get("baseline"):
            ratio = f"fused {row['speedup']:.2f}× faster" if row["speedup"] else "n/a"
        else:
            ratio = f"{row['ratio']:.2f}×" if row["ratio"] else "n/a"
        target = row["target"]["text"] if row["target"] else ""
        verdict = {True: "PASS", False: "FAIL", None: "n/a" if target else ""}[row["pass"]]
        chk = row["check"]
        check = "" if chk is None else ("✓" if chk <= CHECK_RTOL else f"≠ (rel {chk:.1e})")
        thr = []
        if row.get("gflops"):
            thr.append(_pair(row["gflops"], "GFLOP/s"))
        if row.get("steps_per_s"):
            thr.append(_pair(row["steps_per_s"], "steps/s"))
        if row.get("us_per_op"):
            thr.append(_pair(row["us_per_op"], "µs/op"))
        if row["dtypes"] and row["dtypes"] != ["float32"]:
            thr.append(f"dtype {','.join(row['dtypes'])}!")
        lines.append(f"| {row['title']} | {_cell_time(res.get('minigrad'), 'minigrad', case)} | "
                     f"{_cell_time(res.get('torch'), 'torch', case)} | {ratio} | {target} | {verdict} | "
                     f"{check} | {'; '.join(thr)} |")
    lines += ["", *_blas_summary(rows), *_info_summary(report)]
    return "\n".join(lines) + "\n"


def _load_warning(m: dict) -> list[str]:
    """A warning when other processes were using the CPUs (other than this benchmark itself)."""
    cpus = m.get("cpus_usable") or m.get("cpu_count") or 1
    load = max((m.get("loadavg_start") or (0,))[0], 0)
    if load <= 0.5 * cpus:
        return []
    return [f"**Warning: the machine was busy** (1-minute load average {load:.1f} on {cpus} CPUs at the "
            "start): multi-threaded timings, torch's most of all, are unreliable.", ""]


def _blas_summary(rows: list[dict]) -> list[str]:
    """How close conv gets to plain matmul on this machine (GFLOP/s)."""
    g = {r["id"]: r.get("gflops", {}) for r in rows}
    out = []
    ref = g.get("matmul_1024", {})
    for key in ("c1", "c32", "c3"):
        conv, gemm = g.get(f"conv2d_{key}_fwd", {}), g.get(f"matmul_conv_{key}", {})
        for fw in FRAMEWORKS:
            if fw not in conv:
                continue
            parts = [f"{_num(conv[fw])} GFLOP/s"]
            if fw in gemm:
                parts.append(f"{100 * conv[fw] / gemm[fw]:.0f}% of its own GEMM's ({_num(gemm[fw])})")
            if fw in ref:
                parts.append(f"{100 * conv[fw] / ref[fw]:.0f}% of matmul 1024³'s ({_num(ref[fw])})")
            out.append(f"- conv2d {key} fwd, {fw}: " + ", ".join(parts))
    if ref:
        out.insert(0, "- BLAS limit (float32 matmul 1024³): "
                   + ", ".join(f"{fw} {_num(v)} GFLOP/s" for fw, v in ref.items()))
    return (["## Conv vs the BLAS limit", "", *out, ""]) if out else []


def _info_summary(report: dict) -> list[str]:
    m, w = report["machine"], report.get("workers", {})
    out = ["## Machine", "",
           f"- {m.get('platform')}, Python {m.get('python')}, {m.get('cpu_count')} CPUs "
           f"({m.get('cpus_usable', '?')} usable), SIMD {', '.join(m.get('cpu_simd', []))}",
           f"- load average at start {m.get('loadavg_start')}, at end {m.get('loadavg_end')}"]
    mg = w.get("minigrad", {})
    if mg:
        blas = mg.get("numpy_blas") or {}
        blas_s = (f"{blas.get('name')} {blas.get('version')}" if isinstance(blas, dict) else str(blas))
        out.append(f"- minigrad {mg.get('minigrad', '?')}: NumPy {mg.get('numpy', '?')} with {blas_s}"
                   + (f"; CuPy {mg['cupy']} on {mg.get('gpu')}" if mg.get("cupy") else "")
                   + (f" ({mg['error']})" if mg.get("error") else ""))
    th = w.get("torch", {})
    if th:
        out.append(f"- torch {th.get('torch', 'n/a')}, {th.get('num_threads', '?')} threads"
                   + (f", CUDA {th.get('cuda')} on {th.get('gpu')}" if th.get("gpu") else "")
                   + (f" ({th['error']})" if th.get("error") else ""))
    if m.get("thread_env"):
        out.append(f"- thread settings: {m['thread_env']}")
    if report["settings"].get("threads"):
        out.append(f"- --threads {report['settings']['threads']}: OMP/OPENBLAS/MKL_NUM_THREADS set")
    out.append(f"- total wall time {report['duration_s']:.0f} s")
    return out


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def driver_main(args: argparse.Namespace) -> int:
    from . import cases as C

    chosen = select_cases(C.CASES, args.only)
    if args.list:
        for c in chosen:
            print(f"{c.id:24s} {c.title}")
        return 0
    if not chosen:
        print(f"no benchmark case matches --only {args.only!r}; use --list", file=sys.stderr)
        return 2
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    for f in frameworks:
        if f not in FRAMEWORKS:
            print(f"unknown framework {f!r}; expected a subset of {FRAMEWORKS}", file=sys.stderr)
            return 2
    torch_ok = _torch_installed()
    load = _start_load(args.loaded)
    try:
        return _drive(args, chosen, frameworks, torch_ok, load)
    finally:
        for proc in load:
            proc.kill()
            proc.wait()


def _start_load(on: bool) -> list[subprocess.Popen]:
    """``--loaded``: one busy-looping process per usable core but one, like a laptop doing other work."""
    if not on:
        return []
    n = max(1, len(os.sched_getaffinity(0)) - 1) if hasattr(os, "sched_getaffinity") else 1
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    print(f"--loaded: {n} busy-looping process(es) beside the benchmark", file=sys.stderr, flush=True)
    time.sleep(1.0)  # let the scheduler see them
    return procs


def _drive(args: argparse.Namespace, chosen: list, frameworks: list[str], torch_ok: bool,
           load: list[subprocess.Popen]) -> int:
    start = time.time()
    machine = _machine_info()
    results: dict[str, dict[str, dict]] = {c.id: {} for c in chosen}
    workers: dict[str, dict] = {}
    groups = sorted({c.group for c in chosen}, key=lambda g: GROUP_ORDER.index(g) if g in GROUP_ORDER else 99)
    for group in groups:  # per group: minigrad then torch, so both see similar machine load
        for fw in FRAMEWORKS:
            ids = [c.id for c in chosen if c.group == group and fw in c.frameworks]
            if not ids:
                continue
            if fw not in frameworks:
                reason = "not requested (--frameworks)"
            elif fw == "torch" and not torch_ok:
                reason = "torch not installed"
            else:
                print(f"[{group}] {fw}: {len(ids)} case(s)", file=sys.stderr, flush=True)
                info, res = run_worker(fw, ids, args)
                workers.setdefault(fw, info)
                for cid, r in res.items():
                    results[cid][fw] = r
                continue
            workers.setdefault(fw, {"error": reason})
            for cid in ids:
                results[cid][fw] = {"status": "n/a", "reason": reason}
    try:
        machine["loadavg_end"] = os.getloadavg()
    except OSError:
        pass
    rows: list[dict] = []
    by_id: dict[str, dict] = {}
    for c in sorted(chosen, key=lambda c: c.baseline is not None):  # speed-up rows need their baseline
        by_id[c.id] = summarize(c, results[c.id], args.quick, by_id)
    rows = [by_id[c.id] for c in chosen]
    report = {
        "schema": 1, "device": args.device, "quick": args.quick,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": sys.argv[1:], "duration_s": time.time() - start, "machine": machine, "workers": workers,
        "settings": {"repeats": args.repeats, "warmup": args.warmup, "threads": args.threads,
                     "frameworks": frameworks, "background_load_processes": len(load),
                     "only": args.only, "check_rtol": CHECK_RTOL},
        "cases": rows,
    }
    md = to_markdown(report)
    if load:
        title, _, rest = md.partition("\n")
        md = (f"{title} (loaded machine)\n\n**Loaded:** {len(load)} busy-looping process(es) ran beside "
              "every worker (one per usable core but one), as on a laptop doing other work.\n" + rest)
    out_dir = Path(args.out_dir) if args.out_dir else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = (f"{args.device}{'-quick' if args.quick else ''}"
            f"{f'-t{args.threads}' if args.threads else ''}{'-loaded' if load else ''}-latest")
    # cpu-latest, cpu-quick-t1-latest, cpu-loaded-latest ...
    _write(out_dir / f"{stem}.json", json.dumps(report, indent=1, default=str) + "\n")
    _write(out_dir / f"{stem}.md", md)
    print(md)
    print(f"wrote {out_dir / stem}.md and .json", file=sys.stderr)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and 3 runs (smoke test)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per case (default: per case, ≥ 10)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs before timing (default 2, quick 1)")
    p.add_argument("--only", default=None, help="comma-separated case ids, globs or substrings")
    p.add_argument("--frameworks", default="minigrad,torch", help="which of minigrad,torch to run")
    p.add_argument("--out-dir", default=None, help="where to write <device>-latest.{md,json}")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--max-case-seconds", type=float, default=120.0,
                   help="cap on one case's timed runs (fewer runs, at least 3, for very slow steps)")
    p.add_argument("--threads", type=int, default=None,
                   help="set OMP/OPENBLAS/MKL_NUM_THREADS in both workers (default: the libraries' defaults)")
    p.add_argument("--worker-timeout", type=float, default=1800.0, help="kill a worker after this many s")
    p.add_argument("--loaded", action="store_true",
                   help="run beside one busy-looping process per core but one (<device>-loaded-latest)")
    p.add_argument("--worker", choices=FRAMEWORKS, default=None, help=argparse.SUPPRESS)
    p.add_argument("--cases", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    return driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
