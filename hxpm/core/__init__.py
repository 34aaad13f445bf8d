"""Pure values and parsers: names, versions, requirements, digests, manifests. No I/O state."""
