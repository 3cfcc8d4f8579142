"""``python -m fuzz``: a fuzzing campaign against the promise of docs/security.md.

    python -m fuzz --minutes 60                 # an hour, every category, one process
    python -m fuzz --inputs 20000 --seed ci     # a fixed number of inputs
    python -m fuzz --replay SEED:CATEGORY:N     # run one case again and show what it did

Each case is judged in this process (an alarm stops a case after 30 s; the address space is
capped so that a memory blow-up is a MemoryError, not a swapping machine). Findings are written
to ``fuzz/findings/`` (one file per distinct signature, with the input and how to replay it);
progress and a summary go to stdout. Exit code 1 when anything was found.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fuzz import generators as gen  # noqa: E402
from fuzz.engine import Finding, run_case  # noqa: E402

#: Share of each category in a campaign (the CLI runs whole analyses, so it is rarer).
MIX = {"grammar": 30, "program": 10, "tokens": 20, "bytes": 20, "json": 17, "cli": 3}
MEMORY_CAP = 8 * 2**30


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, help="stop after this long")
    ap.add_argument("--inputs", type=int, help="stop after this many inputs")
    ap.add_argument("--seed", default=str(int(time.time())), help="campaign seed")
    ap.add_argument("--categories", default=",".join(gen.CATEGORIES))
    ap.add_argument("--findings", default=str(HERE / "findings"))
    ap.add_argument("--replay", metavar="SEED:CATEGORY:N", help="run one case and print it")
    opts = ap.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    work = Path(tempfile.mkdtemp(prefix="topodsl-fuzz-"))
    shutil.copytree(gen.REPO / "topologies" / "parts", work / "parts")
    try:
        if opts.replay:
            return _replay(opts.replay, work)
        return _campaign(opts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _replay(case: str, work: Path) -> int:
    seed, category, n = case.rsplit(":", 2)
    finding = run_case(category, seed, int(n), work)
    if finding is None:
        print(f"{case}: no finding")
        return 0
    print(_describe(finding))
    return 1


def _campaign(opts, work: Path) -> int:
    categories = [c for c in opts.categories.split(",") if c]
    weights = [MIX[c] for c in categories]
    order = [c for c, w in zip(categories, weights, strict=True) for _ in range(w)]
    findings_dir = Path(opts.findings)
    seen: dict[str, int] = {}
    counts: Counter[str] = Counter()
    slowest: dict[str, tuple[float, str]] = {}
    start = last = time.monotonic()
    deadline = start + opts.minutes * 60 if opts.minutes else None
    n = 0
    print(f"fuzz campaign seed={opts.seed} categories={','.join(categories)}", flush=True)
    while (opts.inputs is None or n < opts.inputs) and (
        deadline is None or time.monotonic() < deadline
    ):
        category = order[n % len(order)]
        t0 = time.monotonic()
        finding = run_case(category, opts.seed, n, work)
        took = time.monotonic() - t0
        counts[category] += 1
        if took > slowest.get(category, (0.0, ""))[0]:
            slowest[category] = (took, f"{opts.seed}:{category}:{n}")
        if finding is not None:
            seen[finding.signature] = seen.get(finding.signature, 0) + 1
            if seen[finding.signature] == 1:
                _save(findings_dir, finding)
                print(f"FINDING {finding.signature} ({finding.case})", flush=True)
        n += 1
        now = time.monotonic()
        if now - last >= 60:
            last = now
            print(f"{n:,} inputs, {n / (now - start):.0f}/s, {len(seen)} findings", flush=True)
    elapsed = time.monotonic() - start
    summary = {
        "seed": opts.seed,
        "inputs": n,
        "seconds": round(elapsed, 1),
        "rate_per_s": round(n / elapsed, 1) if elapsed else None,
        "per_category": dict(counts),
        "slowest": {c: {"seconds": round(t, 3), "case": k} for c, (t, k) in slowest.items()},
        "findings": seen,
    }
    print(json.dumps(summary, indent=1), flush=True)
    findings_dir.mkdir(parents=True, exist_ok=True)
    (findings_dir / f"summary-{opts.seed}.json").write_text(json.dumps(summary, indent=1))
    return 1 if seen else 0


def _describe(f: Finding) -> str:
    data = f.input if isinstance(f.input, str) else f.input.decode("utf-8", "backslashreplace")
    return (
        f"{f.kind}: {f.signature}\ncase {f.case} (replay: python -m fuzz --replay {f.case})\n"
        f"args: {' '.join(f.args)}\n--- input ---\n{data[:20000]}\n--- detail ---\n{f.detail}\n"
    )


def _save(folder: Path, f: Finding) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(ch if ch.isalnum() else "_" for ch in f.signature)[:100]
    (folder / f"{name}.txt").write_text(_describe(f), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
