"""The SCRAM credential store alone: what it writes (one batch per
request, nothing when nothing passes), lookup, and reload."""

from kwire.cluster.metadata_log import MetadataLog, replay_records
from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.protocol.errors import ErrorCode
from kwire.security.credentials import ScramCredential
from kwire.security.scram_store import Deletion, ScramCredentials, Upsertion

SALTED = b"s" * 32


def _store(stored=None):
    writes = []
    return ScramCredentials(stored or {}, writes.append), writes


def test_one_write_per_request_and_none_when_nothing_passes():
    store, writes = _store()
    results = store.alter([], [Upsertion("a", 1, 4096, b"salt", SALTED), Upsertion("b", 2, 5000, b"salt", SALTED)])
    assert [(r.user, r.error_code) for r in results] == [("a", ErrorCode.none), ("b", ErrorCode.none)]
    assert len(writes) == 1
    assert writes[0][("a", "SCRAM-SHA-256")] == ScramCredential.from_salted_password(
        "SCRAM-SHA-256", b"salt", SALTED, 4096
    )
    assert store.lookup("b", "SCRAM-SHA-512").iterations == 5000
    assert store.alter([Deletion("nobody", 1)], [Upsertion("c", 1, 1, b"salt", SALTED)])
    assert len(writes) == 1 and store.lookup("c", "SCRAM-SHA-256") is None
    store.alter([Deletion("a", 1)], [])
    assert writes[-1] == {("a", "SCRAM-SHA-256"): None}
    assert store.lookup("a", "SCRAM-SHA-256") is None and store.users() == ["b"]


def test_reload_replaces_everything():
    store, _ = _store({("a", "SCRAM-SHA-256"): ScramCredential("SCRAM-SHA-256", b"s", 4096, b"k", b"v")})
    store.reload({})
    assert store.lookup("a", "SCRAM-SHA-256") is None and store.describe(None) == []


def test_the_metadata_log_keeps_the_stored_form_and_forgets_on_delete():
    credential = ScramCredential.from_password("SCRAM-SHA-512", "pw", b"\x00\xffsalt", 8192)
    other = ScramCredential.from_password("SCRAM-SHA-256", "pw", b"salt", 4096)
    metadata = MetadataLog(PartitionLog.in_memory(LogConfig()))
    # A name with the characters a key might trip on.
    metadata.write_scram_credentials({('a:b"c', "SCRAM-SHA-512"): credential, ("d", "SCRAM-SHA-256"): other})
    assert metadata.replay().scram_credentials == {
        ('a:b"c', "SCRAM-SHA-512"): credential,
        ("d", "SCRAM-SHA-256"): other,
    }
    metadata.write_scram_credentials({("d", "SCRAM-SHA-256"): None})
    assert set(metadata.replay().scram_credentials) == {('a:b"c', "SCRAM-SHA-512")}
    assert b"pw" not in b"".join(value or b"" for _key, value in _records(metadata))


def _records(metadata):
    from kwire.log.keyed_records import iter_keyed_records

    return list(iter_keyed_records(metadata.log, 0))


def test_replay_of_a_tombstone_for_an_unknown_credential_is_harmless():
    assert replay_records([(b'scram-credential:["x", "SCRAM-SHA-256"]', None)]).scram_credentials == {}
