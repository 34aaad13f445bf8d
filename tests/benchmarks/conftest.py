# Benchmarks are scripts run by `make bench`, not tests: keep pytest from collecting them.
collect_ignore_glob = ["*.py"]
