"""What a handler receives and what it may answer with (sans-IO)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from kwire.observability.logs import log_event
from kwire.protocol.api_keys import ApiKey, api_name
from kwire.protocol.errors import ErrorCode
from kwire.protocol.fast_responses import Chunk
from kwire.security import ANONYMOUS
from kwire.security.resources import CLUSTER_NAME, AclOperation, ResourceType
from kwire.security.session import Session

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState
    from kwire.observability.request_events import RequestEvent
    from kwire.protocol.registry import ApiRegistry


def _bits(*operations: AclOperation) -> int:
    return sum(1 << operation for operation in operations)


_A = AclOperation
# What each resource type's *_authorized_operations field may list (Kafka's
# AclEntry.supportedOperations), as bit sets (1 << AclOperation code); with
# no authorizer every one of them is allowed.
TOPIC_OPERATIONS = _bits(
    _A.READ, _A.WRITE, _A.CREATE, _A.DELETE, _A.ALTER, _A.DESCRIBE, _A.DESCRIBE_CONFIGS, _A.ALTER_CONFIGS
)
CLUSTER_OPERATIONS = _bits(
    _A.CREATE, _A.ALTER, _A.DESCRIBE, _A.CLUSTER_ACTION, _A.DESCRIBE_CONFIGS, _A.ALTER_CONFIGS, _A.IDEMPOTENT_WRITE
)
GROUP_OPERATIONS = _bits(_A.READ, _A.DESCRIBE, _A.DELETE, _A.DESCRIBE_CONFIGS, _A.ALTER_CONFIGS)
OPERATIONS_NOT_REQUESTED = -(2**31)


@attrs.define
class ClientConnection:
    """What the broker knows of the connection a request came on: the peer's
    address and port, and the software it named in ApiVersions v3+ (KIP-511).
    Client metrics subscriptions (KIP-714) match on these."""

    address: str = ""  # "127.0.0.1", as Kafka's getHostAddress gives it
    port: int | None = None
    software_name: str | None = None
    software_version: str | None = None


@attrs.frozen
class RequestContext:
    """One request's facts and the node it came to: handlers reach the
    node's services through `state`; `registry` is what the node serves
    (ApiVersions lists it)."""

    state: BrokerState
    registry: ApiRegistry
    api_key: ApiKey
    api_version: int
    correlation_id: int
    client_id: str | None
    client_host: str = ""  # the peer, as Kafka shows it: "/127.0.0.1"
    request_size: int = 0  # header and body, without the size prefix (Kafka's sizeInBytes)
    session: Session | None = None  # the connection's listener and principal (None: an in-process caller)
    event: RequestEvent | None = None  # what metrics and the request log are told (None: nobody watches)
    connection: ClientConnection | None = None  # the connection's peer and software (None: an in-process caller)

    def note_error(self, code: int, count: int = 1, reason: str = "") -> None:
        """The answer carries error `code` (for `count` partitions or resources), for
        metrics and the request log; `reason` says why, when the handler knows."""
        if self.event is not None:
            self.event.note_error(int(code), count, reason)

    @property
    def principal(self) -> str:
        return ANONYMOUS if self.session is None else self.session.principal

    @property
    def listener(self) -> str:
        return "PLAINTEXT" if self.session is None else self.session.listener

    def allowed(self, operation: AclOperation, resource_type: ResourceType, name: str, *, audit: bool = True) -> bool:
        """Whether this request's principal may do `operation` on the resource
        (always, with no authorizer). A refusal is logged once, as an audit
        line; `audit=False` for checks that only filter what is listed."""
        authorizer = self.state.authorizer
        if authorizer is None:
            return True
        host = self._host
        if authorizer.authorize(self.principal, host, operation, resource_type, name):
            return True
        if audit:
            AUDIT_LOG.info(
                "Principal = %s is Denied operation = %s from host = %s on resource = %s:%s "
                "for request = %s via listener %s",
                self.principal,
                operation.name,
                host,
                resource_type.name,
                name,
                api_name(self.api_key),
                self.listener,
            )
        return False

    def allowed_on_cluster(self, operation: AclOperation, *, audit: bool = True) -> bool:
        """`allowed` on the one cluster resource."""
        return self.allowed(operation, ResourceType.CLUSTER, CLUSTER_NAME, audit=audit)

    def allowed_on_any(self, operation: AclOperation, resource_type: ResourceType) -> bool:
        """Whether some resource of the type allows `operation` (Kafka's
        authorizeByResourceType, used by InitProducerId for idempotence); unlogged."""
        authorizer = self.state.authorizer
        if authorizer is None:
            return True
        return authorizer.authorize_by_resource_type(self.principal, self._host, operation, resource_type)

    @property
    def _host(self) -> str:
        return self.client_host.lstrip("/") or "127.0.0.1"

    def authorized_operations(self, resource_type: ResourceType, name: str, operations: int) -> int:
        """The bit set (1 << AclOperation) of `operations` this principal may
        do on the resource, for the *_authorized_operations fields."""
        if self.state.authorizer is None:
            return operations
        allowed = 0
        for operation in AclOperation:
            if operations & (1 << operation) and self.allowed(operation, resource_type, name, audit=False):
                allowed |= 1 << operation
        return allowed


ADMIN_LOG = logging.getLogger("kwire.admin")
# One line per refused request and resource (Kafka's kafka.authorizer.logger).
AUDIT_LOG = logging.getLogger("kwire.authorizer")


def outcome(error_code: int, message: str | None = None, done: str = "ok") -> str:
    """One result for the admin log: `done`, or the error's Kafka name (and message)."""
    if error_code == 0:
        return done
    name = ErrorCode(error_code).name.upper()
    return f"{name} ({message})" if message else name


def log_admin_change(ctx: RequestContext, outcomes: str, validate_only: bool = False, **fields: Any) -> None:
    """Every admin change at INFO, one line: the API, who asked (client id and
    address) and what came of it; as fields (README "Logs") the API, the
    principal, client id and address, and any `fields` the handler adds."""
    if not ADMIN_LOG.isEnabledFor(logging.INFO):
        return
    api = api_name(ctx.api_key)
    message = (
        f"{api}{' (validate only)' if validate_only else ''} from client {ctx.client_id} at {ctx.client_host or '-'}"
    )
    who: dict[str, Any] = {
        "api": api,
        "principal": ctx.principal,
        "client_id": ctx.client_id,
        "client_address": ctx.event.client_address if ctx.event is not None else ctx.client_host.lstrip("/") or None,
    }
    if validate_only:
        who["validate_only"] = True
    log_event(ADMIN_LOG, logging.INFO, f"{message}: {outcomes or 'nothing'}", **who, **fields)


def note_result_errors(ctx: RequestContext, results: Iterable[Mapping[str, Any]], name_key: str = "name") -> None:
    """Each result's error code (with its name and message as the reason) for
    metrics and the request log: for admin responses that list one result per resource."""
    if ctx.event is None:
        return
    for result in results:
        code = result.get("error_code") or 0
        if code:
            name, message = result.get(name_key), result.get("error_message")
            ctx.note_error(int(code), reason=f"{name}: {message}" if message else str(name))


def millis(value: Any) -> int:
    """A duration field in milliseconds: kio gives some as timedelta."""
    return value if isinstance(value, int) else int(value.total_seconds() * 1000)


@attrs.frozen
class Encoded:
    """A response body already encoded, as a list of buffers.

    `throttle_time_ms` is the throttle time the body carries (a quota the
    handler enforced); `retime`, when given, encodes the same body with
    another throttle time (the dispatcher's request quota may ask a longer one).
    """

    parts: list[Chunk]
    throttle_time_ms: int = 0
    retime: Callable[[int], Encoded] | None = None


class Sentinel:
    """A handler's answer that is not a response (NO_RESPONSE, CLOSE_CONNECTION)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


# acks=0 produce: Kafka sends nothing back.
NO_RESPONSE = Sentinel("NO_RESPONSE")
# acks=0 produce that failed: Kafka closes the connection so the client notices.
CLOSE_CONNECTION = Sentinel("CLOSE_CONNECTION")
# Fault injection: close the connection instead of answering (kwire/faults/).
DROP_CONNECTION = Sentinel("DROP_CONNECTION")


@attrs.frozen
class Late:
    """Fault injection: write `outcome` (any dispatcher outcome) `delay_ms` late;
    the connection sleeps before writing, other connections carry on."""

    outcome: Any
    delay_ms: int


@attrs.define
class Delayed:
    """A response that waits (fetch long-poll): the server parks it until one
    of `wait_keys` gets new data or `max_wait_ms` passes, then calls
    `complete(final)`; `complete` returns the response, or None to keep
    waiting (only when final is False)."""

    wait_keys: list[Hashable]
    max_wait_ms: int
    complete: Callable[[bool], Any]


def once_replicated(
    ctx: RequestContext, partitions: list[tuple[str, int]], answer: Callable[[ErrorCode | None], Any]
) -> Any:
    """A write to `__consumer_offsets` or `__transaction_state` is answered
    once the ISR has it, as Kafka appends them with acks=all: `answer(None)`
    then, `answer(COORDINATOR_NOT_AVAILABLE)` (Kafka's mapping of a failed
    acks=all append) if it is not replicated within offsets.commit.timeout.ms.
    A lone node answers at once."""
    replicas = ctx.state.replicas
    if replicas is None:
        return answer(None)
    required: dict[tuple[str, int], int] = {}
    for topic, index in set(partitions):
        partition = ctx.state.cluster.partition(topic, index)
        if partition is not None and partition.replica is not None:
            required[(topic, index)] = partition.replica.log_end_offset
            ctx.state.notify((topic, index))  # the followers have something to copy

    def complete(final: bool) -> Any:
        for (topic, index), offset in required.items():
            done, _error = replicas.acks_all_done(topic, index, offset)
            if not done:
                return answer(ErrorCode.coordinator_not_available) if final else None
        return answer(None)

    immediate = complete(False)
    if immediate is not None:
        return immediate
    return Delayed(list(required), ctx.state.config.offsets_commit_timeout_ms, complete)


def respond(ctx: RequestContext, values: dict[str, Any]) -> Any:
    """The response entity for this request's API and version, built from
    `values` (fields the version lacks are dropped; throttle time 0)."""
    from kio.index import load_response_schema

    from kwire.protocol.kio_build import build

    return build(load_response_schema(ctx.api_key, ctx.api_version), dict(throttle_time=0, **values))
