"""The study plan (`学习计划.md`): phases and the lectures in each, which decide where notes are filed."""

import re

from pydantic import BaseModel

from memory_schema.fields import list_items
from memory_schema.lectures import parse_lecture
from memory_schema.markdown import parse_markdown

_PHASE = re.compile(r"^(?:第\s*(\d+)\s*阶段|Phase\s+(\d+))\s*(?:[-–—:：]\s*)?(.*?)(?:\s*[(（].*[)）])?$", re.I)


class PlannedLecture(BaseModel):
    number: int
    title: str


class Phase(BaseModel):
    number: int
    name: str  # e.g. "基础建立"
    heading: str  # e.g. "第1阶段 - 基础建立"
    lectures: list[PlannedLecture]


class Plan(BaseModel):
    phases: list[Phase]

    def phase_of(self, lecture: int) -> Phase | None:
        return next((p for p in self.phases if any(lec.number == lecture for lec in p.lectures)), None)

    def lecture(self, number: int) -> PlannedLecture | None:
        return next((lec for p in self.phases for lec in p.lectures if lec.number == number), None)

    @property
    def total(self) -> int:
        return sum(len(p.lectures) for p in self.phases)


def parse_plan(text: str) -> Plan:
    document = parse_markdown(text)
    phases = []
    for section in document.headings():
        match = _PHASE.match(section.title)
        if not match:
            continue
        number = int(match.group(1) or match.group(2))
        heading = re.sub(r"\s*[(（].*[)）]\s*$", "", section.title)
        lectures = []
        for item in list_items(document.own_text(section)):
            lecture = parse_lecture(item)
            if lecture is not None:
                title = re.split(r"[:：]", item, maxsplit=1)[-1].strip() if re.search("[:：]", item) else item
                lectures.append(PlannedLecture(number=lecture, title=title))
        phases.append(Phase(number=number, name=match.group(3).strip(), heading=heading, lectures=lectures))
    return Plan(phases=phases)
