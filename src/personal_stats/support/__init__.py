"""What every process-wide layer leans on: the settings (read from `PERSONAL_STATS_*` once,
by the command line), the JSON log format and the Prometheus metrics. It imports nothing of
the service; everything above the core may import it."""
