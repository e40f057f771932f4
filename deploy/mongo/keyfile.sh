#!/usr/bin/env bash
# mongo-keyfile of docker-compose.yml: writes the key the replica-set members
# authenticate each other with, once, into the mongo-keyfile volume. mongod
# wants it readable by its user (mongodb, 999) only.
set -euo pipefail

keyfile=/keyfile/keyfile
if [ ! -s "${keyfile}" ]; then
	# 756 characters of the base64 alphabet (mongod accepts 6 to 1024).
	head -c 567 /dev/urandom | base64 -w 0 >"${keyfile}"
	echo "mongo-keyfile: wrote a new key"
fi
chown 999:999 "${keyfile}"
chmod 400 "${keyfile}"
