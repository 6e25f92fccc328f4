"""Shadow mode serves the champion and counts how the challenger would have differed."""

from __future__ import annotations

from actors.experiments.shadow import ShadowTally, shadow_decision


def test_the_champion_is_served_and_the_challenger_only_logged() -> None:
    """Whatever the challenger picks, the served choice is the champion's."""
    decision = shadow_decision("gpt-4o", "llama-70b")
    assert decision.served == "gpt-4o" and decision.shadow == "llama-70b"
    assert not decision.agrees


def test_tally_counts_agreement_and_each_disagreement() -> None:
    """The tally knows the agreement rate and how often each disagreement happened."""
    tally = ShadowTally()
    assert tally.agreement_rate is None
    for champion, challenger in [("a", "a"), ("a", "b"), ("a", "b"), ("b", "b")]:
        tally.record(shadow_decision(champion, challenger))
    assert tally.compared == 4 and tally.agreed == 2
    assert tally.agreement_rate == 0.5
    assert tally.disagreements == {"a->b": 2}
