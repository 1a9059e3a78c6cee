#!/usr/bin/env bash
# Make the TLS material of the Kafka brokers with openssl: a CA and one node certificate that every broker
# presents, both as a server (clients, other nodes) and as a client (replication and the controller quorum,
# mutual TLS; its subject CN=rapport-kafka-node is the brokers' super user).
#
#   deploy/compose/kafka/make-tls.sh [-d DIR] [-f] [NAME...]
#
# NAME: the host names (and IP addresses) clients and nodes use to reach the brokers; default: the compose
# hosts kafka kafka-2 kafka-3 localhost 127.0.0.1. For deploy/k8s/kafka:
#   deploy/compose/kafka/make-tls.sh -d ./kafka-tls '*.kafka-headless.kafka.svc' \
#     '*.kafka-headless.kafka.svc.cluster.local' kafka-bootstrap.kafka.svc kafka-bootstrap.kafka.svc.cluster.local
#
# Writes into DIR (default deploy/compose/tls, git-ignored; -f overwrites):
#   ca.pem                    the CA certificate: every client's KAFKA_SSL_CAFILE, the brokers' trust store
#   ca-key.pem                the CA's private key: only needed to issue the next node certificate; keep it
#                             offline, never mount it anywhere
#   kafka-node-keystore.pem   the node's private key, its certificate and the CA (PEM key store of the brokers)
# Private keys are written mode 0600 and the certificates 0644. The apache/kafka image runs as uid 1000: the
# key store must be readable by that uid (compose mounts the file as it is on the host), e.g.
#   sudo chown 1000 DIR/kafka-node-keystore.pem
# Never commit these files.
set -euo pipefail

dir=deploy/compose/tls
force=false
days=${TLS_DAYS:-825}
while getopts "d:f" option; do
  case $option in
    d) dir=$OPTARG ;;
    f) force=true ;;
    *) sed -n '2,21p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(kafka kafka-2 kafka-3 localhost 127.0.0.1)

ca="$dir/ca.pem"
ca_key="$dir/ca-key.pem"
keystore="$dir/kafka-node-keystore.pem"
if [[ "$force" != true ]]; then
  for file in "$ca" "$ca_key" "$keystore"; do
    [[ ! -e "$file" ]] || { echo "make-tls: $file exists (use -f to replace it)" >&2; exit 1; }
  done
fi

san=""
for name in "${names[@]}"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then
    san+="${san:+,}IP:$name"
  else
    san+="${san:+,}DNS:$name"
  fi
done

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days "$days" \
  -subj "/CN=rapport kafka CA" -keyout "$work/ca-key.pem" -out "$work/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=rapport-kafka-node" -keyout "$work/node-key.raw.pem" -out "$work/node.csr" 2>/dev/null
# Kafka's PEM key store reads PKCS#8 keys only
openssl pkcs8 -topk8 -nocrypt -in "$work/node-key.raw.pem" -out "$work/node-key.pem"
cat >"$work/node.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
openssl x509 -req -in "$work/node.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
  -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$days" -extfile "$work/node.ext" \
  -out "$work/node.pem" 2>/dev/null
openssl verify -CAfile "$work/ca.pem" -purpose sslserver "$work/node.pem" >/dev/null

cat "$work/node-key.pem" "$work/node.pem" "$work/ca.pem" >"$work/kafka-node-keystore.pem"
install -m 0644 "$work/ca.pem" "$ca"
install -m 0600 "$work/ca-key.pem" "$ca_key"
install -m 0600 "$work/kafka-node-keystore.pem" "$keystore"
echo "make-tls: wrote $ca, $ca_key, $keystore (node certificate for $san, valid $days days)"
