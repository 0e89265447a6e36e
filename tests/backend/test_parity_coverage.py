"""Every tensor in the golden file is one the parity tests compare or use as an input.

Another fixture set in the same format may hold other entries; this fails loudly if it holds
one no check reads instead of silently skipping it.
"""

from __future__ import annotations

from backend.parity.computations import covered, exact_checks


def test_every_golden_entry_is_checked_or_used(parity):
    results = parity.all_results()
    assert sorted(set(parity.fx.golden) - covered(parity.fx, results)) == []
    compared = {r.name for r in results}
    assert len(compared) >= 80  # the shipped set compares 84 entries by the noise-floor rule


def test_exact_entries(parity):
    exact = exact_checks(parity.fx)
    assert [r.name for r in exact if not r.passed] == []
    assert {"ins/guidance_iters", "gre_encode/mask", "sched/respaced_timesteps_sorted"} <= {
        r.name for r in exact}
