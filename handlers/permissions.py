"""Who may change what. Every refusal says why, so nobody is left guessing.

Officers change objectives they own or that belong to their directorate; directorate
leads, anything in the directorates they lead; strategy group members and admins,
anything (including adding objectives and closing risks). Anyone known may ask.

Risks, as a council's risk register works: the named owner manages a risk, the lead
of the directorate it belongs to (through its objective) can step in, and the strategy
group can change any. An officer logs a risk only on an objective they may update (or a
theme where they have one) and owns it; only leads and the group name someone else.
"""

from __future__ import annotations

from storage.repository import Repository
from tracker.model import Objective, Person, Risk, Role


class NotAllowed(PermissionError):
    """Raised with a sentence for the user explaining the refusal."""


def is_manager(person: Person) -> bool:
    return person.role in (Role.ADMIN, Role.STRATEGY_GROUP) or person.strategy_group


def led_directorates(repo: Repository, person: Person) -> set[str]:
    led = {d.id for d in repo.directorates() if d.lead == person.id}
    if person.role is Role.DIRECTORATE_LEAD and person.directorate:
        led.add(person.directorate)
    return led


def check_objective(repo: Repository, person: Person, objective: Objective) -> None:
    if is_manager(person) or objective.owner == person.id:
        return
    if objective.directorate in led_directorates(repo, person):
        return
    if person.role is Role.OFFICER and objective.directorate == person.directorate:
        return
    directorate = repo.directorate(objective.directorate)
    name = directorate.name if directorate else objective.directorate
    owner = repo.person(objective.owner)
    lead = repo.person(directorate.lead) if directorate else None
    led = [d.name for d in repo.directorates() if d.id in led_directorates(repo, person)]
    if led:
        yours = f"As directorate lead you can change objectives of {', '.join(led)}"
    else:
        home = repo.directorate(person.directorate) if person.directorate else None
        yours = "You can change objectives you own" + (
            f" or that belong to {home.name}" if home else ""
        )
    roles: dict[str, list[str]] = {}
    for who, role in ((owner, "owner"), (lead, "directorate lead")):
        if who and who.id != person.id:
            roles.setdefault(who.name, []).append(role)
    asks = [f"{who} ({' and '.join(r)})" for who, r in roles.items()]
    asks.append("a strategy group member")
    ask = ", ".join(asks[:-1]) + " or " + asks[-1] if len(asks) > 1 else asks[0]
    raise NotAllowed(
        f"You can't change {objective.id}: it belongs to {name}"
        + (f" and is owned by {owner.name}" if owner else "")
        + f". {yours}; ask {ask}."
    )


RISK_RULE = (
    "Officers change risks they own; directorate leads, any risk linked to their "
    "directorate's objectives; the strategy group, any risk."
)


def _check_risk_owner(repo: Repository, person: Person, owner_id: str | None) -> None:
    """Officers may name only themselves as a risk's owner; leads and the group, anyone."""
    if owner_id in (None, person.id) or is_manager(person) or led_directorates(repo, person):
        return
    named = repo.person(owner_id)
    raise NotAllowed(
        f"You can't make {named.name if named else owner_id} the owner of a risk: officers "
        "own the risks they log. Leave the owner out (it will be you), or ask your directorate "
        "lead or a strategy group member."
    )


def check_risk(repo: Repository, person: Person, risk: Risk, new_owner: str | None = None) -> None:
    """Officers: risks they own. Leads: risks linked to an objective of a directorate they
    lead. Strategy group and admins: any risk. See RISK_RULE."""
    _check_risk_owner(repo, person, new_owner)
    if is_manager(person) or risk.owner == person.id:
        return
    objective = repo.objective(risk.objective) if risk.objective else None
    if objective and objective.directorate in led_directorates(repo, person):
        return
    owner = repo.person(risk.owner)
    raise NotAllowed(
        f"You can't change {risk.id}: it is owned by {owner.name if owner else 'someone else'}. "
        f"{RISK_RULE}"
    )


def check_new_risk(
    repo: Repository, person: Person, objective_id: str | None, theme: int | None, owner: str
) -> None:
    """Log a risk only on an objective (or a theme with an objective) you may update."""
    _check_risk_owner(repo, person, owner)
    if is_manager(person):
        return
    if objective_id:
        objective = repo.objective(objective_id)
        if objective:
            try:
                check_objective(repo, person, objective)
            except NotAllowed as refusal:
                raise NotAllowed(
                    f"You can't log a risk on {objective.id}: " + str(refusal).partition(": ")[2]
                ) from None
        return
    if theme is not None:
        mine = []
        for objective in repo.objectives():
            if objective.theme != theme:
                continue
            try:
                check_objective(repo, person, objective)
            except NotAllowed:
                continue
            mine.append(objective.id)
        if not mine:
            raise NotAllowed(
                f"You can't log a risk on theme {theme}: none of its objectives is yours or "
                "your directorate's. Link it to an objective you report on, or ask a strategy "
                "group member."
            )


def check_manager(person: Person, action: str) -> None:
    if not is_manager(person):
        raise NotAllowed(
            f"Only strategy group members and admins can {action}; you are "
            f"{'a' if person.role is not Role.OFFICER else 'an'} {person.role.value}."
        )
