#!/usr/bin/env bash
# Time from a member joining to the group being stable: kafka-sync and the Java client,
# classic (cooperative-sticky) and the KIP-848 consumer protocol, 3 and 10 members,
# interleaved. Needs the broker (tests/kafka/broker start) and the Kafka jars in
# $KAFKA_SYNC_CACHE/kafka-<version>/libs.
#
#   benches/group_join.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
libs=$(ls -d "${KAFKA_SYNC_CACHE:-$HOME/.cache/kafka-sync}"/kafka-4.*/libs | sort -V | tail -1)
classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
javac -d "$classes" -cp "$libs/*" benches/peers/GroupJoin.java
cargo bench --all-features --bench group_join --no-run >/dev/null 2>&1
for n in 3 10; do
  for protocol in classic consumer; do
    cargo bench --all-features --bench group_join -- "$protocol" "$n" "$rounds" 2>/dev/null | grep median
    java -cp "$libs/*:$classes" \
      GroupJoin "$protocol" "$n" "$rounds" 2>/dev/null | grep median
  done
done
