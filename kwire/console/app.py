"""The console's routes: every page under `/`, dispatched by path.

    /                                   overview
    /topics                             topics (POST: create)
    /topics/<name>                      one topic
    /topics/<name>/delete               POST: delete
    /topics/<name>/messages?partition=&offset=|timestamp=&limit=&format=
    /groups, /groups/<id>               consumer groups, one group
    /transactions                       transactions and producers
    /clients, /clients/<instance id>    clients' own metrics (KIP-714 telemetry)

A form's POST must come from the console itself: its Origin (or Referer)
names the host the request was sent to, or it is refused (403), so another
site cannot make a visitor's browser create or delete topics.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote, urlsplit

from kwire.console import (
    clients_page,
    cluster_data,
    groups_page,
    links,
    messages_page,
    overview_page,
    share_group_page,
    topic_changes,
    topics_page,
    transactions_page,
)
from kwire.console.lag_history import LagHistory
from kwire.console.layout import page
from kwire.console.markup import Markup, h, join
from kwire.console.record_browser import read_page, start_for_timestamp
from kwire.console.request_rates import RequestRates
from kwire.http.messages import HttpRequest, HttpResponse
from kwire.http.router import Router
from kwire.log.storage_errors import StorageError
from kwire.observability.node_view import NodeView
from kwire.observability.share_in_flight import share_group_state, share_groups_state
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import RecordDecodeError

log = logging.getLogger("kwire.console")

MAX_CONFIG_LINES = 100


class Console:
    def __init__(self, view: NodeView) -> None:
        self.view = view
        self.rates = RequestRates(view.core.state.clock.monotonic)
        self.history = LagHistory(view)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        parts = [unquote(part) for part in request.path.strip("/").split("/")] if request.path != "/" else []
        if request.method == "POST":
            return self._post(request, parts)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, b"GET, HEAD or POST\n", headers=(("allow", "GET, HEAD, POST"),))
        return self._get(request, parts)

    # --- pages -------------------------------------------------------------------

    def _get(self, request: HttpRequest, parts: list[str]) -> HttpResponse:
        state = self.view.core.state
        if not parts:
            return _html("Overview", overview_page.render(self.view, self.rates), "/")
        if parts == ["topics"]:
            notice = Markup("")
            if request.arg("deleted"):
                notice = h('<p class="notice">Deleted topic {}.</p>', request.arg("deleted"))
            return _html("Topics", topics_page.render_list(self.view, notice), "/topics")
        if parts[0] == "topics" and len(parts) in (2, 3):
            topic = state.cluster.get(parts[1])
            if topic is None:
                return _not_found(f"No topic {parts[1]}.")
            if len(parts) == 2:
                return _html(f"Topic {topic.name}", topics_page.render_topic(self.view, topic), "/topics")
            if parts[2] == "messages":
                return self._messages(request, topic.name)
        if parts == ["groups"]:
            shares = share_group_page.render_list(share_groups_state(self.view.all_nodes()))
            body = join([groups_page.render_list(cluster_data.groups(self.view)), shares])
            return _html("Consumer groups", body, "/groups")
        if parts[0] == "groups" and len(parts) == 2:
            info = cluster_data.group(self.view, parts[1])
            share = share_group_state(self.view.all_nodes(), parts[1]) if info is None else None
            if share is not None:
                return _html(f"Share group {parts[1]}", share_group_page.render_group(share), "/groups")
            if info is None:
                return _not_found(f"No group {parts[1]}.")
            body = groups_page.render_group(info, self.history.of(info.group_id), state.clock.wall_ms())
            return _html(f"Group {info.group_id}", body, "/groups")
        if parts == ["transactions"]:
            return _html("Transactions and producers", transactions_page.render(self.view), "/transactions")
        if parts == ["clients"]:
            return _html("Client metrics", clients_page.render_list(self.view), "/clients")
        if parts[0] == "clients" and len(parts) == 2:
            found = clients_page.render_client(self.view, parts[1])
            if found is None:
                return _not_found(f"No client instance {parts[1]} has pushed metrics.")
            return _html(found[0], found[1], "/clients")
        return _not_found(f"No page at {request.path}.")

    def _messages(self, request: HttpRequest, name: str) -> HttpResponse:
        topic = self.view.core.state.cluster.topics[name]
        title = f"Messages of {name}"
        try:
            query = messages_page.parse_query(request.query)
            if not 0 <= query.partition < len(topic.partitions):
                raise messages_page.BadQuery(f"{name} has no partition {query.partition}")
        except messages_page.BadQuery as bad:
            body = h('{}<p class="error">{}</p>', messages_page.render_form(topic, None), str(bad))
            return _html(title, body, "/topics")
        form = messages_page.render_form(topic, query)
        log_ = cluster_data.leader_log(self.view, name, query.partition)
        if log_ is None:
            body = h('{}<p class="error">{}</p>', form, f"No replica of {name}-{query.partition} on this node.")
            return _html(title, body, "/topics")
        try:
            if query.offset is not None:
                start = query.offset
            elif query.timestamp is not None:
                start = start_for_timestamp(log_, query.timestamp)
            else:
                start = log_.log_start_offset
            start = max(start, log_.log_start_offset)
            result = read_page(log_, start, query.limit)
        except (StorageError, RecordDecodeError) as exc:
            body = h('{}<p class="error">{}</p>', form, f"Could not read {name}-{query.partition}: {exc}")
            return _html(title, body, "/topics")
        return _html(title, h("{}{}", form, messages_page.render_page(topic, query, result, start)), "/topics")

    # --- forms -------------------------------------------------------------------

    def _post(self, request: HttpRequest, parts: list[str]) -> HttpResponse:
        if not same_origin(request):
            return HttpResponse.text(403, "Refused: a form posted from another site.\n")
        who = request.header("origin") or request.header("referer")
        if parts == ["topics"]:
            return self._create(request, who)
        if len(parts) == 3 and parts[0] == "topics" and parts[2] == "delete":
            outcome = topic_changes.delete_topic(self.view.core.state, parts[1], who)
            if outcome.ok:
                return HttpResponse.redirect("/topics?deleted=" + quote(parts[1], safe=""))
            return self._topics_with_error(outcome)
        return _not_found(f"No form at {request.path}.")

    def _create(self, request: HttpRequest, who: str) -> HttpResponse:
        form = request.form()

        def first(name: str, default: str = "") -> str:
            values = form.get(name)
            return values[0].strip() if values else default

        name = first("name")
        try:
            partitions = int(first("partitions", "-1") or "-1")
            replication = int(first("replication_factor", "-1") or "-1")
        except ValueError:
            return self._topics_with_error(
                topic_changes.Outcome(ErrorCode.invalid_request, "Partitions and replication factor are whole numbers.")
            )
        configs: dict[str, str | None] = {}
        for line in first("configs").splitlines()[:MAX_CONFIG_LINES]:
            if line.strip():
                key, _equals, value = line.partition("=")
                configs[key.strip()] = value.strip()
        outcome = topic_changes.create_topic(self.view.core.state, name, partitions, replication, configs, who)
        if outcome.ok:
            return HttpResponse.redirect(links.topic(name))
        return self._topics_with_error(outcome)

    def _topics_with_error(self, outcome: topic_changes.Outcome) -> HttpResponse:
        notice = h('<p class="error"><b class="error-name">{}</b>: {}</p>', outcome.error_name, outcome.message)
        return _html("Topics", topics_page.render_list(self.view, notice), "/topics")


def same_origin(request: HttpRequest) -> bool:
    """Whether a POST came from a page of this host (the Origin header, else the Referer)."""
    host = request.header("host")
    source = request.header("origin") or request.header("referer")
    if not host or not source or source == "null":
        return False
    try:
        return urlsplit(source).netloc.lower() == host.lower()
    except ValueError:
        return False


def _html(title: str, body: Markup, active: str) -> HttpResponse:
    return HttpResponse.html(200, page(title, body, active))


def _not_found(message: str) -> HttpResponse:
    return HttpResponse.html(404, page("Not found", h('<p class="error">{}</p>', message)))


def add_routes(router: Router, view: NodeView) -> Console:
    """The console on every path the node's other routes leave free; its
    request counter watches the node's requests, and its lag sampler runs
    beside the HTTP server."""
    console = Console(view)
    view.core.state.request_observers.append(console.rates)
    view.background.append(console.history.run)
    router.add_prefix("/", console)
    return console
