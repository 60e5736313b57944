"""Platforms, and the shapes a platform and a project share: where something runs, and who owns it."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import EmailStr, Field, StrictBool
from sqlalchemy import Row

from app.core.schemas import ReadModel, Slug, WriteModel
from app.platforms.models import Platform

Name = Annotated[str, Field(min_length=1, max_length=200)]


class DeploymentTarget(StrEnum):
    vpc = "vpc"
    private_cloud = "private_cloud"
    on_prem = "on_prem"
    air_gapped = "air_gapped"
    public_cloud = "public_cloud"
    external_api = "external_api"
    notebook = "notebook"


class Person(WriteModel):
    name: Name
    email: Annotated[EmailStr, Field(max_length=320)]


class Deployment(WriteModel):
    target: DeploymentTarget | None = Field(default=None, description="Where the project runs.")
    same_runtime_as_production: StrictBool | None = Field(
        default=None, description="The POC runs on the runtime that production will use."
    )
    sovereign: StrictBool | None = Field(default=None, description="Deployable in a sovereign, air-gapped site.")


def deployment_of(target: str | None, same_runtime: bool | None, sovereign: bool | None) -> Deployment:
    return Deployment.model_construct(
        target=DeploymentTarget(target) if target else None,
        same_runtime_as_production=same_runtime,
        sovereign=sovereign,
    )


def person_of(name: str | None, email: str | None) -> Person | None:
    return Person.model_construct(name=name, email=email) if name and email else None


class PlatformFields(WriteModel):
    """The writable fields of a platform."""

    read_only_fields = frozenset({"id", "created_at", "updated_at"})

    name: Name
    deployment: Deployment = Field(
        default_factory=Deployment,
        description="Where the platform runs. A project on the platform reads each of these where it has "
        "none of its own; its own value wins.",
    )
    owner: Person | None = Field(default=None, description="Who runs the platform.")


class PlatformCreate(PlatformFields):
    key: Slug


class PlatformPatch(PlatformFields):
    key: Slug | None = Field(default=None, description="If given, must equal the key in the path.")


class PlatformRead(ReadModel):
    id: uuid.UUID
    key: str
    name: str
    deployment: Deployment
    owner: Person | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_platform(cls, platform: "Platform | Row[Any]") -> "PlatformRead":
        return cls.model_construct(
            id=platform.id,
            key=platform.key,
            name=platform.name,
            deployment=deployment_of(
                platform.deployment_target, platform.deployment_same_runtime, platform.deployment_sovereign
            ),
            owner=person_of(platform.owner_name, platform.owner_email),
            created_at=platform.created_at,
            updated_at=platform.updated_at,
        )

    def writable(self) -> dict[str, Any]:
        """The fields a merge patch applies to, as JSON values."""
        return self.model_dump(mode="json", exclude=set(PlatformFields.read_only_fields))
