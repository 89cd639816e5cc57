"""Test-only: moves this Python process's wall clock by XUNJIAN_TEST_CLOCK_SHIFT seconds.

scripts/test-far-clock puts this folder on PYTHONPATH, so pytest and every Python process the tests start
(collectors, agents, CLIs) read the same shifted wall clock, while monotonic time and the timeouts of
locks and sleeps stay real. libfaketime cannot do that for CPython 3.11: with a faked monotonic clock a
lock's timeout never expires (sem_clockwait is not intercepted), and without it time.sleep fails with
EINVAL (scripts/test-far-clock says more).
"""
import os

_shift = os.environ.get("XUNJIAN_TEST_CLOCK_SHIFT")
if _shift:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_shift), tick=True).start()
