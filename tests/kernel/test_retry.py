from riskops.kernel.retry import Backoff


def test_backoff_doubles_up_to_its_ceiling_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, jitter=False)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.failures == 6
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_jitter_stays_between_half_and_the_whole_ceiling() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0)
    for ceiling in (1.0, 2.0, 4.0, 8.0, 8.0):
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
