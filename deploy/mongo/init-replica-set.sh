#!/usr/bin/env bash
# mongo-init of docker-compose.yml: runs init-replica-set.js with mongosh as
# the root user of the first member (created by the image on its first start).
set -euo pipefail

first="${MEMBERS%%,*}"
exec mongosh --quiet --host "${first}" \
	--username "${ROOT_USERNAME}" --password "${ROOT_PASSWORD}" --authenticationDatabase admin \
	--file /deploy/mongo/init-replica-set.js
