"""`python -m bench [--sizes 1000,10000,100000] [--json PATH]`: the store at council scale.

For each size, three fresh processes, so one size's memory peak never mixes with
another's: one builds the store (bench.fixture), one opens it as the bot does and
measures through the full handler, one measures plain TinyDB and the fsync floor on
the same documents. Prints a table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [
    ("updates", "size", "{:,}"),
    ("update p50 ms", "update_p50_ms", "{:.2f}"),
    ("update p99 ms", "update_p99_ms", "{:.2f}"),
    ("theme p99 ms", "status_theme_p99_ms", "{:.2f}"),
    ("overdue p99 ms", "overdue_p99_ms", "{:.2f}"),
    ("summary p99 ms", "summary_p99_ms", "{:.2f}"),
    ("digests s", "digests_all_s", "{:.2f}"),
    ("report docx s", "report_docx_s", "{:.2f}"),  # committee report (handlers/report)
    ("report html s", "report_html_s", "{:.2f}"),
    ("report pdf s", "report_pdf_s", "{:.2f}"),
    ("startup s", "startup_s", "{:.2f}"),
    ("peak RSS MB", "rss_mb", "{:.0f}"),
    ("store MB", "store_mb", "{:.1f}"),
    ("naive TinyDB insert p50 ms", "naive_tinydb_insert_p50_ms", "{:.1f}"),
    ("fsync append p50 ms", "fsync_append_p50_ms", "{:.3f}"),
]
KEYS = [
    "update_p50_ms", "update_p99_ms", "status_theme_p99_ms", "overdue_p99_ms",
    "summary_p99_ms", "digests_all_s", "report_docx_s", "report_html_s", "report_pdf_s",
    "startup_s", "rss_mb", "store_mb",
    "naive_tinydb_insert_p50_ms", "fsync_append_p50_ms",
]  # fmt: skip


def worker(role: str, directory: Path, size: int) -> dict[str, Any]:
    """Run one step in a fresh interpreter and return the JSON it prints."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bench", "--worker", role, "--dir", str(directory),
               "--size", str(size)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench {role} for {size:,} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_worker(role: str, directory: Path, size: int) -> None:
    if role == "build":
        from bench.fixture import build

        started = time.perf_counter()
        counts = build(directory, size)
        os.sync()  # measure a settled store, not one whose writeback competes with fsyncs
        print(json.dumps({"build_s": round(time.perf_counter() - started, 2), "counts": counts}))
    elif role == "bot":
        from bench.measure import measure_bot

        print(json.dumps(measure_bot(directory)))
    else:
        from bench.measure import measure_baselines

        print(json.dumps(measure_baselines(directory)))


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [[title for title, _, _ in COLUMNS]]
    for size, figures in results.items():
        row = []
        for _, key, fmt in COLUMNS:
            value = int(size) if key == "size" else figures.get(key)
            row.append("n/a" if value is None else fmt.format(value))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["language"]:  # `python -m bench language`: bench/language.py (issue 10)
        from bench.language import main as language

        return language(argv[1:])
    if argv[:1] == ["dashboard"]:  # `python -m bench dashboard`: bench/dashboard.py (issue 11)
        from bench.dashboard import main as dashboard_main

        return dashboard_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="updates per store")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--keep", type=Path, help="build the stores here and keep them")
    parser.add_argument("--worker", choices=("build", "bot", "baselines"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    # `python -m bench serve`: the HTTP endpoint end to end (bench/serve.py)
    parser.add_argument(
        "mode", nargs="?", choices=("store", "serve"), default="store",
        help="store (default): the store at scale; serve: Slack end to end",
    )  # fmt: skip
    parser.add_argument("--messages", type=int, default=300, help="serve: messages per phase")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        from bench.serve import run as run_serve

        base = args.keep or Path(tempfile.mkdtemp(prefix="strategy-bench-serve-"))
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
        try:
            figures = run_serve(sizes, args.messages, base)
        finally:
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    if args.worker:
        run_worker(args.worker, args.dir, args.size)
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    base = args.keep or Path(tempfile.mkdtemp(prefix="strategy-bench-"))
    results: dict[str, dict[str, Any]] = {}
    try:
        for size in sizes:
            directory = base / f"store-{size}"
            if directory.exists():
                shutil.rmtree(directory)
            print(f"{size:>7,} updates: building...", end="", flush=True, file=sys.stderr)
            built = worker("build", directory, size)
            print(f" {built['build_s']} s; measuring...", end="", flush=True, file=sys.stderr)
            figures = {**worker("bot", directory, size), **worker("baselines", directory, size)}
            print(" done", file=sys.stderr)
            results[str(size)] = {
                **{k: figures.get(k) for k in KEYS},
                "detail": {k: v for k, v in {**figures, **built}.items() if k not in KEYS},
            }
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(table(results))
    print(f"\n{platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}; update = "
          f"FrontDoor.handle of an update (text in, fsynced write, reply out).")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
