#!/usr/bin/env bash
# librdkafka's own tests of Kafka 4's group protocols against one kwire
# broker: its consumer tests with group.protocol=consumer (KIP-848) and its
# share-consumer tests (KIP-932). The tests and what to expect are listed in
# librdkafka_groups.txt next to this script.
#
# Usage:
#   RDK_DIR=<built librdkafka tree> scripts/librdkafka_groups.sh [consumer|share] [-- run.sh options]
#
# Needs librdkafka's test runner built (tests/test-runner, v2.15) and the
# suite runner run.sh (RUN_SH, default ../shared/tools/librdkafka-suite/run.sh
# beside the repository; see its README.md). kwire runs from this checkout.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
RUN_SH=${RUN_SH:-$REPO/../shared/tools/librdkafka-suite/run.sh}
LIST=$HERE/librdkafka_groups.txt
: "${RDK_DIR:?set RDK_DIR to a built librdkafka tree (contains tests/test-runner)}"
[ -f "$RUN_SH" ] || { echo "no $RUN_SH: set RUN_SH to librdkafka-suite/run.sh" >&2; exit 2; }

MODES=${1:-consumer share}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift

tests_of() {  # mode: the test numbers listed for it, comma separated
    awk -v m="$1" '$1 == m { print substr($2, 1, 4) }' "$LIST" | sort -u | paste -sd, -
}

export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
for mode in $MODES; do
    case $mode in
        consumer)
            # test.c sets group.protocol=consumer on every consumer it makes.
            TEST_CONSUMER_GROUP_PROTOCOL=consumer bash "$RUN_SH" -t "$(tests_of consumer)" "$@" \
                'python -m kwire serve --port {port} --data-dir {datadir} -o num.partitions=4' ;;
        consumer-acl)
            # 0081 creates ACLs: an authorizer that lets everyone in, as librdkafka's test clusters have.
            TEST_CONSUMER_GROUP_PROTOCOL=consumer CAP_S=${CAP_S:-900} bash "$RUN_SH" -t "$(tests_of consumer-acl)" "$@" \
                'python -m kwire serve --port {port} --data-dir {datadir} -o num.partitions=4 -o authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer -o allow.everyone.if.no.acl.found=true' ;;
        share)
            # The share tests need a Kafka 4.2 broker; librdkafka's test clusters
            # set group.share.min.record.lock.duration.ms=1000. They run long.
            KAFKA_VER=4.2.0 CAP_S=${CAP_S:-900} bash "$RUN_SH" -t "$(tests_of share)" "$@" \
                'python -m kwire serve --port {port} --data-dir {datadir} -o num.partitions=4 -o group.share.min.record.lock.duration.ms=1000' ;;
        *) echo "unknown mode $mode (consumer, consumer-acl, share)" >&2; exit 2 ;;
    esac
done
