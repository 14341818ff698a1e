"""The properties-file parser follows java.util.Properties.load."""

import pytest

from kwire.config import ConfigError
from kwire.config_files import Entry, parse_properties, read_properties


def pairs(text: str) -> list[tuple[str, str]]:
    return [(entry.key, entry.value) for entry in parse_properties(text, "f")]


def test_the_three_separators_and_blanks_around_them():
    assert pairs("a=1\nb: 2\nc 3\nd   =   4\ne\t:\t5\nf=\n") == [
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
        ("d", "4"),
        ("e", "5"),
        ("f", ""),
    ]


def test_only_the_first_separator_splits():
    assert pairs("listeners=PLAINTEXT://:9092\nx = a=b:c d") == [("listeners", "PLAINTEXT://:9092"), ("x", "a=b:c d")]


def test_comments_and_blank_lines_are_skipped():
    assert pairs("# a comment\n! another\n   # indented\n\n   \nkey=value # not a comment\n") == [
        ("key", "value # not a comment")
    ]


def test_a_trailing_backslash_continues_the_line_without_the_next_lines_indentation():
    text = "list=a,\\\n    b,\\\n    c\nnext=1\n"
    assert pairs(text) == [("list", "a,b,c"), ("next", "1")]


def test_an_even_number_of_backslashes_does_not_continue():
    assert pairs("path=C:\\\\\nnext=1") == [("path", "C:\\"), ("next", "1")]


def test_a_continued_line_starting_with_a_hash_is_not_a_comment():
    assert pairs("a=1,\\\n#2\n") == [("a", "1,#2")]


def test_escapes():
    assert pairs("tab=a\\tb\nuni=\\u0041\\u00e9\nother=\\q\\=\\:\\ x\nkey\\ with\\=sep=v") == [
        ("tab", "a\tb"),
        ("uni", "Aé"),
        ("other", "q=: x"),
        ("key with=sep", "v"),
    ]


def test_a_malformed_unicode_escape_names_the_line():
    with pytest.raises(ConfigError, match=r"^f:3: Malformed \\uxxxx encoding$"):
        parse_properties("a=1\n\nb=\\u12G4\n", "f")


def test_line_endings_of_every_kind_and_the_line_of_each_entry():
    entries = parse_properties("a=1\r\nb=2\rc=3\n\n# x\nd=4,\\\n5", "server.properties")
    assert entries == [
        Entry("a", "1", "server.properties:1"),
        Entry("b", "2", "server.properties:2"),
        Entry("c", "3", "server.properties:3"),
        Entry("d", "4,5", "server.properties:6"),
    ]


def test_a_file_ending_in_a_continuation_keeps_what_was_read():
    assert pairs("a=1\\") == [("a", "1")]


def test_reading_a_file(tmp_path):
    path = tmp_path / "server.properties"
    path.write_bytes("num.partitions=3\nname=caf\xe9\n".encode("latin-1"))  # Java's own encoding
    assert [(e.key, e.value, e.origin) for e in read_properties(path)] == [
        ("num.partitions", "3", f"{path}:1"),
        ("name", "café", f"{path}:2"),
    ]


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^cannot read config file .*nope.properties: No such file or directory$"):
        read_properties(tmp_path / "nope.properties")
