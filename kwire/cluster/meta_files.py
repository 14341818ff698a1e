"""Kafka's small metadata files: `meta.properties` in each log directory
(the cluster id, which must survive restarts, the node id and the
directory's own `directory.id`) and `partition.metadata`
beside each partition's segments (its topic id).

A damaged `meta.properties` stops start-up with one line: starting with a
new cluster id would silently make a different cluster of the same data. A
damaged `partition.metadata` is rewritten from the metadata log, which is
the source of truth for topic ids.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from pathlib import Path

from kwire.errors import StartupError
from kwire.log.durable_files import write_atomically

log = logging.getLogger("kwire.cluster")

META_PROPERTIES = "meta.properties"
PARTITION_METADATA = "partition.metadata"


def base64_uuid(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


# --- meta.properties ------------------------------------------------------------


def read_cluster_id(data_dir: Path) -> str | None:
    """The cluster id in `meta.properties`; None if there is no such file.
    Raises StartupError naming the file when it is unreadable."""
    properties = read_meta_properties(data_dir)
    return None if properties is None else properties["cluster.id"]


def read_meta_properties(data_dir: Path) -> dict[str, str] | None:
    """Every `key=value` of `meta.properties` (cluster.id among them); None
    if there is no such file. Raises StartupError naming the file when it
    is unreadable or has no cluster id."""
    path = Path(data_dir) / META_PROPERTIES
    try:
        data = path.read_bytes()
        cluster_id_from(data)
        return parse_properties(data)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StartupError(f"{path} cannot be read: {exc.strerror}") from None
    except DamagedFile as exc:
        raise StartupError(f"{path} is damaged: {exc}; restore it, or remove it to start a new cluster") from None


def directory_id_from(properties: dict[str, str]) -> uuid.UUID | None:
    """The `directory.id` Kafka 3.7+ gives each log directory; None when
    absent or not a base64 uuid (a new one is written then)."""
    encoded = properties.get("directory.id", "")
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None
    return uuid.UUID(bytes=raw) if len(raw) == 16 else None


class DamagedFile(ValueError):
    """A metadata file that does not say what it should; str() says why."""


def cluster_id_from(data: bytes) -> str:
    cluster_id = parse_properties(data).get("cluster.id", "")
    if not cluster_id:
        raise DamagedFile("it has no cluster.id")
    return cluster_id


def parse_properties(data: bytes) -> dict[str, str]:
    """Java-properties `key=value` lines (comments and blank lines skipped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DamagedFile(f"not text (byte {exc.start})") from None
    properties = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise DamagedFile(f"line {number} is not key=value")
        properties[key.strip()] = value.strip()
    return properties


def write_meta_properties(data_dir: Path, cluster_id: str, node_id: int, directory_id: uuid.UUID | None = None) -> None:
    """Kafka's KRaft `meta.properties` (version 1); with `directory_id`,
    the log directory's own id as Kafka 3.7+ writes it."""
    path = Path(data_dir) / META_PROPERTIES
    lines = ["#kwire", f"cluster.id={cluster_id}"]
    if directory_id is not None:
        lines.append(f"directory.id={base64_uuid(directory_id)}")
    lines += [f"node.id={node_id}", "version=1"]
    write_atomically(path, ("\n".join(lines) + "\n").encode())


# --- partition.metadata ---------------------------------------------------------


def partition_metadata_content(topic_id: uuid.UUID) -> bytes:
    return f"version: 0\ntopic_id: {base64_uuid(topic_id)}\n".encode()


def read_topic_id(directory: Path) -> uuid.UUID:
    """The topic id in a partition's `partition.metadata`; raises ValueError
    (saying why) when the file is missing or damaged."""
    path = Path(directory) / PARTITION_METADATA
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ValueError("no partition.metadata") from None
    except UnicodeDecodeError:
        raise ValueError("partition.metadata is not text") from None
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    if fields.get("version") != "0" or "topic_id" not in fields:
        raise ValueError("partition.metadata lacks `version: 0` or a topic_id")
    encoded = fields["topic_id"].strip()
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"partition.metadata holds a malformed topic id {encoded[:30]!r}") from None
    if len(raw) != 16:
        raise ValueError(f"partition.metadata holds a malformed topic id {encoded[:30]!r}")
    return uuid.UUID(bytes=raw)


def write_partition_metadata(directory: Path, topic_id: uuid.UUID) -> None:
    """Kafka's `partition.metadata`: the topic id beside the segments. A
    file that says something else (damage) is rewritten, with a warning."""
    path = Path(directory) / PARTITION_METADATA
    content = partition_metadata_content(topic_id)
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = None
    if existing == content:
        return
    if existing is not None:
        try:
            found = f"topic id {base64_uuid(read_topic_id(directory))}"
        except ValueError as exc:
            found = str(exc)
        log.warning("Rewrote %s from the metadata log (topic id %s): it held %s", path, base64_uuid(topic_id), found)
    # Replaced atomically but not fsynced: it is derived from the metadata
    # log (fsynced on every write) and rewritten here at every start-up if it
    # differs, while an fsync would cost ~2 ms per partition created.
    write_atomically(path, content, durable=False)
