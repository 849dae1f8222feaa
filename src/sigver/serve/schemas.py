"""The service's response bodies (they make the OpenAPI schema say what comes back)."""

from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    version: str
    role: str
    model_sha256: str
    persons: int
    wi_threshold: float
    wd_available: bool
    limits: dict
    batching: dict


class PersonSummary(BaseModel):
    name: str
    references: int
    wd_ready: bool


class ReferenceInfo(BaseModel):
    file: str
    sha256: str
    image_url: str | None = None


class PersonDetail(BaseModel):
    name: str
    method: str
    references: list[ReferenceInfo]


class EnrollResponse(PersonDetail):
    person: str
    added: list[str]
    already_enrolled: list[str]


class ReferenceScore(BaseModel):
    file: str
    sha256: str
    score: float
    image_url: str


class VerifyResult(BaseModel):
    file: str
    score: float
    threshold: float
    decision: str
    method: str
    is_reference: bool
    image_url: str
    reference_scores: list[ReferenceScore]


class VerifyResponse(BaseModel):
    person: str
    results: list[VerifyResult]
