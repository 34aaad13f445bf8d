"""Prometheus metrics of one server (its own registry: two apps in a process never mix)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class ServeMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "hxpm_requests",
            "HTTP requests answered, by path and status",
            ["path", "status"],
            registry=r,
        )
        self.tokens_in = Counter("hxpm_prompt_tokens", "Prompt tokens prefilled", registry=r)
        self.tokens_out = Counter("hxpm_generated_tokens", "Tokens generated", registry=r)
        self.ttft_seconds = Histogram(
            "hxpm_time_to_first_token_seconds",
            "From queueing to the first generated token",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.token_seconds = Histogram(
            "hxpm_time_per_output_token_seconds",
            "One decode step, as seen by each request in it",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "hxpm_batch_size",
            "Requests decoded in one forward pass",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.queue_depth = Gauge("hxpm_queue_depth", "Requests waiting to start", registry=r)
        self.loaded_experts = Gauge("hxpm_active_experts", "Experts in the active set", registry=r)
        self.set_switches = Counter(
            "hxpm_set_switches", "Changes of the active expert set", registry=r
        )
        self.merge_seconds = Histogram(
            "hxpm_set_switch_seconds",
            "Time to attach/merge a new active set",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.cancelled = Counter(
            "hxpm_cancelled_requests",
            "Generations stopped early (client gone or deadline passed)",
            registry=r,
        )
        self.ready = Gauge("hxpm_ready", "1 once the base model is loaded", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
