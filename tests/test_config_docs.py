"""`kwire config list`: every setting kwire takes, from the SETTINGS table and BrokerConfig."""

import json

import attrs

from kwire import cli
from kwire.config import SETTINGS, BrokerConfig, is_setting
from kwire.config_docs import DOCS, setting_rows


def test_every_setting_has_a_meaning_and_every_meaning_a_setting():
    names = [row["name"] for row in setting_rows()]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(DOCS)
    assert set(SETTINGS) <= set(names)
    fields = {f.name.replace("_", ".") for f in attrs.fields(BrokerConfig)}
    assert {name for name in fields if is_setting(name)} <= set(names)


def test_the_table_lists_defaults_and_types(capsys):
    assert cli.main(["config", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DEFAULT", "MEANING"]
    by_name = {line.split()[0]: line.split(maxsplit=3) for line in lines[1:]}
    assert by_name["num.partitions"][:3] == ["num.partitions", "INT", "1"]
    assert by_name["group.initial.rebalance.delay.ms"][2] == "100"
    assert by_name["log.flush.interval.ms"][2] == "null"
    assert by_name["listeners"][2] == "PLAINTEXT://127.0.0.1:9092"
    # aligned: every meaning starts in the same column
    column = lines[0].index("MEANING")
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines[1:])


def test_json_output(capsys):
    assert cli.main(["config", "list", "--output", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (row,) = [row for row in rows if row["name"] == "auto.create.topics.enable"]
    assert row == {
        "name": "auto.create.topics.enable",
        "type": "BOOLEAN",
        "default": "true",
        "meaning": DOCS["auto.create.topics.enable"],
    }
    assert len(rows) == len(DOCS)
