"""HTTP API of the check-in service.

Every route states who may call it (``kinship_runtime.access``); row-level rules (a person
submits only as themself, a manager reads only their teams) are checked here too.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal, Self

from dishka import FromDishka
from dishka.integrations.fastapi import DishkaRoute
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from kinship_checkin.domain.people import ErasureStatus
from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.domain.support import CrisisResources, SupportResource
from kinship_checkin.domain.trends import TrendFigures
from kinship_checkin.entrypoints.directory_http import directory_routes
from kinship_checkin.handlers.erasure import (
    ErasureTopics,
    erasure_status,
    may_read_status,
    recent_erasures,
    request_erasure,
    requester,
    subjects_of_erasure,
)
from kinship_checkin.handlers.my_data import OpenedCheckin, personal_data
from kinship_checkin.handlers.outreach import OutreachTopic, choose_outreach, outreach_of_person
from kinship_checkin.handlers.people import (
    SEARCH_MAX_RESULTS,
    SEARCH_MIN_CHARS,
    SearchTooShortError,
    about,
    find_people,
)
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_checkin.handlers.recording import Outcome, RecordingTopics, record_checkins
from kinship_checkin.handlers.reveal import PersonGoneError, RevealRefusedError, reveal
from kinship_checkin.handlers.subjects import (
    UNSTATED,
    TooManyIdsError,
    lookup_subjects,
    resolve_for_delivery,
    screen,
)
from kinship_checkin.handlers.trends import NotYourTeamError, team_trend_for
from kinship_checkin.settings import CheckinSettings
from kinship_contracts.base import Identifier
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import OutreachPreference, Role
from kinship_runtime.access import Actor, RateLimits, allow, forbidden
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.identity import Scope
from kinship_runtime.outbox import OutboxRelay

SubmitCheckins = Annotated[
    Actor, Depends(allow(scopes=[Scope.CHECKINS_SUBMIT], everyone=True, rate_limited=True))
]
ReadTeamTrends = Annotated[Actor, Depends(allow(roles=[Role.TEAM_MANAGER, Role.COORDINATOR]))]
LookupSubjects = Annotated[Actor, Depends(allow(scopes=[Scope.SUBJECTS_LOOKUP]))]
ScreenSubjects = Annotated[Actor, Depends(allow(scopes=[Scope.SUBJECTS_SCREEN]))]
ResolveSubjects = Annotated[Actor, Depends(allow(scopes=[Scope.SUBJECTS_DELIVER]))]
ErasureSubjects = Annotated[Actor, Depends(allow(scopes=[Scope.SUBJECTS_ERASURE]))]
RevealPeople = Annotated[Actor, Depends(allow(roles=[Role.PEER_RESPONDER, Role.COORDINATOR]))]
RequestErasure = Annotated[
    Actor, Depends(allow(scopes=[Scope.ERASURE_REQUEST], everyone=True, rate_limited=True))
]
ReadErasure = Annotated[Actor, Depends(allow(scopes=[Scope.ERASURE_REQUEST], everyone=True))]
ListErasures = Annotated[Actor, Depends(allow(roles=[Role.COORDINATOR]))]
PersonOnly = Annotated[Actor, Depends(allow(everyone=True))]
FindPeople = Annotated[Actor, Depends(allow(everyone=True))]  # counted apart: see people()

SubjectId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
Purpose = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z_]{0,39}$",
        description="Why the calling service asks (kept in the audit trail), e.g. 'pulse'.",
    ),
]
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class CheckinAccepted(BaseModel):
    """The check-in is stored (or was already): 202 either way."""

    id: str
    status: Literal["accepted", "duplicate"]
    immediate_support: list[SupportResource] | None = None


class WeekFigures(BaseModel):
    """One week of a team trend; figures are null when fewer than k people contributed."""

    week_start: date
    suppressed: bool
    figures: TrendFigures | None


class TeamTrendResponse(BaseModel):
    """A team's aggregate trend; individual data is never shown."""

    team_id: str
    available: bool
    min_people: int
    message: str
    weeks: list[WeekFigures]
    overall: TrendFigures | None


@dataclass(frozen=True)
class VaultLimits:
    """Per calling key: how many person ids the vault's lookups and screens answer, and how
    many deliveries it resolves, in a window (``KINSHIP_VAULT_RATE_LIMIT_PER_KEY``, counted
    in each check-in replica's memory). Buckets count apart: lookups for a service's
    consumers, lookups of one person's own subject (``create=false``, asked on a person's
    behalf), screens and deliveries, so that a flood of one never holds back another (the
    screening of an alert above all)."""

    limits: RateLimits


class PersonIds(BaseModel):
    """People a service already knows by their directory ids, and why it asks."""

    model_config = ConfigDict(extra="forbid")

    person_ids: list[Identifier] = Field(
        min_length=1,
        max_length=1000,
        description="At most 1000 for a lookup that may create subject ids, 1 for one that "
        "may not, 500 for a screen (422 above).",
    )
    purpose: Purpose = UNSTATED


class SubjectLookup(PersonIds):
    """People whose subject ids a service asks for."""

    create: bool = Field(
        default=True,
        description="Give a new subject id to a person who has none (false: leave them out).",
    )
    produced_at: dict[Identifier, AwareDatetime] = Field(
        default_factory=dict,
        max_length=1000,
        description="For the people the caller asks about because of Kafka records: when the "
        "newest of their records was produced (the record's timestamp). A person erased at "
        "or after it is refused (left out of subjects, named in refused), and each person "
        "erased is named in erased_at with when, so that the caller skips their records "
        "produced at or before it. People left out are answered as before.",
    )

    @model_validator(mode="after")
    def _dated_people_are_asked_about(self) -> Self:
        if not set(self.produced_at) <= set(self.person_ids):
            raise ValueError("produced_at names a person who is not in person_ids")
        return self


class Subjects(BaseModel):
    """Subject id per person id; for a lookup with ``produced_at``, who was refused."""

    subjects: dict[str, str]
    refused: list[str] = Field(
        default_factory=list,
        description="People with a produced_at erased at or after it: no subject id.",
    )
    erased_at: dict[str, datetime] = Field(
        default_factory=dict,
        description="People with a produced_at whom this service erased (within its record's "
        "keeping time): when. Skip their records produced at or before it.",
    )


class Screened(BaseModel):
    """Which of the people asked about are the subject (at most one)."""

    conflicts: list[str]


class DeliveryResolution(BaseModel):
    """Which message the resolution is for (audited)."""

    model_config = ConfigDict(extra="forbid")

    request_id: Identifier


class DeliveryTarget(BaseModel):
    """The person to deliver one message to."""

    person_id: str


class RevealRequest(BaseModel):
    """The grant the escalation service gave the responder for one case."""

    model_config = ConfigDict(extra="forbid")

    grant: str = Field(min_length=10, max_length=4096)


class RevealedPerson(BaseModel):
    """Who a case is about and how to reach them; the note only when the person allowed it."""

    case_id: str
    display_name: str
    channels: dict[str, str]
    timezone: str
    note: str | None
    note_unreadable: bool = Field(
        default=False,
        description="The person allowed their note to be shown, but it cannot be opened "
        "(its key was retired or it is damaged); the name and contacts are still shown.",
    )


class ErasedSubjects(BaseModel):
    """The subject ids an open erasure concerns (for a Kinship service to forget them)."""

    erasure_id: str
    subject_ids: list[str]


class ErasureAccepted(BaseModel):
    """The erasure is under way; follow it at ``status_url``."""

    erasure_id: str
    status_url: str


class ErasureView(BaseModel):
    """An erasure's progress: each service's completion time, or null while pending."""

    erasure_id: str
    requested_at: datetime
    requested_by: str
    complete: bool
    services: dict[str, datetime | None]

    @classmethod
    def of(cls, found: ErasureStatus) -> "ErasureView":
        """The view of a status."""
        return cls(
            erasure_id=found.erasure_id,
            requested_at=found.requested_at,
            requested_by=found.requested_by,
            complete=found.complete,
            services=found.services,
        )


class OutreachView(BaseModel):
    """Whether a peer may reach out when your check-ins show you are struggling."""

    model_config = ConfigDict(extra="forbid")

    preference: OutreachPreference


_routes = APIRouter(prefix="/v1", route_class=DishkaRoute)


@_routes.post(
    "/checkins",
    tags=["checkins"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model_exclude_none=True,
    summary="Submit a check-in",
    responses={401: {"description": "No or unknown API key"}, 422: {"description": "Invalid"}},
)
async def submit_checkin(
    submission: CheckinSubmitted,
    actor: SubmitCheckins,
    uow: FromDishka[CheckinUnitOfWork],
    notes: FromDishka[NoteCipher],
    topics: FromDishka[RecordingTopics],
    crisis: FromDishka[CrisisResources],
    relay: FromDishka[OutboxRelay],
) -> CheckinAccepted:
    """Record a check-in once; the same id again changes nothing and answers 202 again.

    When the check-in shows immediate risk the response carries crisis resources at once.
    People submit only as themselves; calling systems need ``checkins:submit``.
    """
    actor.require_self(submission.person_id, "submit check-ins")
    async with uow:
        (result,) = await record_checkins([submission], uow, notes, topics, datetime.now(UTC))
    relay.wake()
    return CheckinAccepted(
        id=result.id,
        status="accepted" if result.outcome is Outcome.RECORDED else "duplicate",
        immediate_support=list(crisis.resources) if result.immediate_support else None,
    )


@_routes.get(
    "/teams/{team_id}/trends",
    tags=["checkins"],
    summary="A team's weekly wellbeing trend (k >= 5, closed weeks)",
)
async def team_trends(
    team_id: Annotated[str, Path(min_length=1, max_length=200)],
    actor: ReadTeamTrends,
    uow: FromDishka[CheckinUnitOfWork],
    settings: FromDishka[CheckinSettings],
    weeks: Annotated[int, Query(ge=1, le=52)] = 12,
) -> TeamTrendResponse:
    """Weekly aggregates over closed weeks, shown only for groups of at least k people
    (k = 5 by default): for the team's manager and coordinators only."""
    try:
        async with uow:
            trend = await team_trend_for(actor, team_id, uow, settings.trends_min_people, weeks)
    except NotYourTeamError as error:
        raise forbidden(str(error)) from None
    k = trend.min_people
    return TeamTrendResponse(
        team_id=team_id,
        available=trend.available,
        min_people=k,
        message=(
            f"aggregates over at least {k} people; smaller groups are hidden"
            if trend.available
            else f"not enough responses: fewer than {k} people contributed in this period"
        ),
        weeks=[
            WeekFigures(
                week_start=week.week_start,
                suppressed=week.figures is None,
                figures=week.figures,
            )
            for week in trend.weeks
        ],
        overall=trend.overall,
    )


@_routes.get("/me/outreach", tags=["privacy"], response_model=OutreachView)
async def my_outreach(
    actor: PersonOnly, uow: FromDishka[CheckinUnitOfWork], response: Response
) -> OutreachView:
    """Your outreach preference (``ask_first`` until you or the directory choose)."""
    response.headers.update(PRIVATE)
    assert actor.person_id is not None
    async with uow:
        return OutreachView(preference=await outreach_of_person(actor.person_id, uow))


@_routes.put("/me/outreach", tags=["privacy"], response_model=OutreachView)
async def choose_my_outreach(
    body: OutreachView,
    actor: PersonOnly,
    uow: FromDishka[CheckinUnitOfWork],
    outreach: FromDishka[OutreachTopic],
    relay: FromDishka[OutboxRelay],
) -> OutreachView:
    """Choose whether a peer may reach out (it wins over the directory's default)."""
    assert actor.person_id is not None
    async with uow:
        await choose_outreach(
            actor.person_id, body.preference, uow, outreach.name, datetime.now(UTC)
        )
    relay.wake()
    return body


@_routes.post("/subjects/lookup", tags=["subjects"], response_model=Subjects)
async def lookup(
    body: SubjectLookup,
    actor: LookupSubjects,
    uow: FromDishka[CheckinUnitOfWork],
    vault: FromDishka[VaultLimits],
    erased: FromDishka[ErasedIds],
) -> Subjects:
    """Kinship services only: the subject ids of people they already know (one-way), never
    for an event produced at or before the person's erasure (``produced_at``). Audited
    (caller, purpose, count), bounded per call and rate-limited per key."""
    # A lookup that may not create (one person's own data, asked on that person's behalf)
    # counts apart: people's requests can never spend the budget of a service's consumers.
    bucket = "vault-lookup" if body.create else "vault-own-lookup"
    await vault.limits.hit(actor, bucket=bucket, cost=len(set(body.person_ids)))
    try:
        async with uow:
            found = await lookup_subjects(
                body.person_ids,
                uow,
                create=body.create,
                actor=actor.audit_name,
                purpose=body.purpose,
                produced_at=body.produced_at,
                erased=erased,
                now=datetime.now(UTC),
            )
    except TooManyIdsError as error:
        raise _too_many(error) from None
    return Subjects(subjects=found.subjects, refused=found.refused, erased_at=found.erased_at)


@_routes.post("/subjects/{subject_id}/screen", tags=["subjects"], response_model=Screened)
async def screen_staff(
    subject_id: SubjectId,
    body: PersonIds,
    actor: ScreenSubjects,
    uow: FromDishka[CheckinUnitOfWork],
    vault: FromDishka[VaultLimits],
) -> Screened:
    """Kinship services only: which of these staff is the subject (never page them).
    Audited (caller, purpose, count), bounded per call and rate-limited per key."""
    await vault.limits.hit(actor, bucket="vault-screen", cost=len(set(body.person_ids)))
    try:
        async with uow:
            conflicts = await screen(
                subject_id, body.person_ids, uow, actor=actor.audit_name, purpose=body.purpose
            )
    except TooManyIdsError as error:
        raise _too_many(error) from None
    return Screened(conflicts=conflicts)


@_routes.post("/subjects/{subject_id}/delivery", tags=["subjects"], response_model=DeliveryTarget)
async def delivery_target(
    subject_id: SubjectId,
    body: DeliveryResolution,
    actor: ResolveSubjects,
    uow: FromDishka[CheckinUnitOfWork],
    vault: FromDishka[VaultLimits],
) -> DeliveryTarget:
    """Kinship's notifications service only: whom to deliver one message to (audited,
    rate-limited per key like lookups, in its own bucket)."""
    await vault.limits.hit(actor, bucket="vault-delivery")
    async with uow:
        person = await resolve_for_delivery(subject_id, body.request_id, actor.audit_name, uow)
    if person is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such subject (erased?)")
    return DeliveryTarget(person_id=person)


@_routes.post("/reveal", tags=["subjects"], response_model=RevealedPerson)
async def reveal_person(
    body: RevealRequest,
    actor: RevealPeople,
    response: Response,
    uow: FromDishka[CheckinUnitOfWork],
    notes: FromDishka[NoteCipher],
    settings: FromDishka[CheckinSettings],
) -> RevealedPerson:
    """The assigned responder learns who the person is, with the case's grant (audited)."""
    response.headers.update(PRIVATE)
    assert actor.person_id is not None  # the policy admits people only
    try:
        async with uow:
            revealed = await reveal(
                body.grant,
                actor.person_id,
                uow,
                notes,
                settings.grant_signing_key(),
                datetime.now(UTC),
            )
    except RevealRefusedError as error:
        raise HTTPException(403, detail=str(error), headers=PRIVATE) from None
    except PersonGoneError as error:
        raise HTTPException(status.HTTP_410_GONE, detail=str(error), headers=PRIVATE) from None
    contact = revealed.contact
    return RevealedPerson(
        case_id=revealed.case_id,
        display_name=contact.display_name,
        channels=contact.channels,
        timezone=contact.timezone,
        note=revealed.note,
        note_unreadable=revealed.note_unreadable,
    )


def _too_many(error: TooManyIdsError) -> HTTPException:
    detail = [{"loc": ["body", "person_ids"], "msg": str(error), "type": "too_long"}]
    return HTTPException(422, detail=detail)


@_routes.post(
    "/people/{person_id}/erasure",
    tags=["privacy"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ErasureAccepted,
)
async def erase(
    person_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")],
    actor: RequestErasure,
    uow: FromDishka[CheckinUnitOfWork],
    topics: FromDishka[ErasureTopics],
    relay: FromDishka[OutboxRelay],
) -> ErasureAccepted:
    """Forget a person in every service: the person themself, a coordinator, or a system
    with ``erasure:request`` (the HR portal)."""
    if actor.person is not None and not actor.is_coordinator:
        actor.require_self(person_id, "ask for erasure")
    async with uow:
        erasure_id = await request_erasure(
            person_id,
            requester(actor, person_id),
            "kinship",
            uow,
            topics,
            datetime.now(UTC),
            lambda: f"er-{uuid.uuid4().hex}",
        )
    relay.wake()
    return ErasureAccepted(erasure_id=erasure_id, status_url=f"/v1/erasures/{erasure_id}")


@_routes.get("/erasures/{erasure_id}", tags=["privacy"], response_model=ErasureView)
async def erasure(
    erasure_id: Annotated[str, Path(min_length=1, max_length=200)],
    actor: ReadErasure,
    uow: FromDishka[CheckinUnitOfWork],
) -> ErasureView:
    """How far an erasure got in every service: for systems with ``erasure:request``,
    coordinators, and, for an erasure a person asked for themself, anyone signed in who
    holds its random id (a capability: whoever asked, or whoever the id reached); anyone
    else is told there is no such erasure."""
    async with uow:
        found = await erasure_status(erasure_id, uow)
    if found is None or not may_read_status(actor, found):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such erasure")
    return ErasureView.of(found)


@_routes.get("/erasures/{erasure_id}/subjects", tags=["privacy"], response_model=ErasedSubjects)
async def erased_subjects(
    erasure_id: Annotated[str, Path(min_length=1, max_length=200)],
    actor: ErasureSubjects,
    response: Response,
    uow: FromDishka[CheckinUnitOfWork],
    vault: FromDishka[VaultLimits],
) -> ErasedSubjects:
    """Kinship services only: the subject ids to forget, while the erasure is open (410
    once every service's receipt is in, after the deadline, or for an id never held: a 404
    means the route did not match). Audited."""
    response.headers.update(PRIVATE)
    await vault.limits.hit(actor, bucket="vault-erasure")
    async with uow:
        found = await subjects_of_erasure(erasure_id, actor.audit_name, uow, datetime.now(UTC))
    if found is None:
        raise HTTPException(
            status.HTTP_410_GONE,
            detail="no open erasure with this id (complete, past its deadline, or unknown)",
            headers=PRIVATE,
        )
    return ErasedSubjects(erasure_id=erasure_id, subject_ids=found)


@_routes.get("/erasures", tags=["privacy"], response_model=list[ErasureView])
async def erasures(
    _actor: ListErasures,
    uow: FromDishka[CheckinUnitOfWork],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ErasureView]:
    """The latest erasures and their status across services (coordinators)."""
    async with uow:
        return [ErasureView.of(found) for found in await recent_erasures(uow, limit)]


class MeView(BaseModel):
    """Who you are to Kinship: name, team, roles, the teams whose trends you read, and where
    to get help now (the crisis resources an immediate-risk check-in gets)."""

    person_id: str
    display_name: str | None
    team_id: str | None
    roles: list[str]
    managed_teams: list[str]
    support: list[SupportResource]


class PersonFound(BaseModel):
    """An active colleague: their id and display name, nothing else."""

    person_id: str
    display_name: str


class PeopleFound(BaseModel):
    """Colleagues matching a search (at most 20)."""

    people: list[PersonFound]


class DirectoryView(BaseModel):
    """The directory entry this service keeps about you."""

    display_name: str | None
    team_id: str | None
    timezone: str | None
    roles: list[str]
    manages: list[str]
    channels: dict[str, str]
    active: bool


class OutreachHeld(BaseModel):
    """Your outreach preference, and who chose it (``person``, ``directory``, or null for
    the default)."""

    preference: OutreachPreference
    chosen_by: str | None


class CheckinRecordView(BaseModel):
    """One of your check-ins as stored: answers, derived scores and your note."""

    id: str
    occurred_at: datetime
    recorded_at: datetime
    source: str
    team_id: str | None
    mood: int | None
    stress: int | None
    energy: int | None
    who5: list[int] | None
    phq9: list[int] | None
    phq2: list[int] | None
    wants_contact: bool
    who5_raw: int | None
    who5_percent: int | None
    phq9_total: int | None
    phq9_item9_positive: bool | None
    phq2_total: int | None
    note: str | None
    note_unreadable: bool

    @classmethod
    def of(cls, opened: OpenedCheckin) -> "CheckinRecordView":
        """The view of an opened check-in (the sealed bytes never leave)."""
        fields = {
            name: getattr(opened.checkin, name)
            for name in cls.model_fields
            if name not in ("note", "note_unreadable")
        }
        return cls(**fields, note=opened.note, note_unreadable=opened.note_unreadable)


class AuditView(BaseModel):
    """An audit record about you: what was done, when, by whom, for which case."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    action: str
    actor: str
    case_id: str | None


class MyCheckinData(BaseModel):
    """Everything the check-in service holds about you."""

    service: Literal["checkin"] = "checkin"
    person_id: str
    directory: DirectoryView | None
    outreach: OutreachHeld
    checkins: list[CheckinRecordView]
    audit: list[AuditView]


@_routes.get("/me", tags=["people"], response_model=MeView)
async def me(
    actor: PersonOnly,
    response: Response,
    uow: FromDishka[CheckinUnitOfWork],
    crisis: FromDishka[CrisisResources],
) -> MeView:
    """Who you are to Kinship (from the directory): your name, team, roles and the
    teams whose trends you read; and where to get help now. People only."""
    response.headers.update(PRIVATE)
    assert actor.person_id is not None  # the policy admits people only
    async with uow:
        profile = await about(actor.person_id, uow)
    return MeView(
        person_id=profile.person_id,
        display_name=profile.display_name,
        team_id=profile.team_id,
        roles=list(profile.roles),
        managed_teams=list(profile.managed_teams),
        support=list(crisis.resources),
    )


@_routes.get("/people", tags=["people"], response_model=PeopleFound)
async def people(
    actor: FindPeople,
    response: Response,
    uow: FromDishka[CheckinUnitOfWork],
    limits: FromDishka[RateLimits],
    q: Annotated[str, Query(min_length=SEARCH_MIN_CHARS, max_length=100)],
) -> PeopleFound:
    """Active colleagues whose name contains ``q`` (or whose id starts with it): ids and
    names only, at most 20, for choosing whom to thank. People in the directory only;
    rate limited apart from check-ins (searching never holds back a check-in)."""
    response.headers.update(PRIVATE)
    if actor.person is None or not actor.person.known:
        raise forbidden("only people in the directory may search it")
    await limits.hit(actor, bucket="people-search")
    try:
        async with uow:
            found = await find_people(q, uow, SEARCH_MAX_RESULTS)
    except SearchTooShortError as error:
        detail = [{"loc": ["query", "q"], "msg": str(error), "type": "too_short"}]
        raise HTTPException(422, detail=detail) from None
    return PeopleFound(
        people=[PersonFound(person_id=p.person_id, display_name=p.display_name) for p in found]
    )


@_routes.get("/me/data", tags=["privacy"], response_model=MyCheckinData)
async def my_data(
    actor: PersonOnly,
    response: Response,
    uow: FromDishka[CheckinUnitOfWork],
    notes: FromDishka[NoteCipher],
) -> MyCheckinData:
    """Everything this service holds about you, your notes opened for you: your
    directory entry, outreach preference, check-ins and the audit records about you.
    People only, about themselves; the export is audited."""
    response.headers.update(PRIVATE)
    assert actor.person_id is not None
    async with uow:
        held = await personal_data(actor.person_id, uow, notes)
    directory = held.directory
    return MyCheckinData(
        person_id=held.person_id,
        directory=(
            DirectoryView(
                display_name=directory.display_name,
                team_id=directory.team_id,
                timezone=directory.timezone,
                roles=list(directory.roles),
                manages=list(directory.manages),
                channels=directory.channels,
                active=directory.active,
            )
            if directory is not None
            else None
        ),
        outreach=OutreachHeld(preference=held.outreach, chosen_by=held.outreach_chosen_by),
        checkins=[CheckinRecordView.of(item) for item in held.checkins],
        audit=[AuditView.model_validate(event) for event in held.audit],
    )


def checkin_router() -> APIRouter:
    """The check-in service's routes (and the directory's, ``directory_http.py``)."""
    router = APIRouter()
    router.include_router(_routes)
    router.include_router(directory_routes)
    return router
