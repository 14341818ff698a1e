"""The topics list (with the create and delete forms) and one topic's page:
partitions, leaders, offsets, sizes and configs."""

from __future__ import annotations

from kwire.cluster.cluster import Topic
from kwire.console import cluster_data, links
from kwire.console.markup import Markup, h, join, number, size, table
from kwire.handlers.configs import topic_entries
from kwire.observability.node_view import NodeView

# DescribeConfigs' config sources, by Kafka's names.
_SOURCES = {
    1: "DYNAMIC_TOPIC_CONFIG",
    2: "DYNAMIC_BROKER_CONFIG",
    3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
    4: "STATIC_BROKER_CONFIG",
    5: "DEFAULT_CONFIG",
}


def render_list(view: NodeView, notice: Markup | None = None) -> Markup:
    cluster = view.core.state.cluster
    rows = []
    for topic in sorted(cluster.topics.values(), key=lambda t: t.name):
        partitions = cluster_data.partition_rows(view, topic)
        messages = sum(p.high_watermark - p.log_start for p in partitions if p.online)
        delete = (
            Markup('<span class="muted">internal</span>')
            if topic.is_internal
            else h(
                '<form class="inline" method="post" action="{}" onsubmit="return confirm(this.dataset.ask)" data-ask="{}">'
                '<button class="danger" type="submit">Delete</button></form>',
                links.topic(topic.name) + "/delete",
                f"Delete topic {topic.name}?",
            )
        )
        rows.append(
            (
                h('<a href="{}">{}</a>', links.topic(topic.name), topic.name),
                number(len(topic.partitions)),
                number(len(topic.replicas[0]) if topic.replicas else 1),
                number(messages),
                size(sum(p.size_bytes for p in partitions)),
                delete,
            )
        )
    listing = table(["Topic", "Partitions", "Replication", "Messages", "Size", ""], rows, numeric=(1, 2, 3, 4))
    form = Markup(
        '<h2>Create a topic</h2><form class="panel" method="post" action="/topics">'
        '<label>Name<input name="name" required maxlength="249" size="28"></label>'
        '<label>Partitions<input name="partitions" type="number" value="1" min="1" size="6"></label>'
        '<label>Replication factor<input name="replication_factor" type="number" value="-1" size="6"></label>'
        '<label>Configs (key=value, one a line)<textarea name="configs" rows="1" cols="32"></textarea></label>'
        '<button type="submit">Create topic</button></form>'
    )
    return h("{}{}{}", notice or Markup(""), listing, form)


def render_topic(view: NodeView, topic: Topic) -> Markup:
    state = view.core.state
    partitions = cluster_data.partition_rows(view, topic)
    rows = [
        (
            h('<a href="{}">{}</a>', links.messages(topic.name, partition=p.index), p.index),
            p.leader,
            p.leader_epoch,
            ", ".join(map(str, p.replicas)),
            ", ".join(map(str, p.isr)),
            number(p.log_start) if p.online else "-",
            number(p.high_watermark) if p.online else "-",
            number(p.log_end) if p.online else "-",
            number(p.last_stable) if p.online else "-",
            number(p.high_watermark - p.log_start) if p.online else "-",
            size(p.size_bytes) if p.online else "-",
            number(p.segments) if p.online else "-",
        )
        for p in partitions
    ]
    partition_table = table(
        [
            "Partition",
            "Leader",
            "Epoch",
            "Replicas",
            "ISR",
            "Log start",
            "High watermark",
            "Log end",
            "Last stable",
            "Messages",
            "Size",
            "Segments",
        ],
        rows,
        numeric=(0, 1, 2, 5, 6, 7, 8, 9, 10, 11),
    )
    configs = table(
        ["Config", "Value", "Source"],
        [
            (
                h("<b>{}</b>", entry.name) if entry.source == 1 else entry.name,
                entry.value if entry.value is not None else "null",
                _SOURCES.get(entry.source, str(entry.source)),
            )
            for entry in topic_entries(state.config, topic.configs, state.cluster.broker_configs)
        ],
    )
    summary = h(
        '<p class="muted">Topic id {} · {} partition(s) · {} · <a href="{}">Browse messages</a></p>',
        str(topic.topic_id),
        len(topic.partitions),
        size(sum(p.size_bytes for p in partitions)),
        links.messages(topic.name, partition=0),
    )
    return join([summary, Markup("<h2>Partitions</h2>"), partition_table, Markup("<h2>Configs</h2>"), configs])
