"""The console's small parts: escaping, value formats, request rates, the
lag history and the origin check."""

from kwire.clock import ManualClock
from kwire.console import value_formats
from kwire.console.app import same_origin
from kwire.console.chart import line_chart
from kwire.console.lag_history import KEEP_SAMPLES, LagHistory
from kwire.console.markup import Markup, h, join, size, table
from kwire.console.request_rates import RequestRates
from kwire.coordinator.offsets import CommittedOffset
from kwire.http.messages import HttpRequest
from kwire.observability.node_view import NodeView
from kwire.observability.request_events import RequestEvent
from tests.console.console_state import EVIL, START_MS, filled_core


def test_everything_but_markup_is_escaped():
    assert h("<td>{}</td>", EVIL) == "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"
    assert h("<td>{}</td>", Markup("<b>x</b>")) == "<td><b>x</b></td>"
    assert h('<a title="{t}">', t='"><script>') == '<a title="&quot;&gt;&lt;script&gt;">'
    assert join(["<", Markup("<br>")]) == "&lt;<br>"
    assert EVIL not in table(["<h>"], [[EVIL]]) and "&lt;h&gt;" in table(["<h>"], [[EVIL]])
    assert size(512) == "512 B" and size(1536) == "1.5 KiB" and size(3 * 1024**3) == "3.0 GiB"


def test_value_formats():
    assert value_formats.show(b"caf\xc3\xa9 \xff\x01\n", "text") == ("café \\xff\\x01\n", "")
    assert value_formats.show(b'{"a": [1]}', "json") == ('{\n  "a": [\n    1\n  ]\n}', "")
    assert value_formats.show(b"plain", "json") == ("plain", "not JSON")
    assert value_formats.show(b"AB", "hex") == ("00000000  41 42" + " " * 44 + "AB", "")
    assert value_formats.show(None, "text") == ("", "null")
    text, note = value_formats.show(b"x" * (value_formats.SHOWN_BYTES + 1), "json")
    assert len(text) == value_formats.SHOWN_BYTES and note.startswith("first 65,536 of")


def test_request_rates_cover_the_last_minute():
    clock = ManualClock(monotonic=100.0)
    rates = RequestRates(clock.monotonic)
    for _ in range(3):
        rates(RequestEvent("PLAINTEXT", "127.0.0.1:1", api_key=0))
    rates(RequestEvent("PLAINTEXT", "127.0.0.1:1", api_key=3))
    clock.advance(30)
    assert rates.last_minute() == ({0: 3, 3: 1}, 30.0)
    clock.advance(31)
    rates(RequestEvent("PLAINTEXT", "127.0.0.1:1", api_key=1))
    assert rates.last_minute() == ({1: 1}, 60.0)


def test_the_lag_history_is_bounded_and_forgets_deleted_groups():
    core = filled_core()
    history = LagHistory(NodeView(core, START_MS))
    for _ in range(KEEP_SAMPLES + 5):
        history.sample()
        core.clock.advance(5)
    samples = history.of(EVIL)
    assert len(samples) == KEEP_SAMPLES and samples[-1].total == 6 and samples[-1].partitions == {("orders", 0): 6}
    core.groups.commit(EVIL, {("orders", 0): CommittedOffset(10, -1, "", START_MS)})
    history.sample()
    assert history.of(EVIL)[-1].total == 0
    assert core.groups.delete_group(EVIL) == 0
    history.sample()
    assert history.of(EVIL) == []


def test_the_chart():
    chart = line_chart([("total", [(START_MS, 5), (START_MS + 5000, 2)]), (EVIL, [(START_MS, 1)])])
    assert chart.count("<polyline") == 2 and EVIL not in chart
    assert "No lag samples" in line_chart([("total", [])])


def test_same_origin():
    def request(*headers):
        return HttpRequest("POST", "/topics", (("host", "localhost:8080"), *headers))

    assert same_origin(request(("origin", "http://localhost:8080")))
    assert same_origin(request(("referer", "http://localhost:8080/topics")))
    assert not same_origin(request(("origin", "http://localhost:8081")))
    assert not same_origin(request(("referer", "http://evil.example/?http://localhost:8080")))
    assert not same_origin(request(("origin", "null")))
    assert not same_origin(request())
