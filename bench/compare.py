"""The main rows of the benchmark for an earlier commit and for the working tree, side by side
in one run: `python bench/compare.py REF [--sets S,L] [--targets summary,...] [--seconds 4]
[--rounds 2]` (targets an earlier commit does not answer are left out with `--targets`).

The commit's code is checked out into a temporary worktree and served from it (its `src/`
first on PYTHONPATH), with the same installed dependencies, the same data sets and the same
load as `bench/run.py`; the two servers take turns (the order flips every round) and each
figure is the median of the rounds, so that drift of the machine falls on both alike.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

import run as bench

ROOT = Path(__file__).parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ref", help="the earlier commit to compare with")
    parser.add_argument("--sets", default="S", help="data sets, comma-separated (default S)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seconds", type=int, default=4, help="load per row and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--targets", default=",".join(bench.TARGETS),
                        help="comma-separated rows of bench/run.py (default all)")  # fmt: skip
    options = parser.parse_args()
    bench.DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as worktree:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", worktree,
                        options.ref], check=True)  # fmt: skip
        try:
            versions = {options.ref: f"{worktree}/src", "now": str(ROOT / "src")}
            print(table(versions, options))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", worktree],
                           check=True)  # fmt: skip


def table(versions: dict[str, str], options: argparse.Namespace) -> str:
    rps: dict[tuple[str, str, str, str], list[float]] = {}
    p99: dict[tuple[str, str, str, str], list[float]] = {}
    rows = [(b, s) for b in options.backends.split(",") for s in options.sets.split(",")]
    for backend, name in rows:
        bench.build(backend, name)
        mentors = bench.SETS[name].mentors
        for round_ in range(options.rounds):
            order = list(versions.items())[:: -1 if round_ % 2 else 1]
            for label, source in order:
                os.environ["PYTHONPATH"] = source
                server = bench.serve(bench.database_url(backend, name), 8765)
                try:
                    for target in options.targets.split(","):
                        bench.load(8765, target, mentors, bench.WARM_UP, 32)
                        figures = bench.load(8765, target, mentors, options.seconds, 32)
                        key = (backend, name, target, label)
                        rps.setdefault(key, []).append(float(figures["rps"]))
                        p99.setdefault(key, []).append(float(figures["p99_ms"]))
                finally:
                    server.terminate()
                    server.wait()
    before, after = versions
    lines = [
        f"| engine | set | target | {before} req/s | now req/s | now/{before} "
        f"| {before} p99 ms | now p99 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for backend, name in rows:
        for target in options.targets.split(","):
            b, a = (statistics.median(rps[(backend, name, target, v)]) for v in (before, after))
            pb, pa = (statistics.median(p99[(backend, name, target, v)]) for v in (before, after))
            lines.append(f"| {backend} | {name} | {target} | {b:,.0f} | {a:,.0f} | {a / b:.2f} "
                         f"| {pb:.1f} | {pa:.1f} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
