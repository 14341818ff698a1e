"""What handlers ask before acting on a resource (see RequestContext.allowed).

kwire/security/acls.py implements it over the ACLs in the metadata log;
with no authorizer configured (`authorizer.class.name` empty) BrokerState
has none and every request is allowed, as in Kafka.
"""

from __future__ import annotations

from typing import Protocol

from kwire.security.resources import AclOperation, ResourceType


class Authorizer(Protocol):
    def authorize(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType, name: str
    ) -> bool:
        """Whether `principal` connecting from `host` may do `operation` on the resource."""
        ...

    def authorize_by_resource_type(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType
    ) -> bool:
        """Whether it may do `operation` on some resource of the type (Kafka's
        authorizeByResourceType: an idempotent producer's WRITE on any topic)."""
        ...
