"""Kinship event contracts: the single source of truth for every public payload and topic."""

from kinship_contracts.checkins import CheckinRecorded, CheckinSubmitted, DerivedScores
from kinship_contracts.directory import Channels, DirectoryPerson, Role
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.signals import SignalKind, SignalSubmitted
from kinship_contracts.topics import TOPICS, TopicSpec, dead_letter_topic, topic

__all__ = [
    "TOPICS",
    "Channels",
    "CheckinRecorded",
    "CheckinSubmitted",
    "DerivedScores",
    "DirectoryPerson",
    "KudosSubmitted",
    "Role",
    "SignalKind",
    "SignalSubmitted",
    "TopicSpec",
    "dead_letter_topic",
    "topic",
]
