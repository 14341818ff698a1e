"""--control-port / KWIRE_CONTROL_PORT: kwire's own option, off by default."""

import pytest

from kwire.config import ConfigError
from kwire.config_sources import load


def test_off_by_default():
    assert load(flags={}, environ={}).config.control_port is None


def test_from_the_flag_and_the_environment():
    assert load(flags={"control_port": "0"}, environ={}).config.control_port == 0
    assert load(flags={}, environ={"KWIRE_CONTROL_PORT": "9999"}).config.control_port == 9999
    assert load(flags={"control_port": "1234"}, environ={"KWIRE_CONTROL_PORT": "9999"}).config.control_port == 1234


@pytest.mark.parametrize("raw", ["-1", "70000", "x"])
def test_bad_values_are_one_line_errors(raw):
    with pytest.raises(ConfigError) as caught:
        load(flags={"control_port": raw}, environ={})
    assert "control-port" in str(caught.value)
