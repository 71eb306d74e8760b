"""The microbenchmark suite behind ``qkern bench`` (docs/bench.md).

Layout: ``machine`` (what the run happens on, thread pinning), ``timing`` (the timers),
``probes`` (the measured peaks every result is a fraction of), ``shapes`` (model layer
shapes), ``cases/`` (one module per op family: its cases and baselines), ``overhead``
(per-call host cost on tiny shapes), ``runner`` (runs it all into one result document),
``report`` (terminal table, JSON, plot) and ``cli`` (the command's arguments).

Importing this package needs neither matplotlib nor jsonschema (the plot imports matplotlib
only when asked for), and stays cheap because ``qkern.cli`` imports ``qkern.bench.cli`` for
every command: ``run`` and ``Config`` load the runner on first use.
"""
from __future__ import annotations

__all__ = ["Config", "run"]


def __getattr__(name):
    if name in __all__:
        from . import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'qkern.bench' has no attribute {name!r}")
