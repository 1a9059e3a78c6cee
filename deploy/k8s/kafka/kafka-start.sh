#!/usr/bin/env bash
# Start one Apache Kafka KRaft node of docker-compose (and of deploy/k8s/kafka, which holds a copy of this
# file: tests/deploy keeps the two equal) with SCRAM credentials in its metadata log from the first start.
#
# Why not the image's own entrypoint (/etc/kafka/docker/run): it formats the storage without --add-scram,
# so no SCRAM user would exist and, with SASL on every client listener, nobody could log in to create one.
# This script does what that entrypoint does, plus the credentials:
#   1. writes server.properties from the KAFKA_* environment, with the image's naming rule
#      (KAFKA_ dropped, lower-cased, "_" -> ".", "__" -> "_", "___" -> "-"; KAFKA_HEAP_OPTS, KAFKA_OPTS and the
#      other launcher variables are not properties);
#   2. writes a client configuration for the healthcheck (mutual TLS with the node certificate);
#   3. formats the log directory if it is new, adding the admin's SCRAM-SHA-512 credential (--add-scram);
#      on a formatted directory it changes nothing (--ignore-formatted), so changing SCRAM_ADMIN_PASSWORD
#      later does not change the admin's password: rotate it with kafka-configs.sh --alter;
#   4. execs kafka-server-start.sh.
#
# Environment besides KAFKA_*:
#   CLUSTER_ID                  KRaft cluster id (22 characters, base64url), the same on every node
#   SCRAM_ADMIN_PASSWORD        the admin principal's password (URL-safe, at least 16 characters)
#   RAPPORT_NODE_ID_FROM_HOSTNAME=true  node.id = the number after the last "-" of the hostname (StatefulSet)
#   RAPPORT_KAFKA_BIN           Kafka's bin directory (default /opt/kafka/bin)
#   RAPPORT_KAFKA_CONFIG_DIR    where the generated files go (default /opt/kafka/config)
# Never put a secret into a KAFKA_* variable: every KAFKA_* variable is written to server.properties.
set -euo pipefail

bin=${RAPPORT_KAFKA_BIN:-/opt/kafka/bin}
config_dir=${RAPPORT_KAFKA_CONFIG_DIR:-/opt/kafka/config}
properties="$config_dir/rapport-server.properties"
client_properties="$config_dir/rapport-node-client.properties"
admin_user=admin

fail() {
  echo "kafka-start: $*" >&2
  exit 1
}

[[ -n "${CLUSTER_ID:-}" ]] || fail "CLUSTER_ID is not set"
[[ -n "${SCRAM_ADMIN_PASSWORD:-}" ]] || fail "SCRAM_ADMIN_PASSWORD is not set"
# --add-scram parses "name=...,password=..." inside [...]: keep the password to characters that cannot end it
[[ "$SCRAM_ADMIN_PASSWORD" =~ ^[A-Za-z0-9._~-]{16,}$ ]] ||
  fail "SCRAM_ADMIN_PASSWORD must be at least 16 characters of A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 24)"

if [[ -z "${KAFKA_NODE_ID:-}" && "${RAPPORT_NODE_ID_FROM_HOSTNAME:-false}" == "true" ]]; then
  ordinal=${HOSTNAME##*-}
  [[ "$ordinal" =~ ^[0-9]+$ ]] || fail "cannot read a node id from hostname $HOSTNAME"
  export KAFKA_NODE_ID=$ordinal
fi
for required in KAFKA_NODE_ID KAFKA_PROCESS_ROLES KAFKA_LOG_DIRS KAFKA_SSL_KEYSTORE_LOCATION KAFKA_SSL_TRUSTSTORE_LOCATION; do
  [[ -n "${!required:-}" ]] || fail "$required is not set"
done
for file in "$KAFKA_SSL_KEYSTORE_LOCATION" "$KAFKA_SSL_TRUSTSTORE_LOCATION"; do
  [[ -r "$file" ]] || fail "$file is missing or not readable by uid $(id -u) (see deploy/README.md, Kafka security)"
done

# variables of Kafka's launch scripts, not broker properties
launcher_variables=" KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS KAFKA_LOG4J_OPTS
  KAFKA_JMX_OPTS KAFKA_JMX_PORT KAFKA_JMX_HOSTNAME KAFKA_DEBUG KAFKA_VERSION KAFKA_LOG4J_ROOT_LOGLEVEL
  KAFKA_LOG4J_LOGGERS KAFKA_TOOLS_LOG4J_LOGLEVEL "

mkdir -p "$config_dir"
umask 077
{
  echo "# written by kafka-start.sh from the KAFKA_* environment at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for name in $(compgen -e | LC_ALL=C sort); do
    [[ "$name" == KAFKA_* ]] || continue
    [[ "$launcher_variables" == *[[:space:]]"$name"[[:space:]]* ]] && continue
    key=${name#KAFKA_}
    key=${key,,}
    key=${key//_/.}
    key=${key//.../-}
    key=${key//../_}
    printf '%s=%s\n' "$key" "${!name}"
  done
} >"$properties"

cat >"$client_properties" <<EOF
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SSL_KEYSTORE_LOCATION
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_SSL_TRUSTSTORE_LOCATION
EOF

echo "kafka-start: node ${KAFKA_NODE_ID}, cluster ${CLUSTER_ID}, properties ${properties}"
"$bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" --config "$properties" --ignore-formatted \
  --add-scram "SCRAM-SHA-512=[name=${admin_user},password=${SCRAM_ADMIN_PASSWORD}]"
unset SCRAM_ADMIN_PASSWORD
exec "$bin/kafka-server-start.sh" "$properties"
