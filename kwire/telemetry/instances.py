"""Client instances and the rules of GetTelemetrySubscriptions and
PushTelemetry, as Kafka's ClientMetricsManager applies them (sans-IO: the
caller passes the time).

An instance is created on a client's first request (the broker picks the id
when the client sends the zero UUID, or takes the one it sends: a client
that pushed to another broker keeps its id). Its subscription is worked out
then and again whenever the CLIENT_METRICS resources change; a push with an
older subscription id gets UNKNOWN_SUBSCRIPTION_ID and the client asks again.
Requests closer together than the push interval are throttled, except the
first push after a GetTelemetrySubscriptions (clients add jitter). After a
terminating push nothing more is accepted. Instances expire when idle for
max(60 s, 3 push intervals), and at most MAX_INSTANCES are kept (least
recently used go first).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable

import attrs

from kwire.cluster.client_metrics_configs import Subscription
from kwire.protocol.errors import ErrorCode
from kwire.telemetry.subscriptions import ClientMetadata, ClientSubscription, subscription_for

MAX_INSTANCES = 16384  # as Kafka: 16k active client connections per broker
EXPIRY_MS = 60000
# The ids Kafka reserves (Uuid.RESERVED): never a client instance id.
ZERO_UUID = uuid.UUID(int=0)
RESERVED_IDS = frozenset({ZERO_UUID, uuid.UUID(int=1)})
# Compression type ids (as in a record batch's attributes).
NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
# What GetTelemetrySubscriptions offers, in Kafka's order of preference.
ACCEPTED_COMPRESSION_TYPES = (ZSTD, LZ4, GZIP, SNAPPY)
KNOWN_COMPRESSION_TYPES = frozenset({NONE, GZIP, SNAPPY, LZ4, ZSTD})


class TelemetryRefusal(Exception):
    """A telemetry request answered with an error code."""

    def __init__(self, error_code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@attrs.define
class ClientInstance:
    metadata: ClientMetadata
    subscription: ClientSubscription
    subscription_version: int
    last_get_ms: int = 0
    last_push_ms: int = 0
    # A GetTelemetrySubscriptions came after the last accepted push (Kafka
    # compares the two times; a flag also holds within one millisecond).
    fetched_since_push: bool = False
    terminating: bool = False
    last_error: int = 0
    expires_at_ms: int = 0

    @property
    def instance_id(self) -> uuid.UUID:
        return self.metadata.client_instance_id

    def may_get(self, now_ms: int) -> bool:
        """A GetTelemetrySubscriptions is due: a push interval since the last
        request of either kind (recorded when due)."""
        if now_ms - max(self.last_get_ms, self.last_push_ms) >= self.subscription.interval_ms:
            self.fetched(now_ms)
            return True
        return False

    def fetched(self, now_ms: int) -> None:
        self.last_get_ms = now_ms
        self.fetched_since_push = True

    def may_push(self, now_ms: int) -> bool:
        """A push is due: the first after a GetTelemetrySubscriptions, or a
        push interval after the last one (recorded when due)."""
        due = self.fetched_since_push or now_ms - self.last_push_ms >= self.subscription.interval_ms
        if due:
            self.last_push_ms = now_ms
            self.fetched_since_push = False
        return due


class ClientInstances:
    """The client instances this broker knows; `subscriptions` gives the
    CLIENT_METRICS resources' version and the parsed subscriptions."""

    def __init__(
        self,
        subscriptions: Callable[[], tuple[int, tuple[Subscription, ...]]],
        max_instances: int = MAX_INSTANCES,
        expiry_ms: int = EXPIRY_MS,
    ) -> None:
        self._subscriptions = subscriptions
        self.max_instances = max_instances
        self.expiry_ms = expiry_ms
        self._instances: OrderedDict[uuid.UUID, ClientInstance] = OrderedDict()
        self._next_sweep_ms = 0

    def __len__(self) -> int:
        return len(self._instances)

    def get(self, instance_id: uuid.UUID) -> ClientInstance | None:
        return self._instances.get(instance_id)

    def get_subscriptions(
        self, requested: uuid.UUID | None, metadata: Callable[[uuid.UUID], ClientMetadata], now_ms: int
    ) -> ClientInstance:
        """GetTelemetrySubscriptions: the instance (a new id for the zero
        UUID), whose subscription is the answer; raises TelemetryRefusal."""
        instance_id = requested if requested is not None and requested != ZERO_UUID else self._new_id()
        instance = self._instance(instance_id, metadata, now_ms)
        # A client told its subscription changed (or its compression refused)
        # may ask again at once, and then push at once.
        retry = instance.last_error in (ErrorCode.unknown_subscription_id, ErrorCode.unsupported_compression_type)
        if retry:
            instance.fetched(now_ms)
        elif not instance.may_get(now_ms):
            raise TelemetryRefusal(
                ErrorCode.throttling_quota_exceeded,
                f"Request from the client [{instance_id}] arrived before the next push interval time",
            )
        instance.last_error = ErrorCode.none
        return instance

    def check_push(
        self,
        instance_id: uuid.UUID | None,
        subscription_id: int,
        terminating: bool,
        compression_type: int,
        size: int,
        max_bytes: int,
        metadata: Callable[[uuid.UUID], ClientMetadata],
        now_ms: int,
    ) -> ClientInstance:
        """PushTelemetry's checks, in Kafka's order; the instance when the
        push is accepted, else TelemetryRefusal."""
        if instance_id is None or instance_id in RESERVED_IDS:
            raise TelemetryRefusal(
                ErrorCode.invalid_request,
                f"Invalid request from the client [{instance_id}], invalid client instance id",
            )
        instance = self._instance(instance_id, metadata, now_ms)
        try:
            self._validate_push(instance, subscription_id, terminating, compression_type, size, max_bytes, now_ms)
        except TelemetryRefusal as refusal:
            instance.last_error = refusal.error_code
            raise
        finally:
            instance.terminating = terminating
        instance.last_error = ErrorCode.none
        return instance

    @staticmethod
    def _validate_push(
        instance: ClientInstance,
        subscription_id: int,
        terminating: bool,
        compression_type: int,
        size: int,
        max_bytes: int,
        now_ms: int,
    ) -> None:
        who = instance.instance_id
        if instance.terminating:
            raise TelemetryRefusal(
                ErrorCode.invalid_request,
                f"Client [{who}] sent the previous request with state terminating to TRUE, "
                "can not accept any requests after that",
            )
        if not instance.may_push(now_ms) and not terminating:
            raise TelemetryRefusal(
                ErrorCode.throttling_quota_exceeded,
                f"Request from the client [{who}] arrived before the next push interval time",
            )
        if subscription_id != instance.subscription.subscription_id:
            raise TelemetryRefusal(
                ErrorCode.unknown_subscription_id, f"Unknown client subscription id for the client [{who}]"
            )
        if compression_type not in KNOWN_COMPRESSION_TYPES:
            raise TelemetryRefusal(
                ErrorCode.unsupported_compression_type,
                f"Unknown compression type [{compression_type}] is received in telemetry request from [{who}]",
            )
        if size > max_bytes:
            raise TelemetryRefusal(
                ErrorCode.telemetry_too_large,
                f"Telemetry request from [{who}] is larger than the maximum allowed size [{max_bytes}]",
            )

    def expire(self, now_ms: int) -> None:
        """Forget the instances idle past their expiry."""
        self._next_sweep_ms = now_ms + 1000  # requests look again at most once a second
        for instance_id in [i for i, instance in self._instances.items() if instance.expires_at_ms <= now_ms]:
            del self._instances[instance_id]

    def _new_id(self) -> uuid.UUID:
        while True:
            candidate = uuid.uuid4()
            if candidate not in self._instances and candidate not in RESERVED_IDS:
                return candidate

    def _instance(
        self, instance_id: uuid.UUID, metadata: Callable[[uuid.UUID], ClientMetadata], now_ms: int
    ) -> ClientInstance:
        """The known instance (its subscription worked out again if the
        resources changed since), or a new one; its expiry pushed back."""
        if now_ms >= self._next_sweep_ms:
            self.expire(now_ms)
        version, subscriptions = self._subscriptions()
        instance = self._instances.get(instance_id)
        if instance is None:
            known = metadata(instance_id)
            instance = ClientInstance(known, subscription_for(known, subscriptions), version)
            self._instances[instance_id] = instance
            while len(self._instances) > self.max_instances:
                self._instances.popitem(last=False)
        else:
            self._instances.move_to_end(instance_id)
            if instance.subscription_version != version:
                # As Kafka: a fresh instance (request times and all) with the client's first facts.
                instance = ClientInstance(
                    instance.metadata, subscription_for(instance.metadata, subscriptions), version
                )
                self._instances[instance_id] = instance
        instance.expires_at_ms = now_ms + max(self.expiry_ms, 3 * instance.subscription.interval_ms)
        return instance
