"""Generate the twin-lesion phantom sample data (`make sample`).

    python scripts/make_phantom.py --out sample_data --only-missing   # what `make sample` runs
    python scripts/make_phantom.py --out sample_data --case twin --force

Deterministic: reruns give identical files. See sample_data/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sample_data"), help="output folder (default sample_data)")
    parser.add_argument("--case", action="append", choices=["twin", "solitary"],
                        help="case to generate (repeatable; default both)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--only-missing", action="store_true", help="only make files that are absent")
    mode.add_argument("--force", action="store_true", help="rewrite every file")
    args = parser.parse_args(argv)

    from lesionview.phantom import CASES, missing_files, write_case

    cases = args.case or list(CASES)
    if args.only_missing and not any(missing_files(args.out, c) for c in cases):
        print(f"sample data complete in {args.out}")
        return 0
    for case in cases:
        start = time.perf_counter()
        try:
            written = write_case(case, args.out, only_missing=args.only_missing, force=args.force)
        except FileExistsError as exc:
            print(f"make_phantom: {exc}", file=sys.stderr)
            return 1
        print(f"{case}: wrote {len(written)} item(s) in {time.perf_counter() - start:.1f} s")
        for p in written:
            print(f"  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
