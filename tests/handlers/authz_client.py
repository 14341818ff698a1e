"""A node with a fake authorizer, and a client that speaks as one principal:
what the authorization tests share."""

from __future__ import annotations

import dataclasses
from typing import Any

from kio.index import load_request_schema

from kwire.core import BrokerCore
from kwire.protocol.kio_build import field_plan
from kwire.security.resources import CLUSTER_NAME, AclOperation, ResourceType
from kwire.security.session import Session
from tests.core_client import CoreClient
from tests.wire import request_frame

ALICE = "User:alice"


class FakeAuthorizer:
    """Allows exactly the (principal, operation, resource type, name) granted."""

    def __init__(self) -> None:
        self.grants: set[tuple[str, AclOperation, ResourceType, str]] = set()

    def grant(self, operation: AclOperation, resource_type: ResourceType, name: str = CLUSTER_NAME) -> None:
        self.grants.add((ALICE, operation, resource_type, name))

    def authorize(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType, name: str
    ) -> bool:
        return (principal, operation, resource_type, name) in self.grants

    def authorize_by_resource_type(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType
    ) -> bool:
        return any(grant[:3] == (principal, operation, resource_type) for grant in self.grants)


class PrincipalClient(CoreClient):
    """Sends every request as ALICE over a SASL listener; fields a test
    leaves out get neutral values (0, "", empty lists, None where nullable)."""

    def __init__(self, core: BrokerCore) -> None:
        super().__init__(core)
        self.session = Session("SASL_PLAINTEXT", "SASL_PLAINTEXT", ALICE, "127.0.0.1")

    def raw(self, api_key: int, version: int, values: dict):
        schema = load_request_schema(api_key, version)
        frame = request_frame(api_key, version, completed(schema, values))
        return self.core.handle_frame(frame[4:], "/127.0.0.1", self.session)


def completed(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with every field of the request class `cls` present."""
    defaults = {field.name: field for field in dataclasses.fields(cls)}
    result = dict(values)
    for name, kafka_type, nested, is_sequence, nullable in field_plan(cls):
        if name in result:
            value = result[name]
            if nested is not None and is_sequence and value is not None:
                result[name] = [completed(nested, item) if isinstance(item, dict) else item for item in value]
            elif nested is not None and isinstance(value, dict):
                result[name] = completed(nested, value)
            continue
        field = defaults[name]
        if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
            continue
        if is_sequence:
            result[name] = []
        elif nullable:
            result[name] = None
        elif nested is not None:
            result[name] = completed(nested, {})
        elif kafka_type == "string":
            result[name] = ""
        elif kafka_type == "bool":
            result[name] = False
        elif kafka_type == "uuid":
            result[name] = None
        else:
            result[name] = 0
    return result
