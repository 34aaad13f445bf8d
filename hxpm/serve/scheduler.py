"""The one thread that owns the model: a bounded queue, grouping by expert set, batched decode.

* Requests wait in a bounded queue (``submit`` raises QueueFullError past ``max_queue``).
* Requests fall into batch groups (``Session.batch_group``): every plain-LoRA set and the
  bare base share one group, whose rows each run their own set in the same forward pass
  (hxpm.runtime.multilora); a set that cannot (DoRA, IA³) is a group of its own, merged.
* The worker serves one group at a time: while requests of the active group wait (and no
  request of another group has waited longer than ``max_wait_s``), they join the running
  batch between decode steps (continuous batching); otherwise the batch drains, the oldest
  waiting request's group becomes active (a *set switch*, counted) and its requests join.
* Requests admitted together are prefilled in one forward pass; each step is one forward
  pass for every running request (hxpm.runtime.batch).
* A request whose client went away (``Job.cancel``) or whose deadline passed leaves the batch
  at the next step.

Results travel to the event loop as items on the job's asyncio queue:
``("text", str)``, then ``("done", Completion)`` or ``("error", HxpmError)``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hxpm.api import Completion, Session, Settings, completion_of
from hxpm.errors import HxpmError, InferenceError
from hxpm.serve.errors import DeadlineError, QueueFullError
from hxpm.serve.metrics import ServeMetrics
from hxpm.services.catalog import experts_label
from hxpm.services.run import Selection


@dataclass(eq=False)
class Job:
    conversation: Any  # str (raw completion) or list of messages
    selection: Selection
    settings: Settings
    raw: bool
    loop: asyncio.AbstractEventLoop
    deadline: float  # time.monotonic()
    events: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    enqueued: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    cancelled: bool = False
    group: tuple[str, ...] | None = None  # Session.batch_group, set by the worker

    def cancel(self) -> None:
        """Called from the event loop when the client disconnects: a flag the worker reads."""
        self.cancelled = True

    def emit(self, kind: str, value: Any) -> None:
        self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))


@dataclass(frozen=True, slots=True)
class Limits:
    max_queue: int = 64
    max_batch: int = 16
    max_wait_s: float = 2.0  # how long another set may wait before the batch stops growing


class Scheduler:
    """See the module docstring. ``start`` after the session is loaded; ``stop`` drains."""

    def __init__(self, session: Session, metrics: ServeMetrics, limits: Limits) -> None:
        self.session = session
        self.metrics = metrics
        self.limits = limits
        self._waiting: deque[Job] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="hxpm-serve-worker", daemon=True)
        self._decoder = session.decoder(limits.max_batch, mixed=True)
        self._running: dict[Any, Job] = {}  # slot -> job
        self._active_group: tuple[str, ...] | None = None
        self._active_key_seen = False  # the first activation is no switch

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what was admitted and queued, then end the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    @property
    def depth(self) -> int:
        return len(self._waiting)

    def submit(self, job: Job) -> None:
        with self._cond:
            if len(self._waiting) >= self.limits.max_queue:
                raise QueueFullError(
                    f"the queue is full ({self.limits.max_queue} requests waiting)",
                    hint="Retry after a second.",
                )
            self._waiting.append(job)
            self.metrics.queue_depth.set(len(self._waiting))
            self._cond.notify()

    # --- the worker ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._running and not self._stopping:
                    self._cond.wait(0.5)
                if self._stopping and not self._waiting and not self._running:
                    return
            try:
                self._admit()
                self._step()
            except Exception as e:  # noqa: BLE001 -- fail the running requests, not the server
                self._fail_all(InferenceError(f"generation failed: {str(e)[:200]}"))

    def _next_job(self, admitted: int) -> Job | None:
        """The next waiting job to admit now, or None (see the module docstring)."""
        with self._cond:
            now = time.monotonic()
            for job in [j for j in self._waiting if j.cancelled or now > j.deadline]:
                self._waiting.remove(job)
                if not job.cancelled:
                    job.emit(
                        "error",
                        DeadlineError(
                            "the request waited in the queue past its deadline", hint="Retry later."
                        ),
                    )
            if not self._waiting or self._decoder.room <= admitted:
                return None
            for job in self._waiting:
                if job.group is None:
                    job.group = self._group_of(job)
            if not self._running and not admitted:
                # The batch has drained: the oldest request's group goes next (none starves).
                job = self._waiting[0]
                self._active_group = job.group
            else:
                # Join the running batch only if it came before the oldest request of another
                # group (give or take max_wait_s): grouping without starving the other groups.
                others = [j.enqueued for j in self._waiting if j.group != self._active_group]
                limit = min(others) + self.limits.max_wait_s if others else float("inf")
                same = [
                    j
                    for j in self._waiting
                    if j.group == self._active_group and j.enqueued <= limit
                ]
                if not same:
                    return None
                job = same[0]
            self._waiting.remove(job)
            self.metrics.queue_depth.set(len(self._waiting))
            return job

    def _group_of(self, job: Job) -> tuple[str, ...]:
        try:
            return self.session.batch_group(job.selection)
        except HxpmError:
            return experts_label(job.selection)  # alone: activating it reports the error

    def _admit(self) -> None:
        from hxpm.runtime.batch import Request  # torch: loaded with the session already

        jobs: list[Job] = []
        while (job := self._next_job(len(jobs))) is not None:
            jobs.append(job)
        ready = []
        for job in jobs:
            try:
                prepared = self.session.prepare(
                    job.conversation, job.selection, job.settings, raw=job.raw
                )
                self._activate(job)
                row = self.session.row_adapters(job.selection)
            except HxpmError as e:
                job.emit("error", e)
                continue
            request = Request(
                prepared.prompt_ids,
                prepared.config,
                row,
                job.settings.ignore_eos,
                prepared.soft_prefix,
            )
            ready.append((job, request))
        if not ready:
            return
        self._prefill(ready)

    def _prefill(self, ready: list[tuple[Job, Any]]) -> None:
        """Prefill ``ready`` together; if that fails, each alone, so that one request's fault
        (a grammar its matcher cannot build) fails that request only."""
        try:
            slots = self._decoder.add_many([request for _, request in ready])
        except Exception as e:  # noqa: BLE001 -- these requests are not running yet
            if len(ready) > 1:
                for one in ready:
                    self._prefill([one])
                return
            error = (
                e
                if isinstance(e, HxpmError)
                else InferenceError(f"generation failed: {str(e)[:200]}")
            )
            ready[0][0].emit("error", error)
            return
        self._started(ready, slots)

    def _started(self, ready: list[tuple[Job, Any]], slots: list[Any]) -> None:
        for (job, request), slot in zip(ready, slots, strict=True):
            self.metrics.tokens_in.inc(len(request.prompt_ids))
            self._running[slot] = job
            self._deliver(slot, job)

    def _activate(self, job: Job) -> None:
        seconds = self.session.activate_group(job.selection)
        if seconds is not None:
            if self._active_key_seen:
                self.metrics.set_switches.inc()
            self.metrics.merge_seconds.observe(seconds)
            self.metrics.loaded_experts.set(len(job.selection.experts))
        self._active_key_seen = True

    def _step(self) -> None:
        now = time.monotonic()
        for slot, job in list(self._running.items()):
            if job.cancelled or now > job.deadline:
                self._decoder.cancel(slot)
                self._running.pop(slot)
                self.metrics.tokens_out.inc(len(slot.new_ids))
                self.metrics.cancelled.inc()
                if not job.cancelled:
                    job.emit(
                        "error",
                        DeadlineError(
                            "the request ran past its deadline", hint="Ask for fewer max_tokens."
                        ),
                    )
        if not self._running:
            return
        started = time.perf_counter()
        self._decoder.step()
        per_token = time.perf_counter() - started
        self.metrics.batch_size.observe(len(self._running))
        for slot, job in list(self._running.items()):
            self.metrics.token_seconds.observe(per_token)
            self._deliver(slot, job)

    def _deliver(self, slot: Any, job: Job) -> None:
        if job.first_token_at is None:
            job.first_token_at = time.monotonic()
            self.metrics.ttft_seconds.observe(job.first_token_at - job.enqueued)
        piece = slot.take_text()
        if piece:
            job.emit("text", piece)
        if slot.finished:
            self.metrics.tokens_out.inc(len(slot.new_ids))
            self._running.pop(slot, None)
            if slot.error is not None:
                job.emit("error", slot.error)
                return
            completion: Completion = completion_of(slot, job.selection)
            job.emit("done", completion)

    def _fail_all(self, error: HxpmError) -> None:
        for slot, job in list(self._running.items()):
            self._decoder.cancel(slot)
            job.emit("error", error)
        self._running.clear()
