"""Who may change what. Every refusal says why, so nobody is left guessing.

Officers change objectives they own or that belong to their directorate; directorate
leads, anything in the directorates they lead; strategy group members and admins,
anything (including adding objectives and closing risks). Anyone known may ask.
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


def check_risk(repo: Repository, person: Person, risk: Risk) -> None:
    if is_manager(person) or risk.owner == person.id:
        return
    if risk.objective:
        objective = repo.objective(risk.objective)
        if objective:
            try:
                check_objective(repo, person, objective)
                return
            except NotAllowed:
                pass
    owner = repo.person(risk.owner)
    raise NotAllowed(
        f"You can't change {risk.id}: it is owned by {owner.name if owner else 'someone else'}. "
        "Risk owners, the linked objective's directorate and the strategy group can change it."
    )


def check_manager(person: Person, action: str) -> None:
    if not is_manager(person):
        raise NotAllowed(
            f"Only strategy group members and admins can {action}; you are "
            f"{'a' if person.role is not Role.OFFICER else 'an'} {person.role.value}."
        )
