"""Start-up: whole-process wall time of a small `jacli jacobian` call.

Measures, as whole processes (fork/exec to exit, median of runs after one untimed run
that warms the OS file cache):

* ``python -c pass``, ``python -c "import numpy"``, ``python -c "import sympy"`` — the
  floor any Python CLI pays, for reference;
* ``python -c "import jacli"`` — importing the package;
* ``jacli jacobian samples/arm.toml`` cold — with ``--no-cache`` and a fresh, empty
  ``JACLI_CACHE_DIR`` for every run;
* ``jacli jacobian samples/arm.toml`` cached — the same command again with the cache
  that the previous run filled.

Also ``jacli --help`` (no model work at all).  jacli runs as ``python -m jacli``; the
``jacli`` console script, when installed, is measured as well (its wrapper adds the
entry-point lookup).

Usage::

    python benchmarks/bench_startup.py [--quick] [--repeats R] [--out FILE.md] [--model FILE]
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _harness as H  # noqa: E402

DEFAULT_MODEL = os.path.join(H.REPO, "samples", "arm.toml")


def run(args):
    repeats = args.repeats or (3 if args.quick else 10)
    py = sys.executable
    rows = {}
    quiet = []

    def measure(key, cmd, **kw):
        print(f"[startup] {key} ...", file=sys.stderr, flush=True)
        quiet.append(H.wait_quiet(args.max_busy, args.max_wait, key))
        try:
            t = H.time_process(cmd, repeats=repeats, warmup=1, timeout=120, **kw)
            rows[key] = {"status": "ok", **t.as_dict(), "cmd": shlex.join(cmd)}
        except H.BenchError as e:
            rows[key] = {"status": "error", "detail": str(e).strip().splitlines()[-1][:300],
                         "cmd": shlex.join(cmd)}

    measure("python -c pass", [py, "-c", "pass"])
    measure("import numpy", [py, "-c", "import numpy"])
    measure("import sympy", [py, "-c", "import sympy"])
    note = H.jacli_status()
    model = args.model or DEFAULT_MODEL
    if not note and not os.path.exists(model):
        note = f"model file {os.path.relpath(model, H.REPO)} does not exist"
    if not note:
        measure("import jacli", [py, "-c", "import jacli"])
        jac = [py, "-m", "jacli"]
        measure("jacli --help", [*jac, "--help"])
        cache = tempfile.mkdtemp(prefix="jacli-bench-cache-")
        env = {"JACLI_CACHE_DIR": cache}

        def empty_cache():
            shutil.rmtree(cache, ignore_errors=True)

        measure("cold (--no-cache)", [*jac, "jacobian", model, "--no-cache"], env=env, setup=empty_cache)
        measure("cold (empty cache dir)", [*jac, "jacobian", model], env=env, setup=empty_cache)
        # cached: the warm-up run fills the cache, the timed runs hit it
        measure("cached", [*jac, "jacobian", model], env=env)
        script = shutil.which("jacli", path=os.path.dirname(py))
        if script:
            measure("cached (console script)", [script, "jacobian", model], env=env)
        empty_cache()
    return {"repeats": repeats, "rows": rows, "jacli_note": note,
            "model": os.path.relpath(model, H.REPO), "quiet": quiet}


def report(raw):
    lines = ["## Start-up: a small `jacli jacobian` call", ""]
    lines.append(f"Load average (1/5/15 min) at the start: {raw.get('load_start', '?')}; "
                 f"at the end: {raw.get('load_end', '?')}. {H.quiet_summary(raw.get('quiet', []))}")
    lines.append("")
    lines.append(f"Whole-process wall time in seconds, median of {raw['repeats']} runs after one "
                 f"untimed run (min–max in brackets). Model: `{raw['model']}`. jacli runs as "
                 "`python -m jacli`.")
    lines.append("")
    rows = []
    for key, r in raw["rows"].items():
        if r["status"] == "ok":
            rows.append([key, H.fmt_s(r["median"]), f"{H.fmt_s(r['min'])}–{H.fmt_s(r['max'])}",
                         f"`{r['cmd'].replace(sys.executable, 'python').replace(H.REPO + os.sep, '')}`"])
        else:
            rows.append([key, "error", "", r["detail"]])
    lines.append(H.md_table(["what", "median s", "min–max", "command"], rows, align="lrrl"))
    lines.append("")
    if raw["jacli_note"]:
        lines.append(f"jacli not measured: {raw['jacli_note']}")
        lines.append("")
    return "\n".join(lines)


def targets(raw):
    r = raw["rows"]
    cold = r.get("cold (--no-cache)", {})
    warm = r.get("cached", {})
    ok_c, ok_w = cold.get("status") == "ok", warm.get("status") == "ok"
    return [
        H.target_line("start-up, cold (`--no-cache`) < 0.8 s", cold.get("median") if ok_c else None,
                      0.8, "max", best=cold.get("min") if ok_c else None),
        H.target_line("start-up, cached < 0.3 s", warm.get("median") if ok_w else None,
                      0.3, "max", best=warm.get("min") if ok_w else None),
    ]


def main(argv=None):
    ap = H.common_args(__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="model file (default samples/arm.toml)")
    args = H.parse_common(ap, argv)
    load_start = H.loadavg()
    raw = run(args)
    raw["load_start"], raw["load_end"] = load_start, H.loadavg()
    raw["targets"] = targets(raw)
    md = report(raw)
    print(md + "\n" + H.targets_markdown(raw["targets"]) + "\n")
    H.write_outputs(args, md, raw)   # run_all.py collects the targets of all benchmarks
    return 0


if __name__ == "__main__":
    sys.exit(main())
