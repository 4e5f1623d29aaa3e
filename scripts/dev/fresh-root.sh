#!/usr/bin/env bash
# A fresh Debian 12 (bookworm, minbase) root with nothing but this machine's
# Node in it, for the package installation tests (test/package/). Works on a
# developer machine and inside CI's own fresh root (roots nest).
#
#   bash scripts/dev/fresh-root.sh create DIR      unpack a new root into DIR
#   bash scripts/dev/fresh-root.sh run DIR CMD...  run CMD in it (bash -c), as root, with /proc, /dev, /sys, /tmp
#   bash scripts/dev/fresh-root.sh destroy DIR     unmount and delete it
#
# The base image is /var/cache/fresh-debian/bookworm-minbase.tar when present
# (the one ../shared/tools/fresh-debian makes), else it is made with
# debootstrap from the Debian mirror in this machine's apt sources, and cached
# there for the next root. Needs root.
set -euo pipefail

cache=/var/cache/fresh-debian
base="$cache/bookworm-minbase.tar"
[ "$(id -u)" = 0 ] || { echo "fresh-root: needs root" >&2; exit 2; }

make_base() {
  [ -s "$base" ] && return 0
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  local mirror
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || { echo "fresh-root: no Debian mirror in the apt sources" >&2; exit 2; }
  mkdir -p "$cache"
  local tmpb; tmpb=$(mktemp -d /var/tmp/fresh-root-base.XXXXXX)
  echo "fresh-root: making the base image with debootstrap ($mirror)" >&2
  debootstrap --variant=minbase bookworm "$tmpb" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { echo "fresh-root: debootstrap failed, see $cache/debootstrap.log" >&2; rm -rf "$tmpb"; exit 2; }
  tar -C "$tmpb" -cf "$base.part" . && mv "$base.part" "$base"
  rm -rf "$tmpb"
}

create() {
  local root=$1
  make_base
  mkdir -p "$root"
  tar -C "$root" -xf "$base"
  # This machine's Node (binary, npm, headers): Debian 12's own nodejs is too old.
  local node_bin npm_dir inc
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$root/usr/lib/node_modules" "$root/usr/include"
  cp -a "$node_bin" "$root/usr/bin/node"
  cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
  inc="$(dirname "$(dirname "$node_bin")")/include/node"
  [ -d "$inc" ] && cp -a "$inc" "$root/usr/include/node"
  # Reach the registries and the mirror as this machine does.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || true
  for f in /etc/npmrc /usr/etc/npmrc; do [ -f "$f" ] && mkdir -p "$root$(dirname "$f")" && cp "$f" "$root$f"; done
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    mkdir -p "$root$(dirname "$NODE_EXTRA_CA_CERTS")"; cp "$NODE_EXTRA_CA_CERTS" "$root$NODE_EXTRA_CA_CERTS"
  fi
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
}

run() {
  local root=$1; shift
  local mounts=()
  mount -t proc proc "$root/proc"; mounts+=("$root/proc")
  mount --rbind /dev "$root/dev"; mounts+=("$root/dev")
  mount --rbind /sys "$root/sys"; mounts+=("$root/sys")
  mount -t tmpfs -o size=4g tmpfs "$root/tmp"; mounts+=("$root/tmp")
  set +e
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 CI=true ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"} \
    /bin/bash -c "$*"
  local rc=$?
  set -e
  local i
  for (( i=${#mounts[@]}-1; i>=0; i-- )); do umount -R -l "${mounts[$i]}" 2>/dev/null || true; done
  return $rc
}

destroy() {
  local root=$1
  for m in proc dev sys tmp; do umount -R -l "$root/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$root"
}

cmd=${1:-}; shift || true
case "$cmd" in
  create) create "$@" ;;
  run) run "$@" ;;
  destroy) destroy "$@" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
