"""`rag-gesture parity-report`: every golden entry's error, floor and ratio on this machine.

Anyone can see the margins of the parity rule (criterion.py) on their own CPU and torch:
one line per golden entry with its noise floor and, per compute path, the error and the
ratio error / floor (at the row where the entry comes closest to its bound), then the exact
comparisons and a verdict. Exit status 0 when every entry is within the rule.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch

from .. import machine
from .computations import PATHS, computations, evaluate, exact_checks
from .criterion import ABS_FLOOR, GOLDEN, LOCAL, EntryResult, K
from .fixtures import PARITY_ENV, default_parity_dir, load_fixture_set

COLUMNS = [(p, GOLDEN) for p in PATHS] + [(p, LOCAL) for p in PATHS if p != "official"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("parity-report", help="compare with the official code's golden tensors "
                       "on this machine: per entry error, noise floor and ratio")
    p.add_argument("--fixtures", help=f"golden fixture folder (default: ${PARITY_ENV} or "
                   "../shared/parity beside the repository)")
    p.add_argument("--only", action="append", default=[], metavar="PREFIX",
                   help="only computations whose name starts with PREFIX (e.g. vae, fwd, "
                   "e2e_ddim, ins); repeatable")
    p.add_argument("--paths", default=",".join(PATHS),
                   help=f"compute paths, comma-separated (default {','.join(PATHS)})")
    p.set_defaults(func=run)


def _fmt(x: float) -> str:
    return f"{x:9.2g}"


def _ratio(r: EntryResult) -> str:
    mark = "" if r.passed else "!"
    return f"{'inf' if math.isinf(r.ratio) else f'{r.ratio:.2f}':>6s}{mark}"


def format_table(results: list[EntryResult]) -> list[str]:
    """One line per entry: the floor, then error and ratio per path against the golden
    tensors; then the floor of the stored inputs and the fast paths against the official
    path on this machine."""
    by = {(r.name, r.path, r.against): r for r in results}
    golden = [p for p in PATHS if any((r.path, r.against) == (p, GOLDEN) for r in results)]
    local = [p for p in PATHS if any((r.path, r.against) == (p, LOCAL) for r in results)]
    names = list(dict.fromkeys(r.name for r in results))
    width = max(len(n) for n in names) + 1
    blank = f" {'':9s} {'':7s}"
    head = f"{'entry':{width}s} {'floor':>9s}" + "".join(f" | {p:>17s}" for p in golden)
    cell = f" | {'error':>9s} {'ratio':>7s}"
    sub = f"{'':{width}s} {'':9s}" + cell * len(golden)
    if local:
        head += " || " + f"{'floor':>9s}" + "".join(f" | {p + ' vs here':>17s}" for p in local)
        sub += " || " + f"{'inputs':>9s}" + cell * len(local)
    lines = [head, sub]
    for n in names:
        first = next(r for p in golden if (r := by.get((n, p, GOLDEN))) is not None)
        line = f"{n:{width}s} {_fmt(first.floor)}"
        for p in golden:
            r = by.get((n, p, GOLDEN))
            line += " |" + (f" {_fmt(r.error)} {_ratio(r)}" if r else blank)
        rows = [by.get((n, p, LOCAL)) for p in local]
        if any(rows):
            line += " || " + _fmt(next(r for r in rows if r).floor)
            line += "".join(" |" + (f" {_fmt(r.error)} {_ratio(r)}" if r else blank)
                            for r in rows)
        lines.append(line)
    return lines


def run(args: argparse.Namespace) -> int:
    paths = tuple(p.strip() for p in args.paths.split(",") if p.strip())
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        print(f"error: unknown path {unknown[0]!r}; choose from {', '.join(PATHS)}",
              file=sys.stderr)
        return 2
    try:
        fx = load_fixture_set(args.fixtures or default_parity_dir())
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"golden fixtures: {fx.folder}")
    print(f"  {fx.meta.get('produced_by', 'unknown origin')}")
    print(f"machine: {machine.describe()}")
    print(f"rule: error <= {K:g} * floor + {ABS_FLOOR:.2g}, row by row; floor = how far a "
          "one-ulp change of the computation's inputs moves the official arithmetic here; "
          "\"vs here\": the fast paths against the official path on this machine, floor of "
          "the stored inputs only (docs/fidelity.md)")
    t0 = time.perf_counter()
    results: list[EntryResult] = []
    for comp in computations(fx):
        if args.only and not comp.name.startswith(tuple(args.only)):
            continue
        results += evaluate(fx, comp, paths)
    if not results:
        print(f"error: no computation matches {args.only}", file=sys.stderr)
        return 2
    print("ratio = error / floor at the row closest to its bound; \"!\" marks an entry beyond "
          "the rule; blank: that path computes the entry the same way as the one before it")
    print()
    print("\n".join(format_table(results)))
    exact = exact_checks(fx)
    bad_exact = [e for e in exact if not e.passed]
    print()
    print(f"exact comparisons (schedules, respacing, masks, index maps): {len(exact)}, "
          + ("all equal" if not bad_exact else
             "DIFFERENT: " + ", ".join(f"{e.name} {e.detail}".strip() for e in bad_exact)))
    official = [r for r in results if r.path == "official" and r.against == GOLDEN]
    if official:
        equal = sum(r.max_error == 0 for r in official)
        print(f"official arithmetic bit-equal to the fixtures: {equal} of {len(official)} "
              "entries (all of them on the CPU kind and torch that made the fixtures)")
    failed = [r for r in results if not r.passed]
    worst = max(results, key=lambda r: r.error / r.bound)
    print(f"{len({r.name for r in results})} entries, {len(results)} comparisons in "
          f"{time.perf_counter() - t0:.0f} s; worst error / allowed "
          f"{worst.error / worst.bound:.2f} ({worst.name}, {worst.path} vs {worst.against})")
    for r in failed:
        print(f"BEYOND THE NOISE FLOOR: {r.describe()}")
    if failed or bad_exact:
        return 1
    print("all within the rule")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backend.parity.report")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(["parity-report", *(argv if argv is not None else sys.argv[1:])])
    torch.set_num_threads(1)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
