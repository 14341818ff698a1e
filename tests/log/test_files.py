from kwire.log.files import (
    CLEANED_LOG_SUFFIX,
    LOG_SUFFIX,
    SNAPSHOT_SUFFIX,
    TXN_INDEX_SUFFIX,
    file_name,
    files_in,
    offset_of,
    offsets_in,
    parse_partition_dir_name,
    partition_dir_name,
    sibling,
)


def test_names_round_trip():
    assert file_name(42, LOG_SUFFIX) == "00000000000000000042.log"
    assert file_name(7, CLEANED_LOG_SUFFIX) == "00000000000000000007.log.cleaned"
    assert offset_of("00000000000000000042.log", LOG_SUFFIX) == 42
    assert offset_of("00000000000000000042.log.swap", LOG_SUFFIX) is None
    assert offset_of("leader-epoch-checkpoint", LOG_SUFFIX) is None
    assert sibling("/d/t-0/00000000000000000042.log", TXN_INDEX_SUFFIX) == "/d/t-0/00000000000000000042.txnindex"


def test_listing_a_directory(tmp_path):
    for name in (
        "00000000000000000010.log",
        "00000000000000000002.log",
        "00000000000000000002.index",
        "00000000000000000005.snapshot",
        "x.log",
    ):
        (tmp_path / name).write_bytes(b"")
    assert offsets_in(tmp_path, LOG_SUFFIX) == [2, 10]
    assert files_in(tmp_path, SNAPSHOT_SUFFIX) == [(5, tmp_path / "00000000000000000005.snapshot")]


def test_partition_directory_names():
    assert partition_dir_name("orders-eu", 3) == "orders-eu-3"
    assert parse_partition_dir_name("orders-eu-3") == ("orders-eu", 3)
    for name in ("orders", "orders-", "-3", "orders-03", "orders-x"):
        assert parse_partition_dir_name(name) is None
