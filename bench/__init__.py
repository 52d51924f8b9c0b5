"""``wangge bench``: the benchmark harness.

Each scenario runs its baselines in the same invocation so the result is a ratio, not a clock
reading on a noisy machine. Entry point: :func:`bench.cli.add_parser` / :func:`bench.runner.run`.
"""
