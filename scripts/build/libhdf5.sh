#!/usr/bin/env bash
# The libhdf5 that the prebuilt binaries bundle: Debian's own hdf5 source package
# (the version of the libhdf5-dev h5vault is built against, with Debian's
# patches), configured like Debian's serial flavour but WITHOUT the read-only S3
# driver (ROS3), so it needs no libcurl, OpenSSL, gnutls, krb5, ldap... :
#
#   bash scripts/build/libhdf5.sh TARGET OUTDIR [SYSROOT]     e.g. linux-arm64 /var/cache/h5vault-hdf5/linux-arm64 /var/cache/h5vault-sysroot/linux-arm64-dev
#
# OUTDIR gets lib/libhdf5_serial.so.103 (soname and symbol versions as Debian's,
# so HDF5 filter plugins linked against Debian's libhdf5 bind to it), a dev link
# lib/libhdf5.so, lib/libhdf5_hl.a (the high-level library's objects, position-
# independent: the addon links the few H5DS functions it calls into itself, so
# no libhdf5_serial_hl.so.100 is bundled; they call the shared libhdf5 above),
# include/ (its headers: H5pubconf.h without H5_HAVE_ROS3_VFD),
# COPYING (the source's licence) and source (the Debian source version).
# Only the C library and hl are built (src/, hl/src/: no tools, tests, C++, Fortran,
# Java). A linux-arm64 build is cross-compiled against SYSROOT
# (scripts/build/sysroot.sh, which holds libaec-dev and zlib1g-dev of that
# architecture); the two programs the build runs (H5detect, H5make_libsettings,
# which probe the target's number formats) run under qemu-user, and configure's
# own run-time probes are checked afterwards: the generated H5pubconf.h must
# match Debian's for that architecture except for ROS3.
# An OUTDIR made from the same source version, target and recipe (below: bump it
# when the build changes) is reused.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: libhdf5.sh TARGET OUTDIR [SYSROOT]" >&2; exit 2; }
target=$1 out=$2 sysroot=${3:-/}
case $target in
  linux-x64) triplet=x86_64-linux-gnu deb=amd64 ;;
  linux-arm64) triplet=aarch64-linux-gnu deb=arm64 ;;
  *) echo "libhdf5: unknown target $target" >&2; exit 2 ;;
esac
build_triplet=$(gcc -dumpmachine)
native=$([ "$triplet" = "$build_triplet" ] && echo 1 || true)

# The version to build: the target's libhdf5-dev (dpkg here, the sysroot's index there).
if [ "$sysroot" = / ]; then
  # shellcheck disable=SC2016 # ${Version} is dpkg-query's format field
  version=$(dpkg-query -W -f '${Version}' libhdf5-dev)
else
  version=$(awk -F'\t' '$2 == "libhdf5-dev" { print $3; exit }' "$sysroot/var/lib/h5vault-sysroot/files")
fi
[ -n "$version" ] || { echo "libhdf5: no libhdf5-dev in $sysroot" >&2; exit 1; }
recipe=2  # 2: -Os, --gc-sections, hl as a static archive
want="hdf5 $version $target recipe $recipe"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$want" ]; then exit 0; fi
for bin in autoreconf libtoolize dpkg-source dpkg-buildflags; do
  command -v $bin >/dev/null || {
    echo "libhdf5: $bin is missing: apt-get install autoconf automake libtool dpkg-dev" >&2
    exit 2
  }
done
start=$(date +%s)

# 1. The source package, through apt (so its hashes are checked against the
# signed archive index), with apt's own state: deb-src entries made from this
# system's Debian sources (Types: deb -> deb-src); the system's apt is not touched.
cache=${H5VAULT_HDF5_CACHE:-/var/cache/h5vault-hdf5}
state="$cache/apt"
mkdir -p "$state/lists/partial" "$state/archives/partial"
{
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 paragraphs of the Debian archive only (a third-party repository may have no sources).
    awk -v RS= -v ORS='\n\n' '/debian-archive-keyring|debian\.org/ { sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f"
  done
} >"$state/src.sources"
{ grep -hsE '^deb +(\[[^]]*\] +)?https?://[^ ]*debian\.org' /etc/apt/sources.list /etc/apt/sources.list.d/*.list || true; } \
  | sed 's/^deb /deb-src /' >"$state/src.list"
apt=(apt-get -qq -o "Dir::Etc::SourceList=$state/src.list" -o "Dir::Etc::SourceParts=$state/parts"
  -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state" -o Debug::NoLocking=1)
mkdir -p "$state/parts" && cp "$state/src.sources" "$state/parts/debian-src.sources"
"${apt[@]}" update
work=$(mktemp -d /var/tmp/h5vault-libhdf5.XXXXXX)
trap 'rm -rf "$work"' EXIT  # (H5VAULT_HDF5_KEEP=1: kept for a look)
[ -z "${H5VAULT_HDF5_KEEP:-}" ] || trap 'echo "libhdf5: kept $work" >&2' EXIT
(cd "$work" && "${apt[@]}" source --download-only "hdf5=$version" 2>&1 | grep -v 'unsandboxed' || true)
dsc=$(ls "$work"/hdf5_*.dsc)
# Extracts and applies Debian's patches (debian/patches/series), flavour patch included.
# (apt has checked its files against the signed index; dpkg-source's gpgv lacks the uploader's key)
dpkg-source -q -x "$dsc" "$work/src" >/dev/null 2>&1 || { dpkg-source -x "$dsc" "$work/src"; exit 1; }
cd "$work/src"

# 2. Configure as debian/rules does for the serial flavour (CONFIGURE_FLAGS + SERIAL_FLAGS,
# its version script, dpkg-buildflags), minus ROS3, Fortran, C++, Java, tools and tests.
if [ -z "$native" ]; then
  # configure's probe of C's decimal precision (PAC_FC_LDBL_DIG, m4/aclocal_fc.m4)
  # runs a program and has no answer for a cross build: it gets the same number
  # from the target compiler's <float.h> (DECIMAL_DIG; aarch64 has no __float128).
  sed -i '/AC_DEFUN(\[PAC_FC_LDBL_DIG\]/,/^\])/ s/^\( *\)\],\[\])$/\1],[LDBL_DIG=$hdf5_cross_ldbl_dig; FLT128_DIG=0])/' m4/aclocal_fc.m4
  grep -q 'LDBL_DIG=$hdf5_cross_ldbl_dig' m4/aclocal_fc.m4 || { echo "libhdf5: PAC_FC_LDBL_DIG not found" >&2; exit 1; }
  hdf5_cross_ldbl_dig=$(printf '#include <float.h>\nDECIMAL_DIG\n' | "$triplet-gcc" --sysroot="$sysroot" -E -P - | tail -1)
  export hdf5_cross_ldbl_dig
fi
autoreconf -f -i >/dev/null 2>&1
eval "$(DEB_HOST_ARCH=$deb dpkg-buildflags --export=sh)"
# Built for size, not speed (recipe 2): -Os where dpkg-buildflags says -O2 (its
# CFLAGS come last on the compile line, after HDF5's own production -O3, so -O2
# is what Debian's build gets), and each function and object in its own section
# so the link drops what nothing reaches (--gc-sections; the version script
# still exports every symbol Debian's does): 13% smaller, 0.19 MB less per
# platform in the npm tarball; docs/install.md ("The tarball") has the sizes and
# the speed cost, measured with bench/prebuild-ab.mjs.
opt=-Os # (-O2: Debian's speed and size; bump the recipe when changing it)
CFLAGS="${CFLAGS/-O2/$opt} -ffunction-sections -fdata-sections"
LDFLAGS="$LDFLAGS -Wl,--gc-sections"
# (as dpkg-buildpackage: Debian's reproducibility patch dates the build by its changelog)
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -STimestamp)
export SOURCE_DATE_EPOCH
cross=()
if [ -z "$native" ]; then
  # Run-time checks configure cannot run when cross-compiling: the answers for
  # aarch64 (checked against Debian's arm64 H5pubconf.h below).
  cross=(CC="$triplet-gcc --sysroot=$sysroot" RUNSERIAL="qemu-$(uname -m | sed 's/x86_64/aarch64/')-static -L $sysroot"
    hdf5_cv_ldouble_to_long_special=no hdf5_cv_long_to_ldouble_special=no
    hdf5_cv_ldouble_to_llong_accurate=yes hdf5_cv_llong_to_ldouble_correct=yes hdf5_cv_disable_some_ldouble_conv=no
    hdf5_cv_system_scope_threads=yes hdf5_cv_printf_ll=ll hdf5_cv_szlib_can_encode=yes)
fi
mkdir build && cd build
H5_LDFLAGS="-Wl,--version-script,\$(top_srcdir)/debian/map_serial.ver" ../configure -q \
  --prefix=/usr --host="$triplet" --build="$build_triplet" --libdir="/usr/lib/$triplet" \
  --with-pthread --enable-linux-lfs --enable-shared --disable-static --enable-build-mode=production \
  --disable-sharedlib-rpath --with-zlib --with-default-api-version=v18 --with-szlib \
  --includedir=/usr/include/hdf5/serial --with-flavor=serial \
  --with-default-plugindir="/usr/lib/$triplet/hdf5/serial/plugins" \
  --enable-unsupported --enable-threadsafe \
  --disable-ros3-vfd --disable-fortran --disable-cxx --disable-java --enable-hltools \
  --disable-tools --disable-tests \
  "${cross[@]}" >/dev/null 2>&1 || { tail -40 config.log >&2; exit 1; }
# (as debian/rules: no build path in the settings text compiled into the library)
sed -i "s:$work/src:\$(top_srcdir):g" src/libhdf5.settings
# (HDF5's own warnings, hundreds of them, go to a log shown only on failure)
make -s -j"${H5VAULT_HDF5_JOBS:-2}" -C src >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 1; }
make -s -C src install DESTDIR="$work/inst" >/dev/null
make -s -j"${H5VAULT_HDF5_JOBS:-2}" -C hl/src >>"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 1; }
# (libtool's shared-library objects: compiled -fPIC, one section per function)
"$triplet-ar" rcs "$work/libhdf5_hl.a" hl/src/.libs/*.o

# 3. Checks: Debian's soname, nothing but libsz/libz/libm/libc needed, and the
# public configuration header as Debian's for this architecture except ROS3.
lib="$work/inst/usr/lib/$triplet/libhdf5_serial.so.103"
so=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$so" = libhdf5_serial.so.103 ] || { echo "libhdf5: soname is $so" >&2; exit 1; }
# (and, on arm64, the loader, as Debian's arm64 libhdf5 does)
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -v '^ld-linux' | sort | tr '\n' ' ')
[ "$needed" = "libc.so.6 libm.so.6 libsz.so.2 libz.so.1 " ] || { echo "libhdf5: needs $needed" >&2; exit 1; }
theirs="$sysroot/usr/include/hdf5/serial/H5pubconf.h"
ours="$work/inst/usr/include/hdf5/serial/H5pubconf.h"
# (Fortran and C++ are not configured here: their macros are only for those bindings.)
other='H5_(HAVE_ROS3_VFD|HAVE_LIBCURL|HAVE_CURL_CURL_H|HAVE_LIBCRYPTO|HAVE_OPENSSL_|CXX_|FC_|PAC_FC_|FORTRAN_|Fortran_|HAVE_Fortran_|H5CONFIG_F_)'
if ! diff <(grep -Ev "$other" "$theirs") <(grep -Ev "$other" "$ours") >"$work/pubconf.diff"; then
  cat "$work/pubconf.diff" >&2
  echo "libhdf5: H5pubconf.h differs from Debian's ($theirs) beyond ROS3" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out/lib"
cp "$lib" "$out/lib/"
"${triplet}-strip" --strip-unneeded "$out/lib/libhdf5_serial.so.103" 2>/dev/null || strip --strip-unneeded "$out/lib/libhdf5_serial.so.103"
ln -s libhdf5_serial.so.103 "$out/lib/libhdf5.so"
cp "$work/libhdf5_hl.a" "$out/lib/"
"${triplet}-strip" --strip-debug "$out/lib/libhdf5_hl.a" 2>/dev/null || strip --strip-debug "$out/lib/libhdf5_hl.a"
cp -r "$work/inst/usr/include/hdf5/serial" "$out/include"
cp ../COPYING "$out/COPYING"
echo "$version" >"$out/source"
echo "$want" >"$out/stamp"
echo "libhdf5: $target: built libhdf5_serial.so.103 from Debian source hdf5 $version without ROS3 in $(($(date +%s) - start)) s" >&2
