"""--log-level: a root level and LOGGER=LEVEL entries."""

import pytest

from kwire.config import ConfigError
from kwire.observability.log_levels import LogLevels, parse_log_levels


def test_a_bare_level_and_logger_entries_in_one_value_or_several():
    assert parse_log_levels("debug") == LogLevels("DEBUG")
    assert parse_log_levels("INFO,kafka.request.logger=DEBUG") == LogLevels(
        "INFO", (("kafka.request.logger", "DEBUG"),)
    )
    assert parse_log_levels(["kwire.groups=warn", " ERROR ", "kwire.groups=TRACE"]) == LogLevels(
        "ERROR", (("kwire.groups", "DEBUG"),)
    )
    assert parse_log_levels("kwire.admin=INFO").root is None
    assert parse_log_levels("kwire.admin=INFO").root_or_default == "INFO"


def test_a_flag_wins_over_the_environment_entry_by_entry():
    environment = parse_log_levels("WARNING,kwire.admin=DEBUG,kwire.groups=ERROR")
    flag = parse_log_levels("kwire.groups=INFO")
    assert flag.over(environment) == LogLevels("WARNING", (("kwire.admin", "DEBUG"), ("kwire.groups", "INFO")))


@pytest.mark.parametrize("text", ["LOUD", "kwire=LOUD", "=DEBUG", "my logger=INFO"])
def test_bad_entries_name_the_option(text):
    with pytest.raises(ConfigError, match=f"Invalid value {text} for option --log-level"):
        parse_log_levels(text)
