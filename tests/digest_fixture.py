"""A realistic store for digest tests: the sample strategy plus ten weeks of chat.

Everything is written through Repository methods with a moving clock, exactly as the
bot would record it, so digests are tested against the same history a council would
have. The story (all times Europe/London, 2026):

- Mon 7 Sep: the sample strategy is loaded.
- September to early November: officers post updates most weeks; Housing and Adult
  Social Services never does; 3.3 (telephony) goes off track and passes its due date.
- Mon 9 Nov 09:00: the previous weekly digest (tests pass this as "since").
- Week of 9 Nov: 3.2 slips to at risk and is re-planned, 2.2 recovers, 5.4 is achieved,
  an update to 1.2 is made and undone, risk R2's likelihood rises, risk R6 is logged.
- Mon 16 Nov 09:00: the digest being tested ("now"), a GMT week.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from storage.repository import Repository, Source
from tracker.model import Status
from tracker.strategy_file import load_strategy

LONDON = ZoneInfo("Europe/London")
SAMPLE = Path(__file__).resolve().parent.parent / "config" / "strategy.sample.yaml"
SINCE = datetime(2026, 11, 9, 9, 0, tzinfo=LONDON)
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=LONDON)


class MovingClock:
    """A clock tests set and advance; Repository stamps every change with it."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> datetime:
        """Set to a London wall-clock time, "2026-11-10 14:30"."""
        self.now = datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def say(person: str, text: str) -> Source:
    return Source(actor=person, channel="console", text=text)


async def open_sample(data_dir: Path, clock: MovingClock) -> Repository:
    """A store holding just the sample strategy, loaded at the clock's time."""
    repo = Repository.open(data_dir, clock=clock)
    await repo.load_strategy(load_strategy(SAMPLE), say("tcarter", "load strategy"))
    return repo


async def update(
    repo: Repository,
    clock: MovingClock,
    when: str,
    person: str,
    objective: str,
    *,
    status: Status | None = None,
    progress: int | None = None,
    due: date | None = None,
    note: str | None = None,
) -> None:
    clock.set(when)
    text = f"update {objective} {status or ''} {progress or ''} {note or ''}".strip()
    await repo.record_update(
        objective, say(person, text), status=status, progress=progress, due=due, note=note
    )


async def build_history(data_dir: Path) -> tuple[Repository, MovingClock]:
    """The full ten-week story above; the clock is left at NOW."""
    clock = MovingClock(datetime(2026, 9, 7, 8, 30, tzinfo=LONDON))
    repo = await open_sample(data_dir, clock)
    u = update

    # --- September: the early weeks
    await u(repo, clock, "2026-09-15 10:12", "mkhan", "1.1", progress=58,
            note="EDRMS pilot live in Revenues")  # fmt: skip
    await u(repo, clock, "2026-09-16 11:40", "lbrown", "1.3", progress=85,
            note="Tablets issued to all enforcement officers")  # fmt: skip
    await u(repo, clock, "2026-09-22 09:30", "rgrant", "3.3", status=Status.AT_RISK,
            note="Telephony supplier has delayed the cutover")  # fmt: skip
    await u(repo, clock, "2026-09-24 15:05", "sobrien", "2.3", progress=92,
            note="Admissions form tested with three schools")  # fmt: skip
    await u(repo, clock, "2026-09-29 16:20", "rgrant", "3.3", status=Status.OFF_TRACK,
            note="Cutover postponed; no new date from the supplier")  # fmt: skip
    await u(repo, clock, "2026-09-30 09:00", "jmorris", "2.2", progress=38,
            note="CRM procurement back on track after clarification round")  # fmt: skip
    # --- October (BST ends on Sunday 25 October)
    await u(repo, clock, "2026-10-06 10:00", "pwilson", "4.4", progress=25,
            note="Meter data feeds connected for ten buildings")  # fmt: skip
    await u(repo, clock, "2026-10-07 14:00", "sobrien", "5.3", progress=35,
            note="Data sharing agreement signed by two academies")  # fmt: skip
    await u(repo, clock, "2026-10-12 12:00", "ifloyd", "1.2", progress=45,
            note="Restructure consultation extended by two weeks")  # fmt: skip
    await u(repo, clock, "2026-10-20 10:30", "aokafor", "3.4", progress=55,
            note="Remote access rolled out to City Strategy")  # fmt: skip
    await u(repo, clock, "2026-11-03 11:15", "lbrown", "1.3", progress=95,
            note="Last back-office integration in test")  # fmt: skip
    await u(repo, clock, "2026-11-04 09:45", "sobrien", "2.3", progress=94)

    # --- The week being reported (since Mon 9 Nov 09:00)
    await u(repo, clock, "2026-11-10 14:30", "mkhan", "3.2", status=Status.AT_RISK, progress=65,
            note="Thin client hardware delivery slipped to January")  # fmt: skip
    await u(repo, clock, "2026-11-11 10:05", "mkhan", "1.1", progress=62,
            note="Records retention schedule agreed")  # fmt: skip
    await u(repo, clock, "2026-11-12 16:00", "ifloyd", "3.2", due=date(2027, 6, 30),
            note="Rollout re-planned around the supplier's new delivery date")  # fmt: skip
    await u(repo, clock, "2026-11-12 09:20", "jmorris", "2.2", status=Status.ON_TRACK,
            progress=45, note="CRM go-live date confirmed with the supplier")  # fmt: skip
    await u(repo, clock, "2026-11-13 11:00", "aokafor", "5.4", status=Status.ACHIEVED,
            progress=100, note="GIS partner portal live for police and health")  # fmt: skip
    await u(repo, clock, "2026-11-13 15:00", "ifloyd", "1.2", status=Status.OFF_TRACK,
            note="Wrong objective, sorry")  # fmt: skip
    clock.set("2026-11-13 15:02")
    await repo.undo_last(say("ifloyd", "undo"))
    clock.set("2026-11-11 12:00")
    await repo.change_risk("R2", {"likelihood": 5}, say("ifloyd", "R2 likelihood 5"),
                           "change likelihood")  # fmt: skip
    clock.set("2026-11-12 13:00")
    await repo.add_risk(
        {
            "title": "Telephony supplier fails before the cutover",
            "objective": "3.3",
            "theme": 3,
            "likelihood": 3,
            "impact": 5,
            "owner": "rgrant",
            "mitigation": "Escrow of configuration; alternative supplier on the framework",
            "review": date(2026, 12, 14),
        },
        say("rgrant", "add risk telephony supplier fails"),
    )
    clock.now = NOW.astimezone(UTC)
    return repo, clock


class Recorder:
    """A delivery that records what it was asked to send; fails for `unreachable`."""

    def __init__(self, unreachable: set[str] | None = None) -> None:
        self.unreachable = unreachable or set()
        self.sent: list[tuple[str, object, datetime]] = []

    async def send(self, recipient: str, reply: object):
        from bot.delivery import DeliveryResult

        if recipient in self.unreachable:
            return DeliveryResult(recipient, False, detail="no Slack or Teams identity")
        self.sent.append((recipient, reply, datetime.now(LONDON)))
        return DeliveryResult(recipient, True)

    def recipients(self) -> list[str]:
        return [r for r, _, _ in self.sent]

    def to(self, recipient: str):
        return [reply for r, reply, _ in self.sent if r == recipient]
