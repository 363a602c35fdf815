"""Ceilometer side: PowerVM instance metrics from PCM for the stock ``ceilometer-polling`` agent.

``pcm`` reads the long-term monitor (one feed read per refresh), ``counters`` holds the pure counter
arithmetic, ``inspector`` answers ceilometer's inspector calls, ``pollsters`` and ``discovery`` are
the plugins registered under ``ceilometer.poll.compute`` / ``ceilometer.discover.compute``, and
``host_cpu`` gives nova's ``get_host_cpu_stats`` from the same data.
"""
