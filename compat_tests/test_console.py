"""The web console in a real browser (Debian's headless Chromium driven by
Playwright) against `kwire serve --http-port 0`, with data made by real
clients: kafka-python writes and commits, confluent-kafka writes, commits
behind the end and runs one committed and one open transaction. Every page
is loaded, its content checked, a screenshot saved (KWIRE_SCREENSHOTS, or
the test's tmp directory), and any console error or page error fails it."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from compat_tests.broker import KwireProcess, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORDERS = "console-orders"  # kafka-python's records, 10 on partition 0
EVENTS = "console-events"  # confluent-kafka's
TXN_TOPIC = "console-txn"
GROUP = "console-lagging"
LIVE_GROUP = "console-live"  # a kafka-python consumer that stays in the group
COMMITTED_AT = 4  # the group's committed offset on ORDERS-0: lag 10 - 4
RECORDS = 10
TIMEOUT_S = 15

pytestmark = pytest.mark.xdist_group("console")


def _chromium_or_skip() -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    directory = tmp_path_factory.mktemp("console")
    process = KwireProcess(None, directory / "kwire.log", ["--http-port", "0"]).start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def data(broker):
    """Topics, a lagging group, a committed and an open transaction."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KafkaPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        admin.create_topics(
            [
                NewTopic(ORDERS, 3, 1),
                NewTopic(EVENTS, 2, 1, topic_configs={"retention.ms": "3600000"}),
                NewTopic(TXN_TOPIC, 1, 1),
            ]
        )
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(RECORDS):
        value = json.dumps({"order": i, "note": "<script>alert(1)</script>"}).encode()
        producer.send(
            ORDERS, key=f"order-{i}".encode(), value=value, partition=0, headers=[("source", b"kafka-python")]
        )
    producer.flush(TIMEOUT_S)
    producer.close()

    confluent = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(5):
        confluent.produce(EVENTS, key=b"e", value=f"event {i}".encode(), partition=1)
    assert confluent.flush(TIMEOUT_S) == 0

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(ORDERS, 0, COMMITTED_AT)], asynchronous=False)
    consumer.close()

    live = KafkaConsumer(EVENTS, bootstrap_servers=broker.bootstrap, group_id=LIVE_GROUP, enable_auto_commit=False)
    wait_for(
        lambda: live.poll(timeout_ms=100) is not None and len(live.assignment()) == 2, "the live member's assignment"
    )
    live.commit({KafkaPartition(EVENTS, 1): OffsetAndMetadata(2, "", -1)})

    done = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "console-txn-done"})
    done.init_transactions(TIMEOUT_S)
    done.begin_transaction()
    done.produce(TXN_TOPIC, value=b"committed value")
    done.commit_transaction(TIMEOUT_S)
    open_one = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "console-txn-open"})
    open_one.init_transactions(TIMEOUT_S)
    open_one.begin_transaction()
    open_one.produce(TXN_TOPIC, value=b"open value")
    assert open_one.flush(TIMEOUT_S) == 0
    yield
    open_one.abort_transaction(TIMEOUT_S)
    live.close()
    del confluent, done, open_one  # librdkafka's clients closed while the broker still runs


@pytest.fixture(scope="module")
def browser():
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_S * 1000)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, tmp_path):
    """A page that records console errors and page errors (checked after each test)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_S * 1000)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems
    shots = Path(os.environ.get("KWIRE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.shot = lambda name: page.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)
    yield page
    context.close()
    assert problems == [], f"console errors: {problems}"


def _url(broker: KwireProcess, path: str) -> str:
    return f"http://127.0.0.1:{broker.http_port}{path}"


def test_overview_and_topics(broker, data, page):
    page.goto(_url(broker, "/"))
    assert page.title().startswith("Overview")
    overview = page.inner_text("main")
    assert "kwire 0.1.0" in overview and "PLAINTEXT" in overview
    assert "Produce" in overview  # the request rates saw the clients' requests
    page.shot("overview")

    page.click("text=Topics")
    listing = page.inner_text("main table")
    for name in (ORDERS, EVENTS, TXN_TOPIC):
        assert name in listing
    page.shot("topics")

    page.click(f"a:text-is('{ORDERS}')")
    assert page.title().startswith(f"Topic {ORDERS}")
    rows = page.locator("main table").first.locator("tbody tr")
    assert rows.count() == 3
    first = rows.nth(0).locator("td").all_inner_texts()
    assert first[0] == "0" and first[6] == str(RECORDS)  # partition 0's high watermark
    page.shot("topic")

    page.goto(_url(broker, f"/topics/{EVENTS}"))
    configs = page.locator("main table").nth(1).inner_text()
    assert "retention.ms\t3600000\tDYNAMIC_TOPIC_CONFIG" in configs


def test_message_browser(broker, data, page):
    page.goto(_url(broker, f"/topics/{ORDERS}/messages?partition=0&offset=2&limit=3&format=json"))
    rows = page.locator("main table tbody tr")
    assert rows.count() == 3
    cells = rows.nth(0).locator("td").all_inner_texts()
    assert cells[0] == "2" and cells[2].startswith("order-2")
    assert json.loads(rows.nth(0).locator(".value pre").inner_text()) == {
        "order": 2,
        "note": "<script>alert(1)</script>",
    }
    assert cells[4].strip() == "source: kafka-python"
    page.shot("messages-json")

    # From a timestamp (everything was written after the epoch's first second), as hex.
    page.goto(_url(broker, f"/topics/{EVENTS}/messages?partition=1&timestamp=1000&format=hex"))
    assert page.locator("main table tbody tr").count() == 5
    assert "65 76 65 6e 74 20 30" in page.inner_text("main table")  # "event 0"

    # The committed transaction: its record, then its COMMIT marker.
    page.goto(_url(broker, f"/topics/{TXN_TOPIC}/messages?partition=0"))
    text = page.inner_text("main table")
    assert "committed value" in text and "COMMIT marker" in text
    page.shot("messages-transaction")


def test_groups_show_lag(broker, data, page):
    page.goto(_url(broker, "/groups"))
    row = page.locator("main table tbody tr", has_text=GROUP)
    assert row.locator("td").all_inner_texts()[-1] == str(RECORDS - COMMITTED_AT)
    page.shot("groups")

    page.click(f"a:text-is('{GROUP}')")
    lag = page.locator(f".lag[data-topic='{ORDERS}'][data-partition='0']")
    assert lag.inner_text() == str(RECORDS - COMMITTED_AT)
    assert page.locator("svg.chart polyline").count() >= 1
    page.shot("group")

    page.goto(_url(broker, f"/groups/{LIVE_GROUP}"))
    assert "Stable" in page.inner_text(".cards")
    members = page.locator("main table").first.inner_text()
    assert f"{EVENTS}-0, {EVENTS}-1" in members
    assert page.locator(f".lag[data-topic='{EVENTS}'][data-partition='1']").inner_text() == "3"  # 5 - 2
    page.shot("group-live")


def test_transactions(broker, data, page):
    page.goto(_url(broker, "/transactions"))
    rows = page.locator("main table").first.locator("tbody tr")
    states = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text() for r in rows.all()}
    assert states["console-txn-done"] == "CompleteCommit"
    assert states["console-txn-open"] == "Ongoing"
    producers = page.locator("main table").nth(1).locator("tbody tr", has_text=TXN_TOPIC).all()
    open_from = sorted(row.locator("td").last.inner_text() for row in producers)
    assert open_from == ["-", "2"]  # the open transaction's record follows the committed one and its marker
    page.shot("transactions")


def test_create_and_delete_topics_with_the_forms(broker, data, page):
    from confluent_kafka.admin import AdminClient

    page.goto(_url(broker, "/topics"))
    page.fill("input[name=name]", "console-made")
    page.fill("input[name=partitions]", "4")
    page.fill("textarea[name=configs]", "cleanup.policy=compact")
    page.click("button:text('Create topic')")
    assert page.title().startswith("Topic console-made")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    described = wait_for(
        lambda: admin.list_topics(timeout=TIMEOUT_S).topics.get("console-made"), "console-made in metadata"
    )
    assert len(described.partitions) == 4

    # Kafka's error for a second creation, shown on the page.
    page.goto(_url(broker, "/topics"))
    page.fill("input[name=name]", "console-made")
    page.click("button:text('Create topic')")
    assert page.inner_text(".error-name") == "TOPIC_ALREADY_EXISTS"
    page.fill("input[name=name]", "bad/name")
    page.click("button:text('Create topic')")
    assert page.inner_text(".error-name") == "INVALID_TOPIC_EXCEPTION"
    page.shot("create-error")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("main table tbody tr", has_text="console-made").locator("button:text('Delete')").click()
    assert "Deleted topic console-made." in page.inner_text(".notice")
    wait_for(lambda: "console-made" not in admin.list_topics(timeout=TIMEOUT_S).topics, "console-made deleted")


def test_a_form_posted_from_another_site_is_refused(broker, data):
    request = urllib.request.Request(
        _url(broker, "/topics"), data=b"name=from-elsewhere", headers={"Origin": "http://evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=TIMEOUT_S)
    assert refused.value.code == 403
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        assert "from-elsewhere" not in admin.list_topics()
    finally:
        admin.close()


def test_client_metrics_page_shows_what_librdkafka_pushed(broker, data, page):
    """KIP-714: once a subscription matches, a confluent-kafka producer pushes
    its own metrics, and the Client metrics pages show them (last: the
    subscription makes every later librdkafka client push too)."""
    from confluent_kafka import Producer
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        subscription = {"metrics": "org.apache.kafka.producer.", "interval.ms": "100"}
        resource = ConfigResource(ConfigResourceType.CLIENT_METRICS, "console-ci", configs=subscription)
        admin.alter_configs([resource], raise_on_unknown=False)
    finally:
        admin.close()
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "console-pusher", "linger.ms": 5})

    def pushed() -> bool:
        producer.produce(EVENTS, b"pushed")
        producer.poll(0.1)
        with urllib.request.urlopen(_url(broker, "/clients"), timeout=5) as answer:
            return b"producer queue time avg" in answer.read()

    wait_for(pushed, "the producer's first push with metrics")
    assert producer.flush(TIMEOUT_S) == 0
    page.goto(_url(broker, "/clients"))
    listing = page.inner_text("main table")
    assert "console-pusher" in listing and "confluent-kafka-python" in listing
    page.shot("clients")
    page.click("a:text-is('console-pusher')")
    series = page.inner_text("main")
    assert "org.apache.kafka.producer.record.queue.time.avg" in series and "console-ci" in series
    page.shot("client")
