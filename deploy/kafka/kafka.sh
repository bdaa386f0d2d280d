#!/usr/bin/env bash
# Runs a real single-node Apache Kafka broker (KRaft, combined broker and
# controller) from Maven Central jars, without Docker.
#
#   kafka.sh fetch    resolve the broker and tools jars into $KAFKA_LIB
#   kafka.sh up       fetch, format (first time) and start; wait until ready
#   kafka.sh down     stop cleanly (SIGTERM, then wait)
#   kafka.sh status   say whether it runs and answers
#   kafka.sh log      print the broker's log
#   kafka.sh tool C   run a Kafka CLI tool class, e.g. tool kafka.tools.ConsoleConsumer ...
#   kafka.sh env U    print the KAFKA_* settings of user U on the SASL_SSL listener
#
# Settings (environment): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# KAFKA_DATA_DIR (deploy/kafka/data/<port>), KAFKA_LIB (deploy/kafka/lib),
# KAFKA_HEAP (512m). Two brokers with different ports run side by side.
# KAFKA_SECURE_PORT (off) adds a SASL_SSL listener (SCRAM-SHA-512 over TLS)
# on that port and turns the standard authorizer on: "up" then makes a CA
# and the broker's certificate, and passwords for the users admin, ingest,
# counter and printer, in <data>/secure (ca.crt, users), and grants each
# service its rights (deploy/grant; docs/security.md).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
lib=${KAFKA_LIB:-$here/lib}
data=${KAFKA_DATA_DIR:-$here/data/$port}
heap=${KAFKA_HEAP:-512m}
secure_port=${KAFKA_SECURE_PORT:-off}
secure=$data/secure
props=$data/server.properties
pidfile=$data/kafka.pid
logfile=$data/kafka.out

say() { echo "kafka.sh: $*" >&2; }

# fetch keeps the jars of the pom's Kafka version in $lib, fetched once: the
# marker holds a hash of the pom, so a changed pom fetches again instead of
# leaving another version's jars on the class path.
fetch() {
  local key
  key=$(sha256sum "$here/pom.xml" | cut -c1-16)
  if [ "$(cat "$lib/.complete" 2>/dev/null)" = "$key" ]; then return; fi
  say "fetching Apache Kafka jars from Maven Central into $lib"
  mkdir -p "$lib"
  rm -f "$lib/.complete" "$lib"/*.jar
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" package -Dkafka.lib="$lib"
  echo "$key" >"$lib/.complete"
}

java_cmd() {
  java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -Dkafka.logs.dir="$data/logs" \
    -cp "$lib/*" "$@"
}

# running: the pid file names a live process. A broker just killed is a
# zombie until init reaps it, and kill -0 still succeeds on a zombie: taken
# for running, an "up" right after a SIGKILL would start nothing.
running() {
  local pid stat
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# answers returns 0 when something accepts TCP connections on the port.
answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# ready returns 0 when the broker started after offset $1 of its log has
# logged that it is up: Kafka logs "Kafka Server started" once the broker
# has caught up with the metadata and been unfenced, so it serves metadata
# requests. Reading the log costs nothing, where a probe with a Java tool
# started a JVM every second (minutes of a start on a busy machine).
serverlog=$data/logs/server.log
ready() {
  local from=$1 size
  size=$(stat -c %s "$serverlog" 2>/dev/null || echo 0)
  [ "$size" -lt "$from" ] && from=0 # the log was rolled over meanwhile
  tail -c +"$((from + 1))" "$serverlog" 2>/dev/null | grep -q "Kafka Server started"
}

configure() {
  mkdir -p "$data/logs" "$data/log-dirs"
  local listener="" advertised="" protocol=""
  if [ "$secure_port" != off ]; then
    listener=",SASL_SSL://127.0.0.1:$secure_port" advertised=",SASL_SSL://127.0.0.1:$secure_port" protocol=",SASL_SSL:SASL_SSL"
  fi
  sed -e "s|@PORT@|$port|g" -e "s|@CPORT@|$cport|g" -e "s|@LOGDIRS@|$data/log-dirs|g" \
    -e "s|@SECURE_LISTENER@|$listener|" -e "s|@SECURE_ADVERTISED@|$advertised|" -e "s|@SECURE_PROTOCOL@|$protocol|" \
    "$here/server.properties" > "$props"
  if [ "$secure_port" != off ]; then
    certificates
    passwords
    sed -e "s|@SECURE@|$secure|g" "$here/secure.properties" >> "$props"
  fi
  if [ ! -f "$data/log-dirs/meta.properties" ]; then
    local id
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding (what
    # StorageTool random-uuid prints, without a JVM to start for it). Like
    # Kafka's own, never one that starts with '-', which a command line
    # would take for an option.
    id=-
    while [ "${id#-}" != "$id" ]; do
      id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    say "formatting KRaft storage in $data (cluster $id)"
    java_cmd kafka.tools.StorageTool format --standalone -t "$id" -c "$props" >/dev/null
  fi
}

# certificates makes, once, a CA (ca.crt, the file clients trust) and the
# broker's key and certificate for 127.0.0.1 and localhost, signed by it,
# in the PEM key store the broker reads (broker.pem).
certificates() {
  [ -f "$secure/broker.pem" ] && return
  if ! command -v openssl >/dev/null; then
    # A new machine may lack it; the package is Debian's.
    say "installing openssl"
    sudo=
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openssl
  fi
  say "making a CA and the broker's certificate in $secure"
  mkdir -p "$secure/tmp"
  chmod 700 "$secure"
  local tmp=$secure/tmp
  openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$secure/ca.key"
  openssl req -x509 -new -key "$secure/ca.key" -days 3650 -subj "/CN=hashtrend local CA" -out "$secure/ca.crt"
  openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/broker.key"
  openssl req -new -key "$tmp/broker.key" -subj "/CN=localhost" -out "$tmp/broker.csr"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
  openssl x509 -req -in "$tmp/broker.csr" -CA "$secure/ca.crt" -CAkey "$secure/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tmp/ext" -out "$tmp/broker.crt" 2>/dev/null
  (umask 077 && cat "$tmp/broker.key" "$tmp/broker.crt" "$secure/ca.crt" >"$tmp/broker.pem")
  mv "$tmp/broker.pem" "$secure/broker.pem"
  rm -rf "$tmp"
}

# passwords makes, once, a random password for each user (users: one
# "name password" line each), readable by this account only.
passwords() {
  [ -f "$secure/users" ] && return
  (
    umask 077
    for u in admin ingest counter printer; do
      echo "$u $(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    done >"$secure/users.tmp"
  )
  mv "$secure/users.tmp" "$secure/users"
}

# grant creates the users' SCRAM credentials and the services' ACLs
# (deploy/grant, pkg/access), through the PLAINTEXT listener, whose User:ANONYMOUS is a
# super user. Both are kept in the cluster's metadata; granting again
# changes nothing.
grant() {
  say "granting the services' rights on the SASL_SSL listener 127.0.0.1:$secure_port (users in $secure/users)"
  (cd "$here/.." && env KAFKA_BROKERS="127.0.0.1:$port" KAFKA_SECURITY_PROTOCOL=plaintext \
    GRANT_USERS="$secure/users" go run ./grant)
}

# client_env prints the settings of user $1 on the SASL_SSL listener.
client_env() {
  local user=$1 pass
  if [ "$secure_port" = off ]; then say "set KAFKA_SECURE_PORT to the broker's SASL_SSL port"; exit 2; fi
  pass=$(awk -v u="$user" '$1 == u { print $2 }' "$secure/users" 2>/dev/null)
  if [ -z "$pass" ]; then say "no user $user in $secure/users (is KAFKA_SECURE_PORT set, and the broker up?)"; exit 1; fi
  cat <<EOT
KAFKA_BROKERS=127.0.0.1:$secure_port
KAFKA_SECURITY_PROTOCOL=sasl_ssl
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_SASL_USERNAME=$user
KAFKA_SASL_PASSWORD=$pass
KAFKA_SSL_CA_LOCATION=$secure/ca.crt
EOT
}

up() {
  fetch
  if running; then say "already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; return; fi
  if answers; then say "port $port is taken by another process"; exit 1; fi
  configure
  local logged
  logged=$(stat -c %s "$serverlog" 2>/dev/null || echo 0)
  say "starting broker on 127.0.0.1:$port (controller $cport, data $data)"
  setsid nohup java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -Dkafka.logs.dir="$data/logs" \
    -cp "$lib/*" kafka.Kafka "$props" >"$logfile" 2>&1 </dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if ! running; then say "broker exited during start; last lines of its log:"; tail -20 "$logfile" >&2; exit 1; fi
    if answers && ready "$logged"; then
      say "ready on 127.0.0.1:$port"
      if [ "$secure_port" != off ]; then grant; fi
      return
    fi
    sleep 1
  done
  say "broker did not become ready within 120 s"; tail -20 "$logfile" >&2; exit 1
}

down() {
  if ! running; then say "not running on port $port"; rm -f "$pidfile"; return; fi
  local pid; pid=$(cat "$pidfile")
  say "stopping broker (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then rm -f "$pidfile"; say "stopped"; return; fi
    sleep 1
  done
  say "broker did not stop within 60 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

status() {
  if running && answers; then echo "running on 127.0.0.1:$port (pid $(cat "$pidfile"), data $data)"; return 0; fi
  if running; then echo "starting (pid $(cat "$pidfile")), not answering yet on 127.0.0.1:$port"; return 1; fi
  echo "not running on port $port"; return 1
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  log) cat "$logfile" "$data/logs/server.log" 2>/dev/null ;;
  tool) shift; fetch; java_cmd "$@" ;;
  env) client_env "${2:?user}" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
