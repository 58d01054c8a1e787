"""Benchmarks run by ``make bench`` (``python -m tests.benchmarks [NAME ...] [--quick]``).

The machine is shared and noisy, so every figure is a ratio to a baseline measured in the same run
(interleaved with it where the two can alternate), reported as the median with the min and max over
several repetitions. Servers run in processes of their own on 127.0.0.1, so they do not share the
client's GIL. No module here is named ``test_*``: pytest does not collect them.
"""
