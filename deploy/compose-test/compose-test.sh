#!/usr/bin/env bash
# make compose-test: docker-compose.yml run for real, on a Docker engine of
# its own, and its Show steps asserted by live_test.go; then the same file
# with docker-compose.secured.yml on top (secured_test.go).
#
# Everything it needs it installs and starts itself, and it stops all it
# started, on failure too:
#   - Debian's docker.io and debootstrap (apt) and Docker Compose v2, built
#     from its Go module source (Debian's docker-compose is v1);
#   - a builder engine on the host network (no bridge, no iptables) that
#     builds the local stand-ins for the third-party images (standins/,
#     README.md) and the project's images, with --network host so that the
#     Go module proxy and Debian's mirror are reachable;
#   - a run engine in a network namespace of its own, holding only
#     loopback and the Compose project's bridges: the images move to it
#     with docker save | docker load, and nothing it runs reaches any
#     other address.
#
# Expensive results are cached in $COMPOSE_TEST_CACHE, keyed by their
# inputs: the debootstrap tree, the compose binary, the builder engine's
# images and build cache. A warm run rebuilds only what changed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${COMPOSE_TEST_CACHE:-/var/cache/hashtrend-compose-test}
state=/run/hashtrend-compose-test # sockets, pid files, exec roots
ns=hashtrend-compose-test         # the run engine's network namespace
suite=bookworm                    # what the image names say: *-bookworm, debian12
compose_version=v2.40.3
buildkit_version=v0.25.1 # the dockerfile frontend, as compose's go.mod has it
docker=/usr/bin/docker   # Debian's client: BuildKit without the buildx plugin
started=$(date +%s)

say() { echo "compose-test: $*" >&2; }
fail() {
  say "FAIL: $*"
  exit 1
}

# --- what the machine needs ---------------------------------------------

install_packages() {
  local missing=()
  command -v dockerd >/dev/null && [ -x "$docker" ] || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v ip >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -q >/dev/null
    # policy-rc.d keeps the package from starting a system-wide engine.
    local policy=/usr/sbin/policy-rc.d created=
    if [ ! -e $policy ]; then
      printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && created=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    [ -z "$created" ] || rm -f $policy
  fi
}

# The machine's apt configuration for Debian itself: the stand-ins' apt
# uses it too (the official images have bookworm, -updates and -security).
debian_sources=/etc/apt/sources.list.d/debian.sources
# The machine's CA bundle, which the golang stand-in trusts.
ca_bundle=/etc/ssl/certs/ca-certificates.crt

# mirror is the Debian mirror apt is configured with.
mirror() {
  local m
  m=$(grep -hE '^(URIs:|deb )' $debian_sources /etc/apt/sources.list 2>/dev/null |
    grep -v security | head -1 | sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//')
  echo "${m:-http://deb.debian.org/debian}"
}

# go_build_module builds a command of a Go module's source into out.
go_build_module() {
  local module=$1 version=$2 pkg=$3 out=$4 ldflags=${5:-} src dir
  src=$(go mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || fail "go mod download $module@$version gave no source"
  dir=$(mktemp -d)
  cp -r "$src/." "$dir" && chmod -R u+w "$dir"
  say "building $module $pkg@$version (once; cached in $(dirname "$out"))"
  (cd "$dir" && CGO_ENABLED=0 nice go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  rm -rf "$dir"
  mv "$out.tmp" "$out"
}

compose_binary() {
  local bin=$cache/compose/$compose_version/docker-compose
  [ -x "$bin" ] || go_build_module github.com/docker/compose/v2 $compose_version ./cmd "$bin" \
    "-X github.com/docker/compose/v2/internal.Version=$compose_version"
  # docker compose: the plugin in a client configuration of this run's own.
  export DOCKER_CONFIG=$state/client
  mkdir -p "$DOCKER_CONFIG/cli-plugins"
  ln -sf "$bin" "$DOCKER_CONFIG/cli-plugins/docker-compose"
}

frontend_binary() {
  local bin=$cache/frontend/$buildkit_version/dockerfile-frontend
  [ -x "$bin" ] || go_build_module github.com/moby/buildkit $buildkit_version \
    ./frontend/dockerfile/cmd/dockerfile-frontend "$bin"
  echo "$bin"
}

# rootfs_tar is a minimal Debian tree from debootstrap, as a tarball.
rootfs_tar() {
  local m tar
  m=$(mirror)
  tar=$cache/debootstrap/$suite-minbase-$(cat - $debian_sources 2>/dev/null <<<"$m" | sha256sum | cut -c1-12).tar
  if [ ! -f "$tar" ]; then
    say "debootstrap $suite from $m (once; cached in $(dirname "$tar"))"
    local tree
    tree=$(mktemp -d)
    nice debootstrap --variant=minbase "$suite" "$tree" "$m" >"$tree.log" 2>&1 ||
      fail "debootstrap failed; see $tree.log"
    if [ -f $debian_sources ]; then
      cp $debian_sources "$tree/etc/apt/sources.list.d/" && rm -f "$tree/etc/apt/sources.list"
    fi
    rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/* "$tree.log"
    mkdir -p "$(dirname "$tar")"
    tar -C "$tree" --numeric-owner -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$tree"
  fi
  echo "$tar"
}

# --- engines --------------------------------------------------------------

# start_engine NAME [NETNS]: a dockerd with its own data root, exec root and
# socket; in NETNS when given, else on the host network without bridge or
# iptables. Its containerd is its own too (started by dockerd).
start_engine() {
  local name=$1 netns=${2:-} data sock=$state/$1.sock args nice=()
  if [ -n "$netns" ]; then
    data=$state-data/$name # fresh every run, removed at the end
    rm -rf "$data"
    # Container DNS forwards only to loopback: nothing leaves the namespace.
    args=(--dns 127.0.0.1)
  else
    data=$cache/engine-$name # images and build cache kept between runs
    args=(--bridge=none --iptables=false --ip-masq=false)
    # Builds are heavy and not in a hurry; the run engine's healthchecks
    # have timeouts, so only the builder yields the machine to others.
    nice=(nice)
  fi
  mkdir -p "$data" "$state/$name"
  local cmd=("${nice[@]}" dockerd --data-root "$data" --exec-root "$state/$name/exec" --host "unix://$sock"
    --pidfile "$state/$name/dockerd.pid" --userland-proxy=true "${args[@]}")
  # nsenter, not ip netns exec: that remounts /sys, hiding the cgroups.
  if [ -n "$netns" ]; then cmd=(nsenter --net="/run/netns/$netns" "${cmd[@]}"); fi
  setsid "${cmd[@]}" >"$state/$name/dockerd.log" 2>&1 </dev/null &
  echo $! >"$state/$name/launcher.pid"
  local deadline=$((SECONDS + 60))
  until DOCKER_HOST=unix://$sock $docker version >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$state/$name/launcher.pid")" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
      tail -20 "$state/$name/dockerd.log" >&2
      fail "the $name engine did not start (log above)"
    fi
    sleep 0.5
  done
  say "$name engine up (unix://$sock${netns:+, network namespace $netns})"
}

stop_engine() {
  local name=$1 pid
  pid=$(cat "$state/$name/dockerd.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 120); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  say "the $name engine did not stop within a minute; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# clean_up stops and removes all a run started (or a killed run left).
clean_up() {
  if [ -S "$state/run.sock" ] && [ -x "${DOCKER_CONFIG:-}/cli-plugins/docker-compose" ]; then
    # Both files, so that down finds what either run left; the overlay's
    # passwords must be set for it to load, whatever their values.
    DOCKER_HOST=unix://$state/run.sock SECURED_ADMIN_PASSWORD=- SECURED_INGEST_PASSWORD=- SECURED_COUNTER_PASSWORD=- \
      SECURED_PRINTER_PASSWORD=- $docker compose -f "$root/docker-compose.yml" -f "$root/docker-compose.secured.yml" \
      down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  fi
  stop_engine run
  stop_engine builder
  ip netns del "$ns" 2>/dev/null || true
  # What the engines left mounted (their namespace handles) goes first.
  awk -v s="$state" 'index($2, s) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
  rm -rf "$state" "$state-data"
}

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  clean_up
  say "took $(($(date +%s) - started)) s; $([ $rc -eq 0 ] && echo passed || echo "failed ($rc)")"
  exit $rc
}

# engine_alive says whether an engine of an earlier run still runs.
engine_alive() {
  local f
  for f in "$state"/*/dockerd.pid; do
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
  done
  return 1
}

# --- images ---------------------------------------------------------------

# build TAG KEY CONTEXT: docker build on the builder engine, the image
# labelled with KEY (a hash of all its inputs) for build_needed.
build() {
  local tag=$1 key=$2 ctx=$3
  say "building $tag"
  DOCKER_BUILDKIT=1 $docker build -q --network host --label "hashtrend.compose-test.key=$key" \
    -t "$tag" "$ctx" >/dev/null || fail "docker build of $tag failed"
}

# inputs hashes files and strings: the key of what is built from them.
inputs() {
  { for a in "$@"; do
    if [ -e "$a" ]; then (cd "$a" 2>/dev/null && find . -type f -print0 | sort -z | xargs -0 sha256sum) || sha256sum "$a"; else echo "$a"; fi
  done; } | sha256sum | cut -c1-16
}

# The stand-ins: standins/images says which image each folder's recipe is
# built as. check_images reads it through compose-test/images, which first
# checks that every image docker-compose.yml and the Dockerfile name has a
# stand-in or a written exclusion: one missing stops the run here, with one
# line naming it, before any engine starts or any build asks a registry.
declare -A standin_image
check_images() {
  local bin out folder image
  bin=$(mktemp)
  (cd "$root/deploy" && go build -o "$bin" ./compose-test/images) || fail "building compose-test/images failed"
  out=$("$bin") || {
    rm -f "$bin"
    exit 1 # it said which image, in one line
  }
  rm -f "$bin"
  while read -r folder image; do standin_image[$folder]=$image; done <<<"$out"
}

standins() {
  local tar base folder
  tar=$(rootfs_tar)
  base=$(inputs "$tar")
  if build_needed debian:$suite "$base"; then
    say "importing the debootstrap tree as debian:$suite"
    $docker import --change "LABEL hashtrend.compose-test.key=$base" \
      --change 'CMD ["bash"]' "$tar" debian:$suite >/dev/null
  fi
  for folder in "${!standin_image[@]}"; do
    standin "$folder" "${standin_image[$folder]}" "$base"
  done
}

# standin FOLDER IMAGE BASE builds standins/FOLDER as IMAGE, unless an image
# built from the same inputs is there. Each recipe names its inputs (the
# key) and what its build context needs beyond the folder.
standin() {
  local folder=$1 image=$2 base=$3 s=$here/standins/$1 key ctx
  case $folder in
  dockerfile) key=$(inputs "$s" $buildkit_version) ;;
  golang) key=$(inputs "$s" "$base" "$(go env GOVERSION)" "$ca_bundle") ;;
  distroless) key=$(inputs "$s" "$base") ;;
  kafka) key=$(inputs "$s" "$base" "$root/deploy/kafka/pom.xml") ;;
  prometheus) key=$(inputs "$s" "$base") ;;
  *) fail "standins/images lists the stand-in $folder, for which compose-test.sh has no recipe" ;;
  esac
  build_needed "$image" "$key" || return 0
  ctx=$(mktemp -d)
  cp -r "$s/." "$ctx/"
  case $folder in
  dockerfile) cp "$(frontend_binary)" "$ctx/" ;;
  golang)
    local want=${image#golang:}
    want=go${want%%-*}
    case "$(go env GOVERSION)" in
    "$want" | "$want".*) ;;
    *) fail "the $image stand-in needs Go ${want#go}; go here is $(go env GOVERSION)" ;;
    esac
    cp "$ca_bundle" "$ctx/ca-certificates.crt"
    cp -r "$(go env GOROOT)" "$ctx/go"
    rm -rf "$ctx/go/test" "$ctx/go/doc" "$ctx/go/api"
    ;;
  kafka)
    "$root/deploy/kafka/kafka.sh" fetch
    mkdir "$ctx/libs" && cp "$root/deploy/kafka/lib/"*.jar "$ctx/libs/"
    ;;
  esac
  build "$image" "$key" "$ctx"
  rm -rf "$ctx"
}

# build_needed TAG KEY: no image TAG built from the inputs KEY is there.
build_needed() {
  [ "$($docker image inspect -f '{{index .Config.Labels "hashtrend.compose-test.key"}}' "$1" 2>/dev/null)" != "$2" ]
}

# services builds the project's images with the project's Dockerfile,
# tagged as compose names them (<project>-<service>): the three services,
# and grant for the secured overlay.
services() {
  for s in ingest counter printer grant; do
    say "building hashtrend-$s"
    DOCKER_BUILDKIT=1 $docker build -q --network host -f "$root/deploy/docker/Dockerfile" \
      --build-arg SERVICE=$s -t hashtrend-$s "$root" >/dev/null || fail "docker build of hashtrend-$s failed"
  done
}

# --- the run ----------------------------------------------------------------

main() {
  [ "$(id -u)" = 0 ] || fail "needs root (it starts Docker engines and a network namespace)"
  install_packages
  check_images
  if engine_alive; then fail "another compose-test runs (engines of $state)"; fi
  if [ -e "$state" ] || [ -e "/run/netns/$ns" ]; then
    say "removing what a killed run left"
    clean_up
  fi
  mkdir -p "$state" "$cache"
  trap teardown EXIT
  trap 'exit 130' INT TERM
  compose_binary

  start_engine builder
  export DOCKER_HOST=unix://$state/builder.sock
  standins
  services
  say "images ready after $(($(date +%s) - started)) s"

  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  start_engine run "$ns"
  local images
  images=(hashtrend-ingest hashtrend-counter hashtrend-printer hashtrend-grant
    "${standin_image[kafka]}" "${standin_image[prometheus]}")
  $docker save "${images[@]}" | DOCKER_HOST=unix://$state/run.sock $docker load -q >/dev/null ||
    fail "moving the images to the run engine failed"
  export DOCKER_HOST=unix://$state/run.sock

  # The test talks to the published ports, so it runs in the namespace.
  (cd "$root/deploy" && nice go test -c -o "$state/live.test" ./compose-test)
  say "running the Show steps"
  (cd "$here" && nsenter --net="/run/netns/$ns" env COMPOSE_TEST_LIVE=1 DOCKER=$docker COMPOSE_FILE="$root/docker-compose.yml" \
    COMPOSE_SECURED_FILE="$root/docker-compose.secured.yml" KAFKA_BROKERS=localhost:29092 "$state/live.test" -test.v -test.timeout 20m ${COMPOSE_TEST_RUN:+-test.run "$COMPOSE_TEST_RUN"})
}

main "$@"
