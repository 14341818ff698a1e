"""Every admin change is one INFO line on the `kwire.admin` logger: the API,
who asked and what came of each item."""

import logging

import pytest

from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.handlers.test_topic_admin import delete_by_name, grow

CREATE_TOPICS, DELETE_TOPICS, DELETE_RECORDS, CREATE_PARTITIONS, DELETE_GROUPS = 19, 20, 21, 37, 42


@pytest.fixture
def client():
    core = make_core()
    yield CoreClient(core)
    core.close()


def admin_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "kwire.admin"]


def test_each_admin_change_is_one_info_line_naming_the_api_the_client_and_the_outcome(client, caplog):
    with caplog.at_level(logging.INFO, logger="kwire.admin"):
        client.call(CREATE_TOPICS, 7, rq.create("audited"))
        client.call(CREATE_TOPICS, 7, rq.create("audited", validate_only=True))
        client.call(CREATE_PARTITIONS, 3, grow("audited", 3))
        client.call(
            DELETE_RECORDS,
            2,
            dict(topics=[dict(name="audited", partitions=[dict(partition_index=0, offset=0)])], timeout=1000),
        )
        client.call(DELETE_GROUPS, 2, dict(groups_names=["nobody"]))
        client.call(DELETE_TOPICS, 6, delete_by_name("audited", "absent"))
    assert admin_lines(caplog) == [
        "CreateTopics from client kwire at -: audited: created",
        "CreateTopics (validate only) from client kwire at -: "
        "audited: TOPIC_ALREADY_EXISTS (Topic 'audited' already exists.)",
        "CreatePartitions from client kwire at -: audited -> 3: ok",
        "DeleteRecords from client kwire at -: audited-0: log start 0",
        "DeleteGroups from client kwire at -: nobody: GROUP_ID_NOT_FOUND",
        "DeleteTopics from client kwire at -: absent: UNKNOWN_TOPIC_OR_PARTITION, audited: deleted",
    ]
    assert {record.levelname for record in caplog.records if record.name == "kwire.admin"} == {"INFO"}
