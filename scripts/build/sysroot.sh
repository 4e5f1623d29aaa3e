#!/usr/bin/env bash
# A Debian 12 tree of another architecture, unpacked from its .debs, for cross
# builds and for running that architecture's binaries under qemu-user:
#
#   bash scripts/build/sysroot.sh ARCH DIR PACKAGE...     e.g. arm64 /var/cache/h5vault-sysroot/arm64-dev libhdf5-dev ...
#
# DIR gets the packages and their whole dependency closure (libc6 included),
# with a merged /usr (lib -> usr/lib), every absolute symlink made relative (so
# it resolves inside DIR, for the cross linker and for `qemu-aarch64 -L DIR`),
# and DIR/var/lib/h5vault-sysroot/files: "path<TAB>package<TAB>version" for
# every file, which scripts/build/prebuild.mjs reads to record whose licence a
# bundled library is under.
#
# Why not multiarch (dpkg --add-architecture arm64): libhdf5-dev is not
# Multi-Arch: same, so `apt-get install libhdf5-dev:arm64` removes this
# machine's libhdf5-dev and hdf5-helpers (and upgrades 29 amd64 packages to
# match versions). Here apt runs with its own state (lists, archives, an empty
# dpkg status) and this machine's sources: the host's dpkg is not touched, and
# no root is needed. A DIR made from the same package list is reused.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: sysroot.sh ARCH DIR PACKAGE..." >&2; exit 2; }
arch=$1 dir=$2; shift 2
# (and by this script: a changed script remakes it)
want="$arch $* $(sha1sum <"$0" | cut -c1-12)"
stamp="$dir/var/lib/h5vault-sysroot/packages"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

state="${H5VAULT_SYSROOT_CACHE:-/var/cache/h5vault-sysroot}/apt-$arch"
mkdir -p "$state/lists/partial" "$state/archives/partial" "$state/cache"
: >"$state/status" # nothing installed: apt downloads the whole closure
apt=(apt-get -qq -o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
  -o "Dir::Cache=$state/cache" -o "Dir::Cache::Archives=$state/archives"
  -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o Debug::NoLocking=1)
"${apt[@]}" update
"${apt[@]}" install -y --download-only --no-install-recommends "$@" >/dev/null
# The exact .debs of this closure, from apt's plan ("Inst NAME (VERSION ... [ARCH])"):
# the archives may hold older versions too, and --print-uris leaves out cached ones.
debs=$("${apt[@]}" install -s --no-install-recommends "$@" \
  | sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*\[\([a-z0-9]*\)\]).*$/\1_\2_\3.deb/p' | sed 's/:/%3a/g')
planned=$("${apt[@]}" install -s --no-install-recommends "$@" | grep -c '^Inst ')
[ "$(wc -w <<<"$debs")" = "$planned" ] || { echo "sysroot: could not read apt's plan ($planned packages)" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/usr/lib" "$dir/usr/bin" "$dir/usr/sbin" "$dir/var/lib/h5vault-sysroot"
for d in lib bin sbin; do ln -s "usr/$d" "$dir/$d"; done
index="$dir/var/lib/h5vault-sysroot/files"
: >"$index"
for name in $debs; do
  deb="$state/archives/$name"
  [ -f "$deb" ] || { echo "sysroot: $name was not downloaded" >&2; exit 1; }
  pkg=$(dpkg-deb -f "$deb" Package) ver=$(dpkg-deb -f "$deb" Version)
  # Unpacked once; tar's list of names is the index (paths as the merged /usr has them).
  dpkg-deb --fsys-tarfile "$deb" | tar -xv --keep-directory-symlink -C "$dir" \
    | sed -e 's#^\./#/#' -e 's#^/\(lib\|bin\|sbin\)/#/usr/\1/#' \
    | grep -v '/$' | awk -v p="$pkg" -v v="$ver" '{ print $0 "\t" p "\t" v }' >>"$index"
done
# Absolute links point into this machine; make them point into DIR.
find "$dir" -type l -lname '/*' | while read -r l; do ln -sfnr "$dir$(readlink "$l")" "$l"; done
# update-alternatives never ran: hdf5.pc is the serial build's, as on an installed system.
for pc in "$dir"/usr/lib/*-linux-gnu/pkgconfig/hdf5-serial.pc; do
  [ -f "$pc" ] && ln -sfn hdf5-serial.pc "$(dirname "$pc")/hdf5.pc"
done
echo "$want" >"$stamp"
echo "sysroot: $dir: $(wc -w <<<"$debs") packages, $(du -sh "$dir" | cut -f1)" >&2
