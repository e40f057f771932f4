#!/usr/bin/env bash
# kafka-init of docker-compose.yml: creates jobplane's topics explicitly (the
# brokers have auto.create.topics.enable=false) and fails if one exists with
# another partition count, which would move keys to other partitions.
# Idempotent. Reads BOOTSTRAP_SERVERS, TOPICS (space-separated), PARTITIONS,
# REPLICATION_FACTOR, MIN_INSYNC_REPLICAS.
set -euo pipefail

topics_cmd=(/opt/kafka/bin/kafka-topics.sh --bootstrap-server "${BOOTSTRAP_SERVERS}")

for topic in ${TOPICS}; do
	"${topics_cmd[@]}" --create --if-not-exists --topic "${topic}" \
		--partitions "${PARTITIONS}" --replication-factor "${REPLICATION_FACTOR}" \
		--config "min.insync.replicas=${MIN_INSYNC_REPLICAS}" \
		--config unclean.leader.election.enable=false
done

status=0
for topic in ${TOPICS}; do
	summary="$("${topics_cmd[@]}" --describe --topic "${topic}" | head -n 1)"
	echo "${summary}"
	count="$(grep -oE 'PartitionCount: *[0-9]+' <<<"${summary}" | grep -oE '[0-9]+$')"
	if [ "${count}" != "${PARTITIONS}" ]; then
		echo "kafka-init: ${topic} has ${count} partitions, want ${PARTITIONS}" >&2
		status=1
	fi
done
exit "${status}"
