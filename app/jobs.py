"""The one list of background jobs (name, interval, function), run by `rightsdesk worker` in
rounds and by `rightsdesk serve`'s in-process pump (delivery `background`) on each wake-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.audit.retention import trim
from app.core.config import parse_window
from app.core.context import AppContext
from app.core.db import analyze_stale, refresh_statistics
from app.core.rate_limit import purge_expired as drop_rate_windows
from app.integrations.delivery import drain as drain_webhooks
from app.integrations.idempotency import purge_expired as forget_keys
from app.notifications.outbox import drain as drain_notices
from app.notifications.senders import Sender
from app.results.service import destroy_expired as destroy_expired_results
from app.retention import scrub
from app.retention.purge import purge as purge_requests
from app.verification.documents import destroy_expired as destroy_expired_documents
from app.workflow.reminders import send_reminders
from app.workflow.service import reject_unverified

log = logging.getLogger("rightsdesk.worker")

#: A job's interval: the poll interval (RIGHTSDESK_OUTBOX_POLL_SECONDS, a worker's round).
POLL = -1.0


@dataclass(frozen=True)
class Job:
    """One background job. `interval`: seconds between runs (0: every round and every
    wake-up of the pump; POLL: the poll interval). `run` returns True when work remains,
    which makes the job due again at once. `at_start`: due in the first round."""

    name: str
    interval: float
    run: Callable[[Jobs], bool | None]
    at_start: bool = True


@dataclass
class WorkerSummary:
    """Counts of what the jobs did (printed by `worker --once`)."""

    counts: dict[str, int] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)

    def add(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def as_dict(self) -> dict:
        return {**self.counts, "failed_steps": self.failed_steps}


def _deliver(jobs: Jobs) -> None:
    ctx, summary = jobs.ctx, jobs.summary
    try:
        report = drain_notices(ctx.db, ctx, jobs.sender, stop=jobs.stop)
        summary.add("notices_delivered", report.sent)
        summary.add("notices_retried", report.retried)
        summary.add("notices_failed", report.failed)
        if report.claimed:
            log.info(
                "delivered %d, retrying %d, failed %d, taken over %d, handed back %d",
                report.sent,
                report.retried,
                report.failed,
                report.lost,
                report.released,
            )
    finally:  # webhooks go out even when notices cannot (the relay away, say)
        # SIGTERM: the delivery in flight finishes and is recorded; the rest of the batch
        # is handed back, due at once for another worker.
        hooks = drain_webhooks(ctx.db, ctx, stop=jobs.stop)
        summary.add("webhooks_delivered", hooks.delivered)
        summary.add("webhooks_retried", hooks.retried)
        summary.add("webhooks_failed", hooks.failed)
        if hooks.claimed:
            log.info(
                "webhooks: delivered %d, retrying %d, failed %d, endpoints disabled %d, "
                "taken over %d, handed back %d",
                hooks.delivered,
                hooks.retried,
                hooks.failed,
                hooks.disabled,
                hooks.lost,
                hooks.released,
            )


def _destroy(jobs: Jobs) -> None:
    destroyed = destroy_expired_documents(jobs.ctx.db, jobs.ctx)
    jobs.summary.add("documents_destroyed", destroyed)
    if destroyed:
        log.info("destroyed %d document(s) past their retention", destroyed)


def _destroy_results(jobs: Jobs) -> None:
    destroyed = destroy_expired_results(jobs.ctx.db, jobs.ctx)
    jobs.summary.add("results_destroyed", destroyed)
    if destroyed:
        log.info("destroyed %d access result(s) past their download time", destroyed)


def _purge(jobs: Jobs) -> None:
    purged = purge_requests(jobs.ctx.db, jobs.ctx, max_batches=1, stop=jobs.stop).requests
    jobs.summary.add("requests_purged", purged)
    if purged:
        log.info("purged the personal data of %d request(s) past their retention", purged)


def _expire(jobs: Jobs) -> None:
    expired = reject_unverified(jobs.ctx.db, jobs.ctx)
    jobs.summary.add("requests_expired", expired)
    if expired:
        log.info("closed %d request(s) whose code was never entered", expired)


def _remind(jobs: Jobs) -> None:
    jobs.summary.add("reminders_sent", send_reminders(jobs.ctx.db, jobs.ctx))


def _forget(jobs: Jobs) -> None:
    forgotten = forget_keys(jobs.ctx.db, jobs.ctx)
    jobs.summary.add("idempotency_keys_forgotten", forgotten)
    if forgotten:
        log.info("forgot %d idempotency key(s) past their 24 hours", forgotten)
    ended = drop_rate_windows(jobs.ctx.db, jobs.ctx)
    jobs.summary.add("rate_limit_windows_dropped", ended)


def _analyze(jobs: Jobs) -> None:
    refresh_statistics(jobs.ctx.db)  # keep SQLite's planner statistics fresh


def _analyze_stale(jobs: Jobs) -> None:
    """PostgreSQL with autovacuum off: what autovacuum would have analysed (core/db.py)."""
    analysed = analyze_stale(jobs.ctx.db)
    jobs.summary.add("tables_analysed", len(analysed))
    if analysed:
        log.info("analysed %d table(s) the server's autovacuum does not", len(analysed))


def _trim_audit(jobs: Jobs) -> bool:
    settings = jobs.ctx.settings
    report = trim(
        jobs.ctx.db,
        jobs.ctx.clock.now(),
        settings.audit_retention_days,
        max_batches=10,
        stop=jobs.stop,
    )
    jobs.summary.add("audit_entries_trimmed", report.removed)
    if report.removed:
        log.info("trimmed %d access-record entries past their retention", report.removed)
    return report.more  # a backlog remains: sooner than in an hour


def _scrub(jobs: Jobs) -> None:
    """RIGHTSDESK_SCRUB_WINDOW set (PostgreSQL): within it, rewrite the tables destructions
    touched (retention/scrub.py; each locked while it is rewritten). Off by default."""
    ctx = jobs.ctx
    if ctx.db.is_sqlite or not scrub.in_window(
        parse_window(ctx.settings.scrub_window), ctx.clock.now()
    ):
        return
    if not scrub.pending(ctx.db):
        return
    report = scrub.rewrite(ctx.db)
    jobs.summary.add("tables_rewritten", len(report.rewritten))
    log.info(
        "scrub: rewrote %d table(s), %d left pending", len(report.rewritten), len(report.skipped)
    )


# Nothing here is finer than days (expiry after unverified_expiry_days, reminders N days
# before and once overdue, retention periods), so a job at the poll interval is at most one
# interval late; delivery runs on every wake-up, since a verification code is waited for.
JOBS: tuple[Job, ...] = (
    Job("deliver", 0, _deliver),
    Job("destroy", POLL, _destroy),
    Job("destroy_results", POLL, _destroy_results),
    Job("purge", POLL, _purge),
    Job("expire", POLL, _expire),
    Job("remind", POLL, _remind),
    Job("forget", POLL, _forget),
    Job("analyze", 3600, _analyze, at_start=False),
    Job("analyze_stale", 60, _analyze_stale),
    Job("trim_audit", 3600, _trim_audit),
    Job("scrub", 600, _scrub),
)


class Jobs:
    """The jobs of one process: when each is next due, and what they did. `run_due()` runs
    those due, in list order; a failing job is logged (its exception's type only: a message
    may carry personal data) and the others still run."""

    def __init__(
        self,
        ctx: AppContext,
        sender: Sender,
        *,
        stop: Callable[[], bool] | None = None,
        jobs: tuple[Job, ...] | None = None,
    ) -> None:
        self.ctx = ctx
        self.sender = sender
        self.stop = stop or (lambda: False)
        self.jobs = JOBS if jobs is None else jobs
        self.summary = WorkerSummary()
        started = time.monotonic()
        self._due = {
            job.name: 0.0 if job.at_start else started + self._interval(job) for job in self.jobs
        }

    def _interval(self, job: Job) -> float:
        return self.ctx.settings.outbox_poll_seconds if job.interval == POLL else job.interval

    def run_due(self) -> list[str]:
        """Run the jobs now due; the names of those that failed."""
        failed: list[str] = []
        for job in self.jobs:
            if self.stop():
                break
            now = time.monotonic()
            if now < self._due[job.name]:
                continue
            self._due[job.name] = now + self._interval(job)
            try:
                more = job.run(self)
            except Exception as exc:  # the type only: a message may carry personal data
                failed.append(job.name)
                log.error("%s failed: %s", job.name, type(exc).__name__)
                continue
            if more:
                self._due[job.name] = 0.0
        return failed

    def deliver(self) -> None:
        """Delivery alone, now (delivery `sync`: after each commit that queued something)."""
        _deliver(self)
