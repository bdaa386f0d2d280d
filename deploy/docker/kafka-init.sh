#!/bin/bash
# kafka-init: the first step of the secured Compose overlay
# (docker-compose.secured.yml). It runs once in the Kafka image, as root,
# before the broker starts; Compose runs it again at every `up`, and once
# its work is done it changes nothing.
#
#  1. Certificates (keytool, which the image has), into the kafka-secrets
#     volume: a CA made here, whose key is thrown away once it has signed
#     the broker's certificate, so that nothing else can ever be signed by
#     it; the broker's key and certificate (CN=kafka; kafka, localhost,
#     127.0.0.1) in a PKCS12 key store with a random password, and the
#     files the official image reads that password from
#     (KAFKA_SSL_KEYSTORE_CREDENTIALS, KAFKA_SSL_KEY_CREDENTIALS). The CA's
#     certificate also goes into the kafka-trust volume, the only file the
#     services and grant see.
#  2. The JAAS file KAFKA_OPTS names (the SCRAM login module; it holds no
#     password, since the broker authenticates to itself, on the
#     controller and inter-broker listeners, by its certificate) and the
#     client settings of the broker's healthcheck (that certificate again).
#  3. The storage, formatted with the SCRAM-SHA-512 credentials of the
#     super user admin (kafka-storage.sh format --add-scram): the broker
#     knows admin from its first start, so no listener ever has to take a
#     client without authentication for the users to be created.
#
# Environment: SECURED_ADMIN_PASSWORD (the admin's password); the
# broker's CLUSTER_ID (which its start checks against the storage's),
# and its KAFKA_NODE_ID, KAFKA_LOG_DIRS and KAFKA_CONTROLLER_QUORUM_VOTERS
# without the KAFKA_ prefix. No password is ever written to the output,
# nor given on a command line.
set -euo pipefail

secrets=/etc/kafka/secrets # the kafka-secrets volume: the broker's alone
trust=/etc/kafka/trust     # the kafka-trust volume: ca.crt, for everyone
bin=/opt/kafka/bin
user=appuser # the image's user, who runs the broker

say() { echo "kafka-init: $*" >&2; }
fail() {
  say "$*"
  exit 1
}

# A password goes into kafka-storage.sh's --add-scram argument, whose
# parser splits at commas and strips quotes; these characters pass
# through it, through .env and through Compose's interpolation unchanged.
[ -n "${SECURED_ADMIN_PASSWORD:-}" ] || fail "SECURED_ADMIN_PASSWORD is not set (see .env.example)"
[[ $SECURED_ADMIN_PASSWORD =~ ^[A-Za-z0-9._~+/=-]+$ ]] ||
  fail "SECURED_ADMIN_PASSWORD may hold only letters, digits and . _ ~ + / = -"
for v in CLUSTER_ID NODE_ID LOG_DIRS CONTROLLER_QUORUM_VOTERS; do
  [ -n "${!v:-}" ] || fail "$v is not set"
done
data=${LOG_DIRS%%,*}

# Keys and the admin's password are held only in memory while this runs.
tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT

random() { head -c 24 /dev/urandom | base64 | tr '+/' '-_'; }

certificates() {
  if [ -f "$secrets/kafka.keystore.p12" ]; then
    cp "$secrets/ca.crt" "$trust/ca.crt" # a new kafka-trust volume
    return
  fi
  say "making a CA and the broker's certificate (kafka, localhost, 127.0.0.1)"
  local STOREPASS
  STOREPASS=$(random)
  export STOREPASS
  kt() { keytool -storetype PKCS12 -storepass:env STOREPASS "$@" 2>&1 | sed 's/^/keytool: /' >&2; }
  kt -genkeypair -keystore "$tmp/ca.p12" -alias ca -keyalg RSA -keysize 2048 -validity 3650 \
    -dname "CN=hashtrend compose CA" -ext bc:c
  kt -exportcert -rfc -keystore "$tmp/ca.p12" -alias ca -file "$tmp/ca.crt"
  kt -genkeypair -keystore "$tmp/kafka.p12" -alias kafka -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=kafka"
  kt -certreq -keystore "$tmp/kafka.p12" -alias kafka -file "$tmp/kafka.csr"
  kt -gencert -keystore "$tmp/ca.p12" -alias ca -infile "$tmp/kafka.csr" -outfile "$tmp/kafka.crt" -rfc -validity 3650 \
    -ext SAN=dns:kafka,dns:localhost,ip:127.0.0.1 -ext EKU=serverAuth,clientAuth
  cat "$tmp/kafka.crt" "$tmp/ca.crt" >"$tmp/chain.crt"
  kt -importcert -keystore "$tmp/kafka.p12" -alias kafka -file "$tmp/chain.crt" -noprompt
  if [ ! -s "$tmp/kafka.p12" ] || [ ! -s "$tmp/ca.crt" ]; then fail "keytool made no key store (its lines above)"; fi

  (
    umask 077
    printf '%s' "$STOREPASS" >"$secrets/keystore.creds"
    printf '%s' "$STOREPASS" >"$secrets/key.creds"
    cat >"$secrets/healthcheck.properties" <<EOF
# The broker's healthcheck: its own certificate on the INTERNAL listener.
security.protocol=SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=$secrets/kafka.keystore.p12
ssl.keystore.password=$STOREPASS
ssl.truststore.type=PEM
ssl.truststore.location=$secrets/ca.crt
EOF
  )
  cat >"$secrets/kafka_server_jaas.conf" <<'EOF'
KafkaServer {
  org.apache.kafka.common.security.scram.ScramLoginModule required;
};
EOF
  cp "$tmp/ca.crt" "$secrets/ca.crt"
  cp "$tmp/ca.crt" "$trust/ca.crt"
  chmod 644 "$secrets/ca.crt" "$secrets/kafka_server_jaas.conf" "$trust/ca.crt"
  # The key store last: its presence says that all of the above is there.
  install -m 600 "$tmp/kafka.p12" "$secrets/kafka.keystore.p12.tmp"
  mv "$secrets/kafka.keystore.p12.tmp" "$secrets/kafka.keystore.p12"
  chown -R "$user:" "$secrets"
}

# format formats the storage, once, with the admin's SCRAM credentials.
# The configuration holds what formatting reads: the node, its roles and
# quorum, and the log directories; the broker's own comes from the image.
format() {
  [ -f "$data/meta.properties" ] && return
  cat >"$tmp/format.properties" <<EOF
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$CONTROLLER_QUORUM_VOTERS
controller.listener.names=CONTROLLER
listeners=BROKER://:9092,CONTROLLER://:9093
inter.broker.listener.name=BROKER
listener.security.protocol.map=BROKER:SSL,CONTROLLER:SSL
log.dirs=$LOG_DIRS
EOF
  # The --add-scram argument comes from a file (@file: one argument a
  # line), so that the password is on no command line.
  printf '%s\n' --add-scram "SCRAM-SHA-512=[name=admin,password=$SECURED_ADMIN_PASSWORD]" >"$tmp/scram.args"
  say "formatting the broker's storage (cluster $CLUSTER_ID) with the super user admin"
  # The tool prints the bootstrap records, the admin's salted keys among
  # them: only its other lines are shown.
  local out rc=0
  out=$("$bin/kafka-storage.sh" format --cluster-id "$CLUSTER_ID" --config "$tmp/format.properties" "@$tmp/scram.args" 2>&1) || rc=$?
  grep -v '^Bootstrap metadata' <<<"$out" >&2 || true
  [ $rc -eq 0 ] || fail "kafka-storage.sh format failed ($rc; its lines above)"
  # shellcheck disable=SC2086 # a list of folders
  chown -R "$user:" ${LOG_DIRS//,/ }
}

certificates
format
say "ready"
