"""Weekly digests and update nudges, sent on time and exactly once.

APScheduler's `AsyncIOScheduler` wakes the bot at each audience's cron time in the
council's time zone (moved past bank holidays by `WorkingDayTrigger`). It is only the
alarm clock: APScheduler 3 keeps jobs in memory, skips a run more than a second late
by default, and runs every job in every process, so it cannot decide what was sent.
The store decides:

- each digest is identified by (audience, period), the period being its cron slot
  ("resources", "2026-11-16T09:00"); before sending, the bot claims
  `digest/<audience>/<period>` with `Repository.claim`, which is durable and exclusive
  across processes: a restart, a re-run, the start-up catch-up, the periodic sweep or
  a second process on the same data directory can never send it again;
- on start-up, and every few minutes after, any period whose time has passed within
  the grace (24 h by default) and is not yet claimed is sent, once;
- nudges are claimed per objective per ISO week (`nudge/<week>/<objective>`).

A crash between the claim and the send loses that one digest rather than doubling
it (the claim stays in state "sending" and `health()` reports it). See docs/digests.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from bot.delivery import DeliveryResult
from handlers import digest_content as digest
from handlers.reply import Reply
from storage.repository import Repository, iso
from tracker.schedule import (
    MAX_SHIFT,
    STRATEGY_GROUP,
    Schedule,
    ScheduleConfig,
    Slot,
    nudge_schedule,
    schedules,
)

log = logging.getLogger(__name__)

SEND_TIMEOUT = 60.0  # seconds one delivery may take before it counts as failed
SWEEP_MINUTES = 10  # how often a running bot re-checks for anything due and unsent
STUCK_AFTER = timedelta(hours=1)


# ----------------------------------------------------------------- delivery
class Sends(Protocol):
    """What the scheduler needs from the channels: `bot.delivery.Delivery.send`.

    `recipient` is a person id, or "strategy-group" for the strategy group's channel;
    the result says whether the message arrived (raising counts as not delivered).
    """

    async def send(self, recipient: str, reply: Reply) -> DeliveryResult: ...


# ----------------------------------------------------------------- trigger
class WorkingDayTrigger(BaseTrigger):
    """An APScheduler trigger firing at a Schedule's fire times (cron, past bank holidays)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = previous_fire_time or now
        for slot in self.schedule.slots(after - MAX_SHIFT, after + timedelta(days=400)):
            if slot.fire > after or (previous_fire_time is None and slot.fire == now):
                return slot.fire
        return None

    def __str__(self) -> str:
        region = self.schedule.calendar.region or "no"
        return f"cron[{self.schedule.expression}, {region} bank holidays moved]"

    def __repr__(self) -> str:
        return f"<WorkingDayTrigger {self}>"


# ----------------------------------------------------------------- results
@dataclass
class DigestRun:
    audience: str
    period: str
    state: str  # "sent", "already sent", "failed"
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class NudgeRun:
    week: str
    nudged: dict[str, list[str]] = field(default_factory=dict)  # person -> objective ids
    failed: list[str] = field(default_factory=list)


def _week(slot: Slot) -> str:
    year, week, _ = slot.at.isocalendar()
    return f"{year}-W{week:02d}"


class DigestScheduler:
    """Starts with the app (or the console), sends what is due, stops cleanly."""

    def __init__(
        self,
        repo: Repository,
        delivery: Sends,
        config: ScheduleConfig | None = None,
        *,
        clock=None,
        chart_dir: Path | None = None,
        instance: str | None = None,
        sweep_minutes: float = SWEEP_MINUTES,
    ) -> None:
        self.repo = repo
        self.delivery = delivery
        self.config = config or ScheduleConfig()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.chart_dir = chart_dir or repo.data_dir / "charts"
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.sweep_minutes = sweep_minutes
        self.catch_up_task: asyncio.Task | None = None
        self.started_at: datetime | None = None
        self.last_error: str | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task] = set()

    # ------------------------------------------------------------- audiences
    def audiences(self) -> list[str]:
        """Every directorate, then the strategy group (so its digest can report failures)."""
        return [d.id for d in self.repo.directorates()] + [STRATEGY_GROUP]

    def schedules(self) -> dict[str, Schedule]:
        return schedules(self.config, self.audiences())

    def recipients(self, audience: str) -> list[str]:
        if audience == STRATEGY_GROUP:
            return [STRATEGY_GROUP]
        directorate = self.repo.directorate(audience)
        lead = [directorate.lead] if directorate and directorate.lead else []
        return list(dict.fromkeys(lead + self.repo.subscribers(audience)))

    # ------------------------------------------------------------- lifecycle
    async def start(self, *, catch_up: bool = True) -> None:
        """Schedule every audience and the nudges; send anything missed while down."""
        if self._scheduler is not None:
            return
        grace = int(self.config.grace.total_seconds())
        scheduler = AsyncIOScheduler(
            timezone=self.config.tz,
            job_defaults={
                # A late wake-up (busy loop, suspended VM) still runs within the grace;
                # missed runs collapse into one; the claim makes the run idempotent.
                "misfire_grace_time": max(grace, 1),
                "coalesce": True,
                "max_instances": 1,
            },
        )
        by_cron: dict[str, list[str]] = defaultdict(list)
        found = self.schedules()
        for audience, schedule in found.items():
            by_cron[schedule.expression].append(audience)
        for expression, audiences in by_cron.items():
            scheduler.add_job(
                self._job,
                WorkingDayTrigger(found[audiences[0]]),
                args=["digests", audiences],
                id=f"digests {expression}",
                name=f"digests for {', '.join(audiences)}",
            )
        nudges = nudge_schedule(self.config)
        if nudges:
            scheduler.add_job(
                self._job, WorkingDayTrigger(nudges), args=["nudges", []], id="nudges",
                name="update nudges",
            )  # fmt: skip
        if self.sweep_minutes:
            scheduler.add_job(
                self._job, "interval", minutes=self.sweep_minutes, args=["sweep", []],
                id="sweep", name="catch-up sweep",
            )  # fmt: skip
        scheduler.start()
        self._scheduler = scheduler
        self.started_at = self.clock()
        if self.repo.meta("digest_schedule") != self.config.as_dict():
            await self.repo.set_meta("digest_schedule", self.config.as_dict())
        log.info("digest scheduler started (%s)", self.instance)
        if catch_up:
            self.catch_up_task = asyncio.create_task(self._job("catch-up", []))

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop waking up; let a digest already being sent finish (up to `timeout`)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.pause()  # no new runs; the executor's shutdown would cancel ours
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=timeout)
            for task in pending:
                task.cancel()
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler queues its shutdown on the loop
        log.info("digest scheduler stopped")

    async def __aenter__(self) -> DigestScheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.asynccontextmanager
    async def running(self, *, catch_up: bool = True) -> AsyncIterator[DigestScheduler]:
        await self.start(catch_up=catch_up)
        try:
            yield self
        finally:
            await self.stop()

    def attach(self, app: Any) -> None:
        """Start and stop with an aiohttp application."""

        async def on_startup(_app: Any) -> None:
            await self.start()

        async def on_cleanup(_app: Any) -> None:
            await self.stop()

        app.on_startup.append(on_startup)
        app.on_cleanup.append(on_cleanup)

    async def _tracked(self, coroutine: Any) -> Any:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await coroutine
        finally:
            if task is not None:
                self._running.discard(task)

    async def _job(self, kind: str, audiences: list[str]) -> None:
        try:
            if kind == "digests":
                await self._tracked(self._digests(audiences))
            elif kind == "nudges":
                await self._tracked(self.run_nudges())
            else:
                await self._tracked(self.catch_up())
        except Exception as error:  # a job must never kill the scheduler
            self.last_error = f"{kind}: {error!r}"
            log.exception("digest job %s failed", kind)

    async def _digests(self, audiences: list[str]) -> list[DigestRun]:
        runs = []
        for audience in audiences:
            run = await self.run_digest(audience)
            if run:
                runs.append(run)
        return runs

    async def catch_up(self) -> list[DigestRun]:
        """Send every digest (and the nudges) due within the grace and not yet sent."""
        runs = await self._digests(list(self.schedules()))
        await self.run_nudges()
        return runs

    # ------------------------------------------------------------- digests
    async def run_digest(self, audience: str, now: datetime | None = None) -> DigestRun | None:
        """Send `audience`'s due digest unless some process already has; None if none due."""
        now = now or self.clock()
        schedule = self.schedules().get(audience)
        slot = schedule.due(now, self.config.grace) if schedule else None
        if schedule is None or slot is None:
            return None
        key = f"digest/{audience}/{slot.key}"
        await self.repo.refresh()
        if self.repo.meta(key) is not None:
            return DigestRun(audience, slot.key, "already sent")
        claim = {"state": "sending", "by": self.instance, "claimed_at": iso(now),
                 "fire": iso(slot.fire)}  # fmt: skip
        if not await self.repo.claim(key, claim):
            return DigestRun(audience, slot.key, "already sent")
        run = DigestRun(audience, slot.key, "sent")
        since = self._since(audience, schedule, slot, now)
        try:
            reply = await self.build(audience, now, since)
            what = "strategy group digest" if audience == STRATEGY_GROUP else f"{audience} digest"
            for recipient in self.recipients(audience):
                ok = await self._deliver(recipient, reply, what, now)
                (run.sent if ok else run.failed).append(recipient)
            if not run.sent and not run.failed:
                log.warning("%s digest %s has nobody to go to (no lead, no subscribers)",
                            audience, slot.key)  # fmt: skip
        except Exception as error:
            run.state = "failed"
            self.last_error = f"{key}: {error!r}"
            log.exception("digest %s failed after it was claimed; it will not be resent", key)
        await self.repo.set_meta(key, {**claim, "state": run.state, "sent": run.sent,
                                       "failed": run.failed, "since": iso(since),
                                       "done_at": iso(self.clock())})  # fmt: skip
        if run.state == "sent":
            await self.repo.set_meta(digest.DIGEST_LAST + audience,
                                     {"period": slot.key, "at": iso(now)})  # fmt: skip
        log.info("digest %s: sent to %s, failed %s", key, run.sent, run.failed)
        return run

    def _since(self, audience: str, schedule: Schedule, slot: Slot, now: datetime) -> datetime:
        """The digest period's start: `digest_since`, the rule previews use too."""
        return digest.digest_since(self.repo, audience, now, schedule, slot)

    async def build(self, audience: str, now: datetime, since: datetime) -> Reply:
        return await digest.compose_digest(self.repo, audience, now, since, self.chart_dir)

    async def _deliver(self, recipient: str, reply: Reply, what: str, now: datetime) -> bool:
        try:
            result = await asyncio.wait_for(self.delivery.send(recipient, reply), SEND_TIMEOUT)
            ok, detail = result.delivered, result.detail
        except Exception as error:
            ok, detail = False, str(error) or type(error).__name__
        if not ok:
            log.warning("could not deliver the %s to %s: %s", what, recipient, detail)
            await self.repo.append_meta(
                digest.UNDELIVERED,
                {"at": iso(now), "recipient": recipient, "what": what, "detail": detail},
            )
        return ok

    # ------------------------------------------------------------- nudges
    async def run_nudges(self, now: datetime | None = None) -> NudgeRun | None:
        """Remind owners of stale objectives, each objective at most once a week."""
        now = now or self.clock()
        schedule = nudge_schedule(self.config)
        slot = schedule.due(now, self.config.grace) if schedule else None
        if slot is None:
            return None
        week = _week(slot)
        await self.repo.refresh()
        run = NudgeRun(week)
        # Stale is judged now, so an objective updated since the last nudge (or since
        # the nudge time, on a late catch-up) has dropped out.
        by_owner: dict[str, list] = defaultdict(list)
        for objective in digest.stale_objectives(self.repo, self.repo.objectives(), now):
            by_owner[objective.owner or ""].append(objective)
        digests = self.schedules()
        for owner_id, objectives in by_owner.items():
            owner = self.repo.person(owner_id)
            if owner is None:
                log.warning("no owner to nudge about %s", ", ".join(o.id for o in objectives))
                continue
            fresh = []
            for objective in objectives:
                claim = {"owner": owner.id, "at": iso(now), "by": self.instance}
                if await self.repo.claim(f"nudge/{week}/{objective.id}", claim):
                    fresh.append(objective)
            if not fresh:
                continue
            schedule_for = digests.get(owner.directorate or "") or digests.get(STRATEGY_GROUP)
            upcoming = schedule_for.next(now) if schedule_for else None
            reply = digest.nudge(self.repo, owner, fresh, now, upcoming.fire if upcoming else None)
            if await self._deliver(owner.id, reply, "update reminder", now):
                run.nudged[owner.id] = [o.id for o in fresh]
            else:
                run.failed.append(owner.id)
        await self.repo.set_meta("nudge-last", {"week": week, "at": iso(now),
                                                "nudged": run.nudged})  # fmt: skip
        return run

    # ------------------------------------------------------------- questions
    def next_runs(self, now: datetime | None = None) -> dict[str, datetime]:
        """Each audience's next fire time (bank holidays applied), plus the nudges'."""
        now = now or self.clock()
        found = {}
        for audience, schedule in self.schedules().items():
            slot = schedule.next(now)
            if slot:
                found[audience] = slot.fire
        nudges = nudge_schedule(self.config)
        slot = nudges.next(now) if nudges else None
        if slot:
            found["nudges"] = slot.fire
        return found

    def health(self, now: datetime | None = None) -> dict[str, Any]:
        """For a /health endpoint or an admin: running, next runs, anything missed or stuck."""
        now = now or self.clock()
        audiences: dict[str, Any] = {}
        missed, stuck = [], []
        for audience, schedule in self.schedules().items():
            previous = schedule.previous(now + timedelta(microseconds=1))
            record = self.repo.meta(f"digest/{audience}/{previous.key}") if previous else None
            nxt = schedule.next(now)
            audiences[audience] = {
                "schedule": schedule.expression,
                "next": iso(nxt.fire) if nxt else None,
                "last_period": previous.key if previous else None,
                "last_state": record["state"] if record else None,
            }
            if previous and record is None and now - previous.fire > self.config.grace:
                missed.append(f"{audience} {previous.key}")
            if previous and record and record.get("state") == "sending":
                claimed = datetime.fromisoformat(record["claimed_at"])
                if now - claimed > STUCK_AFTER:
                    stuck.append(f"{audience} {previous.key}")
        jobs = []
        if self._scheduler is not None:
            jobs = [
                {"id": job.id, "next_run": iso(job.next_run_time) if job.next_run_time else None}
                for job in self._scheduler.get_jobs()
            ]
        week_ago = now - timedelta(days=7)
        return {
            "ok": self._scheduler is not None and not stuck and self.last_error is None,
            "running": self._scheduler is not None and self._scheduler.running,
            "instance": self.instance,
            "started_at": iso(self.started_at) if self.started_at else None,
            "timezone": self.config.timezone,
            "grace_hours": self.config.grace_hours,
            "bank_holidays": self.config.bank_holidays,
            "jobs": jobs,
            "audiences": audiences,
            "missed": missed,
            "stuck": stuck,
            "undelivered_last_7_days": len(digest.undelivered_since(self.repo, week_ago)),
            "last_error": self.last_error,
        }


def scheduler_for(repo: Repository, settings: Any, delivery: Sends) -> DigestScheduler:
    """The scheduler for an app: settings from the strategy file's `digests:` section.

    `settings` is a `bot.settings.Settings` (strategy_file, data_dir); charts are kept
    in the data directory's `charts/` folder.
    """
    config = ScheduleConfig.from_strategy_file(settings.strategy_file)
    return DigestScheduler(repo, delivery, config, chart_dir=Path(settings.data_dir) / "charts")
