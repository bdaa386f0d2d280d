#!/usr/bin/env bash
# make page-test: the printer's live page in headless Chromium (Debian's
# chromium package, with fonts for CJK and emoji), against the real
# binaries and real brokers. Installs the packages with apt-get when they
# are missing (as root, or through sudo) and runs the browser tests with a
# broker at KAFKA_BROKERS (with-broker.sh starts one when none answers and
# fetches the jars the test's disposable broker runs from). Screenshots are kept in
# run/page-test/; PAGE_TEST_FLAGS=-update-screenshot also writes the live
# one to docs/printer-page.png.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
packages=(chromium fonts-noto-cjk fonts-noto-color-emoji fonts-dejavu-core)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "page-test: installing ${missing[*]}" >&2
  sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v chromium >/dev/null || { echo "page-test: chromium is still not installed" >&2; exit 1; }

out=$root/run/page-test
mkdir -p "$out"
export REQUIRE_KAFKA=1
# shellcheck disable=SC2086 # PAGE_TEST_FLAGS are separate flags
deploy/kafka/with-broker.sh bash -c "cd deploy && go test -tags browser -count=1 -timeout 20m -run '^TestPage' -v \
  -artifacts -outputdir '$out' . ${PAGE_TEST_FLAGS:-}"
