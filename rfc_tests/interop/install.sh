#!/usr/bin/env bash
# Installs the BGP daemons the interop tests run against (as root, idempotent):
#   bird2, frr, gobgpd, iproute2 from Debian, and BIRD 1.6 (package `bird`, which conflicts
#   with bird2) unpacked privately into /opt/pyspeaker-interop/bird16 (usr/sbin/bird, bird6,
#   birdc, birdc6). `apt-get update` runs only when something is missing.
set -euo pipefail

BIRD16_DIR=${BIRD16_DIR:-/opt/pyspeaker-interop/bird16}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

updated=0
apt_update() {
  if [ "$updated" = 0 ]; then
    $SUDO apt-get update -qq
    updated=1
  fi
}

missing=()
for pkg in bird2 frr gobgpd iproute2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  apt_update
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# FRR's Debian package starts nothing here (no systemd); the tests start zebra and bgpd
# themselves. Nothing else to configure.

if [ ! -x "$BIRD16_DIR/usr/sbin/bird" ] || [ ! -x "$BIRD16_DIR/usr/sbin/bird6" ] \
   || [ ! -x "$BIRD16_DIR/usr/sbin/birdc" ] || [ ! -x "$BIRD16_DIR/usr/sbin/birdc6" ]; then
  echo "== unpacking BIRD 1.6 into $BIRD16_DIR"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download bird >/dev/null 2>&1); then
    apt_update
    (cd "$tmp" && apt-get download bird >/dev/null)
  fi
  $SUDO mkdir -p "$BIRD16_DIR"
  $SUDO dpkg -x "$tmp"/bird_*.deb "$BIRD16_DIR"
  # only the binaries are used; make sure the 1.6 build is the one unpacked
  "$BIRD16_DIR/usr/sbin/bird" --version 2>&1 | grep -q "BIRD version 1\." \
    || { echo "unexpected BIRD version in $BIRD16_DIR: $("$BIRD16_DIR/usr/sbin/bird" --version 2>&1)"; exit 1; }
fi

echo "== interop daemons:"
echo "   $(bird --version 2>&1)"
echo "   BIRD 1.6: $("$BIRD16_DIR/usr/sbin/bird" --version 2>&1)"
echo "   $(/usr/lib/frr/bgpd --version 2>&1 | head -1)"
echo "   $(gobgpd --version 2>&1)"
