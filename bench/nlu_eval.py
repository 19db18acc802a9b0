"""Evaluate the language engine on the request corpus and print the table (issue: understanding).

Per split (dev, held-out) and form (typed, Vosk-style, noisy Vosk-style): intent accuracy,
full-frame accuracy (intent, clarify and every slot right), clarify rate, out-of-domain recall
(out-of-domain requests answered `unknown`) and precision (answers `unknown` that were right),
latency p50/p95 per request on a warm engine, and the engine's build time from the snapshot.
Then the answer-level table (`bench/nlu_answers.py`): independently written questions,
answers checked against facts from raw REST — answers correct, wrong facts, declined
correctly, wrongly declined, p95 per split.

    .venv/bin/python bench/nlu_eval.py [--failures dev|heldout|all]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.nlu.evaluation import SPLITS, build_engine, failures, run_corpus, scores

GOALS = {"typed": 97.0, "vosk": 95.0, "noisy": 85.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", choices=["dev", "heldout", "all"], default=None)
    args = parser.parse_args()
    engine, build_s = build_engine()
    run_corpus(engine, ("dev",))  # warm-up pass: hassil compiles templates on first use
    outcomes = run_corpus(engine, SPLITS)
    table = scores(outcomes)
    print(f"engine build from snapshot: {build_s:.2f} s (goal ≤ 2 s)")
    header = (
        f"{'split':8} {'form':6} {'n':>4} {'intent':>7} {'frame':>7} {'goal':>5} {'clarify':>8} "
        f"{'ood':>7} {'ood prec':>9} {'p50 ms':>7} {'p95 ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for split in SPLITS:
        for form in ("typed", "vosk", "noisy"):
            s = table.get((split, form))
            if s is None:
                continue
            ood = f"{s.ood_caught}/{s.ood}" if s.ood else "-"
            prec = (
                f"{100 * s.predicted_unknown_right / s.predicted_unknown:.0f} %"
                if s.predicted_unknown
                else "-"
            )
            print(
                f"{split:8} {form:6} {s.n:>4} {s.pct(s.intent):>6.1f}% {s.pct(s.frame):>6.1f}% "
                f"{GOALS[form]:>4.0f}% {s.pct(s.clarify):>7.1f}% {ood:>7} {prec:>9} "
                f"{s.latency(0.5):>7.2f} {s.latency(0.95):>7.2f}"
            )
    all_ms = sorted(o.seconds for o in outcomes)
    p95 = 1000 * all_ms[int(0.95 * len(all_ms))]
    print(f"all requests: n={len(outcomes)}, p95 {p95:.2f} ms (goal ≤ 5 ms)")
    ood_wrong = sum(
        1 for o in outcomes if o.item.intent == "unknown" and o.frame.intent != "unknown"
    )
    print(f"out-of-domain answered as something else: {ood_wrong} (goal 0)")
    if args.failures:
        chosen = None if args.failures == "all" else args.failures
        print("\n".join(failures(outcomes, chosen)))
    print("\nAnswers to independently written questions (facts from raw REST):")
    import nlu_answers

    nlu_answers.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
