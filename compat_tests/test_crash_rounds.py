"""A few crash rounds: SIGKILL at random moments under an idempotent
acks=all producer; every acknowledged message survives exactly once, in
order (scripts/crash_rounds.py runs 20 or more for the figures)."""

from compat_tests.crash_rounds import run_rounds


def test_acknowledged_messages_survive_kills_exactly_once(tmp_path):
    result = run_rounds(tmp_path / "data", tmp_path / "kwire.log", rounds=4, seed=9, uptime_s=(0.2, 1.0))
    print(result.summary())
    assert result.rounds == 4
    assert result.acknowledged > 100
    assert (result.lost, result.duplicated, result.out_of_order, result.misplaced) == (0, 0, 0, 0), result.summary()
    assert result.fatal_errors == [], result.summary()
