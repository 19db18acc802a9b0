"""Answer-level evaluation report: independent questions, real answers, facts from raw REST.

Usage::

    .venv/bin/python bench/nlu_answers.py                 # the table per split
    .venv/bin/python bench/nlu_answers.py --failures indep  # every wrong answer of a split

The held-out split is frozen: print its figures, never its failures, while tuning.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.nlu.answer_eval import SPLITS, evaluate, summarise


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the table (and failures of one split if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--failures", choices=SPLITS, help="print the wrong answers of a split")
    args = parser.parse_args(argv)
    outcomes = asyncio.run(evaluate())
    print(
        f"{'split':14} {'n':>4} {'scored':>6} {'correct':>8} {'wrong facts':>11} "
        f"{'declined ok':>12} {'wrongly declined':>16} {'other':>5} {'OOD/write w/ data':>17} "
        f"{'p95 ms':>7}"
    )
    for split in SPLITS:
        s = summarise(outcomes, split)
        print(
            f"{split:14} {s.n:>4} {s.scorable:>6} {s.correct_pct:>7.1f}% {s.wrong_facts:>11} "
            f"{s.declined_ok:>5}/{s.declines_expected:<6} {s.wrong_declines:>16} {s.other:>5} "
            f"{s.ood_with_data:>17} {s.p95_ms:>7.2f}"
        )
    print("goals: correct ≥ 95 % on every split; wrong facts 0; OOD/write with data 0; p95 ≤ 5 ms")
    if args.failures:
        for o in outcomes:
            if o.split == args.failures and o.score.outcome not in ("correct", "declined_ok"):
                print(
                    f"\n{o.item['id']} [{o.score.outcome}] {o.item['text']!r} "
                    f"(expect {o.item['expect']}, {o.item.get('query')})\n"
                    f"  facts: {o.item.get('facts')}\n  why: {o.score.reason}\n"
                    f"  intent={o.intent} answer: {o.answer[:300]!r}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
