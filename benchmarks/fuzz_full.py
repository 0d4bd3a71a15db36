"""Run the whole fuzz corpus of issue 16 and print totals.

    python benchmarks/fuzz_full.py [--filter TEXT] [--work DIR] [--json FILE]

Each case corrupts one input (truncation, flipped bytes, impossible header or sidecar
values, symbolic-link loops, deep JSON, companions missing or pointing outside, outputs
over inputs, impossible options), runs ``workbench info|sync|coreg`` in-process and checks
the invariants (no traceback; one error line naming a file; nothing written after an
error; inputs unchanged; no NaN/inf as a result; impossible inputs refused). The CI runs
a seeded sample of the same corpus (``tests/fuzz``).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fuzz"))
sys.path.insert(0, str(REPO))

import corpus  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filter", default="", help="only cases whose id contains this text")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="write every outcome as JSON")
    args = ap.parse_args()
    cases = [c for c in corpus.all_cases() if args.filter in c.id]
    with tempfile.TemporaryDirectory(prefix="wb-fuzz-") as tmp:
        work = args.work or Path(tmp)
        base = corpus.build_base(work / "base")
        t0 = time.perf_counter()
        outcomes = []
        for i, case in enumerate(cases, 1):
            o = corpus.run_case(case, base, work / "case")
            outcomes.append(o)
            if not o.ok:
                print(f"FAIL {case.id}: {'; '.join(o.problems)}", flush=True)
            if i % 50 == 0:
                print(f"... {i}/{len(cases)} cases, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        wall = time.perf_counter() - t0
    by_cmd: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for case, o in zip(cases, outcomes):
        cmd = case.argv[0]
        by_cmd[cmd]["cases"] += 1
        by_cmd[cmd]["refused (exit != 0)"] += int(o.rc not in (0, None))
        by_cmd[cmd]["accepted (exit 0)"] += int(o.rc == 0)
        by_cmd[cmd]["invariant failures"] += int(not o.ok)
    kinds = collections.Counter(c.id.split("/")[0] for c in cases)
    failures = [o for o in outcomes if not o.ok]
    print(f"\nfuzz corpus: {len(cases)} cases over {len(kinds)} input kinds in {wall:.0f} s")
    for cmd, cnt in sorted(by_cmd.items()):
        print(f"  {cmd:6s} " + ", ".join(f"{k} {v}" for k, v in cnt.items()))
    print(f"invariant failures: {len(failures)}")
    if args.json is not None:
        args.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1, default=str))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
