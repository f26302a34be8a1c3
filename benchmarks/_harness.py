"""Shared helpers for jacli's benchmarks: timing, subprocess wall time, machine info, tables.

Conventions used by every benchmark here:

* A measurement is the **median** of ``repeats`` runs (default 5; ``--quick`` uses fewer
  runs and smaller sizes for a smoke test).  The minimum and maximum are kept too, so a
  table can show the spread on a noisy, shared machine.
* Ratios are always taken between tools measured **in the same run** of a script, never
  against numbers from another day.
* Work that has one-time costs (SymPy's cache, JAX's compilation cache, jacli's on-disk
  cache) is measured in a **fresh process** per repeat (see :func:`run_worker`), so the
  "first time" numbers really are first-time numbers.

Nothing here imports jacli or any peer tool at module level: importing the harness is cheap
and works while some of them are missing.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, asdict
from typing import Any, Callable, Iterable, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

#: Peer packages whose versions are reported (import name -> display name).
PEERS = {
    "numpy": "numpy",
    "scipy": "scipy",
    "sympy": "SymPy",
    "symengine": "SymEngine",
    "casadi": "CasADi",
    "jax": "JAX",
    "jaxlib": "jaxlib",
    "numdifftools": "numdifftools",
}


# ----------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Times of one measurement, in seconds."""

    times: List[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def min(self) -> float:
        return min(self.times) if self.times else float("nan")

    @property
    def max(self) -> float:
        return max(self.times) if self.times else float("nan")

    def as_dict(self) -> dict:
        return {"median": self.median, "min": self.min, "max": self.max, "n": len(self.times),
                "times": self.times, "note": self.note}


def time_call(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1,
              number: int = 1, gc_collect: bool = True) -> Timing:
    """Median wall time of ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed runs.

    Each timed run calls ``fn`` ``number`` times and records the time per call.  The
    garbage collector is run before (not during) each timed run.
    """
    for _ in range(warmup):
        fn()
    t = Timing()
    for _ in range(repeats):
        if gc_collect:
            gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        t.times.append((time.perf_counter() - t0) / number)
    return t


def time_once(fn: Callable[[], Any]):
    """``(seconds, result)`` of one call."""
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


@dataclass
class ProcResult:
    seconds: float
    returncode: Optional[int]      # None = timed out
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_process(cmd: Sequence[str], env: Optional[dict] = None, timeout: Optional[float] = None,
                cwd: Optional[str] = None) -> ProcResult:
    """Run ``cmd`` once and return its wall time (fork/exec to exit) and output."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(list(cmd), env=full_env, cwd=cwd, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except subprocess.TimeoutExpired as e:
        dt = time.perf_counter() - t0
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return ProcResult(dt, None, out, err)
    return ProcResult(time.perf_counter() - t0, p.returncode, p.stdout, p.stderr)


def time_process(cmd: Sequence[str], repeats: int = 5, warmup: int = 1,
                 env: Optional[dict] = None, timeout: Optional[float] = None,
                 setup: Optional[Callable[[], None]] = None, cwd: Optional[str] = None) -> Timing:
    """Median whole-process wall time of ``cmd``.

    ``warmup`` untimed runs first (they warm the OS file cache, not the process).
    ``setup`` runs before every run, untimed (e.g. to empty a cache directory).
    A failing run raises :class:`BenchError` with its stderr.
    """
    t = Timing()
    for i in range(warmup + repeats):
        if setup is not None:
            setup()
        r = run_process(cmd, env=env, timeout=timeout, cwd=cwd)
        if not r.ok:
            what = "timed out" if r.returncode is None else f"exit {r.returncode}"
            raise BenchError(f"{' '.join(cmd)}: {what}\n{r.stderr[-2000:]}")
        if i >= warmup:
            t.times.append(r.seconds)
    return t


class BenchError(RuntimeError):
    """A benchmarked command failed."""


def run_worker(script: str, args: Sequence[str], timeout: Optional[float] = None,
               env: Optional[dict] = None) -> dict:
    """Run ``python script --worker ARGS...`` in a fresh process; return its JSON result.

    The worker prints one JSON object as its last stdout line.  The returned dict gets
    ``"wall"`` (whole-process wall time of the worker, measured here) added; on a timeout
    it is ``{"timeout": True, "wall": ...}``, on a failure ``{"error": "...", "wall": ...}``.
    """
    r = run_process([sys.executable, script, "--worker", *args], env=env, timeout=timeout)
    if r.returncode is None:
        return {"timeout": True, "wall": r.seconds}
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1],
                "stderr": r.stderr[-3000:], "wall": r.seconds}
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": "worker printed no result", "stderr": r.stderr[-3000:], "wall": r.seconds}
    out = json.loads(lines[-1])
    out["wall"] = r.seconds
    return out


def median_of(results: Iterable[dict], key: str) -> float:
    vals = [r[key] for r in results if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else float("nan")


# ----------------------------------------------------------------------------- environment


def cpu_busy(window: float = 2.0) -> Optional[float]:
    """Busy CPUs (0 .. number of cores) over ``window`` seconds, from /proc/stat; None elsewhere."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    try:
        t1, i1 = read()
        time.sleep(window)
        t2, i2 = read()
    except (OSError, ValueError, IndexError):
        return None
    total = t2 - t1
    if total <= 0:
        return None
    return (os.cpu_count() or 1) * (1.0 - (i2 - i1) / total)


def wait_quiet(max_busy: float, timeout: float, label: str = "") -> dict:
    """Wait until other processes use fewer than ``max_busy`` CPUs (2 s samples).

    Gives up after ``timeout`` seconds and measures anyway.  Returns what happened, for
    the report: ``{"waited": s, "busy": last sample, "quiet": bool}``.  ``max_busy <= 0``
    disables the wait.
    """
    if max_busy <= 0:
        return {"waited": 0.0, "busy": None, "quiet": None}
    timeout = max(0.0, min(timeout, WAIT_BUDGET[0] - WAIT_SPENT[0]))
    t0 = time.perf_counter()
    busy = cpu_busy()
    while busy is not None and busy > max_busy and time.perf_counter() - t0 < timeout:
        print(f"[wait] {label}: {busy:.1f} CPUs busy, waiting for < {max_busy}", file=sys.stderr,
              flush=True)
        time.sleep(8.0)
        busy = cpu_busy()
    waited = time.perf_counter() - t0
    WAIT_SPENT[0] += waited
    return {"waited": waited, "busy": busy,
            "quiet": None if busy is None else busy <= max_busy}


#: Total seconds one benchmark script may spend in :func:`wait_quiet` (``--wait-budget``).
WAIT_BUDGET = [900.0]
WAIT_SPENT = [0.0]


def quiet_summary(waits) -> str:
    """One sentence on how quiet the machine was before the measurements."""
    waits = [w for w in waits if w.get("quiet") is not None]
    if not waits:
        return ""
    noisy = sum(1 for w in waits if not w["quiet"])
    waited = sum(w["waited"] for w in waits)
    busy = [w["busy"] for w in waits if w["busy"] is not None]
    txt = (f"Before each of the {len(waits)} measurements the harness waited for other processes "
           f"to go quiet ({waited:.0f} s in all); ")
    if noisy:
        txt += (f"{noisy} started while other processes still used up to {max(busy):.1f} CPUs "
                "(gave up waiting).")
    else:
        txt += "all started on a quiet machine (later runs may still have been disturbed)."
    return txt


def loadavg() -> str:
    """'1-min 5-min 15-min' load average, or '?'."""
    try:
        la = os.getloadavg()
        return f"{la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"
    except (OSError, AttributeError):
        return "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas_info() -> str:
    try:
        import numpy as np
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        name = blas.get("name", "?")
        ver = blas.get("version", "")
        return f"{name} {ver}".strip()
    except Exception as e:  # pragma: no cover - depends on numpy build
        return f"unknown ({type(e).__name__})"


def _threadpool_info() -> str:
    try:
        from threadpoolctl import threadpool_info  # optional
        return "; ".join(f"{d.get('internal_api')} {d.get('version')} threads={d.get('num_threads')}"
                         f" arch={d.get('architecture')}" for d in threadpool_info())
    except Exception:
        return ""


def package_version(mod: str) -> Optional[str]:
    try:
        from importlib import metadata
        return metadata.version(mod)
    except Exception:
        try:
            return getattr(importlib.import_module(mod), "__version__", "?")
        except Exception:
            return None


def jacli_version() -> Optional[str]:
    v = package_version("jacli")
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        rev = ""
    if v is None:
        return None
    return f"{v} (git {rev})" if rev else v


def environment() -> dict:
    """Machine and software facts for the report."""
    info = {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "blas": _blas_info(),
        "threadpools": _threadpool_info(),
        "openblas_env": {k: v for k, v in os.environ.items()
                         if k.startswith(("OPENBLAS", "OMP_", "MKL_", "XLA_", "JAX_"))},
        "versions": {name: package_version(mod) for mod, name in PEERS.items()},
        "jacli": jacli_version(),
    }
    try:
        la = os.getloadavg()
        info["loadavg"] = f"{la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"
    except OSError:
        pass
    return info


def environment_markdown(info: dict) -> str:
    vers = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    missing = ", ".join(k for k, v in info["versions"].items() if not v)
    lines = [
        f"* Date: {info['date']}",
        f"* CPU: {info['cpu']} ({info['cores']} logical cores, {info['machine']}); {info['os']}",
        f"* Load average at start: {info.get('loadavg', '?')} (shared machine: numbers are medians)",
        f"* {info['python']}; BLAS: {info['blas']}",
        f"* Peers: {vers}" + (f" (not installed: {missing})" if missing else ""),
        f"* jacli: {info['jacli'] or 'not installed'}",
    ]
    if info.get("threadpools"):
        lines.append(f"* Thread pools: {info['threadpools']}")
    if info.get("openblas_env"):
        lines.append("* Environment: " + ", ".join(f"`{k}={v}`" for k, v in info["openblas_env"].items()))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- jacli


def jacli_command() -> Optional[List[str]]:
    """How to run the jacli CLI with this interpreter, or None if it does not work yet."""
    cmd = [sys.executable, "-m", "jacli"]
    r = run_process([*cmd, "--help"], timeout=60)
    return cmd if r.ok else None


def jacli_status() -> str:
    """'' if ``python -m jacli --help`` works, else a one-line reason."""
    r = run_process([sys.executable, "-m", "jacli", "--help"], timeout=60)
    if r.ok:
        return ""
    msg = (r.stderr.strip().splitlines() or ["exit %s" % r.returncode])[-1]
    return f"`python -m jacli --help` fails: {msg}"


# ----------------------------------------------------------------------------- output


def fmt_s(x: Optional[float], digits: int = 3) -> str:
    """Seconds with 3 significant digits; '—' for missing."""
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def fmt_rate(x: Optional[float]) -> str:
    if x is None or x != x:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_ratio(x: Optional[float]) -> str:
    if x is None or x != x:
        return "—"
    if x >= 100:
        return f"{x:.0f}×"
    return f"{x:.2g}×" if x < 10 else f"{x:.1f}×"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]],
             align: Optional[str] = None) -> str:
    """A GitHub markdown table. ``align``: one char per column, 'l' or 'r' (default: first l)."""
    headers = [str(h) for h in headers]
    rows = [[("" if c is None else str(c)) for c in r] for r in rows]
    if align is None:
        align = "l" + "r" * (len(headers) - 1)
    seps = [":---" if a == "l" else "---:" for a in align]
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join(seps) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def target_line(name: str, measured: Optional[float], limit: float, kind: str = "max",
                unit: str = "s", best: Optional[float] = None) -> dict:
    """A target check on the median ``measured``. ``kind='max'``: must be < limit; ``'min'``: ≥ limit.

    ``best`` (the best single run) is reported beside it: on a loaded machine the median can
    miss while the best run shows what the code does when it gets the CPU.
    """
    if measured is None or measured != measured:
        met, margin = None, ""
    elif kind == "max":
        met = measured < limit
        margin = (f"{limit / measured:.2g}× under" if met else f"{measured / limit:.2g}× over")
    else:
        met = measured >= limit
        margin = (f"{measured / limit:.2g}× the target" if met else f"{measured / limit:.2g}× of the target")
    return {"target": name, "measured": measured, "limit": limit, "kind": kind, "unit": unit,
            "met": met, "margin": margin, "best": best}


def targets_markdown(targets: Sequence[dict]) -> str:
    def show(t, m):
        if m is None or m != m:
            return "—"
        if t["unit"] == "s":
            return fmt_s(m) + " s"
        if t["unit"] == "x":
            return fmt_ratio(m)
        return fmt_rate(m) + " " + t["unit"]

    rows = []
    for t in targets:
        status = {True: "**met**", False: "**missed**", None: "not measured"}[t["met"]]
        best = t.get("best")
        btxt = show(t, best) if best is not None else ""
        if t["met"] is False and best is not None and best == best:
            ok = best < t["limit"] if t["kind"] == "max" else best >= t["limit"]
            if ok:
                btxt += " (meets it)"
        rows.append([t["target"], show(t, t["measured"]), status, t["margin"], btxt])
    return md_table(["target", "measured (median)", "status", "margin", "best run"], rows,
                    align="lllll")


def common_args(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: small sizes, few repeats (numbers are not meaningful)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 5)")
    p.add_argument("--out", default=None, help="write the markdown section to this file")
    p.add_argument("--json", default=None, help="write the raw results as JSON to this file")
    p.add_argument("--workdir", default=None,
                   help="where generated models go (default: a temporary directory)")
    p.add_argument("--max-busy", type=float, default=0.5,
                   help="before timing jacli and before each section, wait (up to --max-wait s) "
                        "until other processes use fewer than this many CPUs; 0 disables")
    p.add_argument("--max-wait", type=float, default=120.0, help="longest wait before one measurement")
    p.add_argument("--wait-budget", type=float, default=900.0,
                   help="longest total wait of this script; after it, measure without waiting")
    return p


def parse_common(ap, argv=None):
    """``ap.parse_args`` that also applies ``--wait-budget``."""
    args = ap.parse_args(argv)
    WAIT_BUDGET[0] = args.wait_budget
    return args


def write_outputs(args, markdown: str, raw: dict) -> None:
    if args.out:
        with open(args.out, "w") as f:
            f.write(markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1, default=str)


def to_jsonable(obj):
    if isinstance(obj, Timing):
        return obj.as_dict()
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return obj
