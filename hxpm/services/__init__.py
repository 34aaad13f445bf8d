"""Use cases. Each takes a Store (and arguments), returns frozen result values, never prints."""
