#!/usr/bin/env bash
# A real, single-node Ceph cluster serving S3 on 127.0.0.1, for tests, benchmarks and CI.
# One monitor, one OSD on the in-memory object store (memstore), one radosgw (beast
# frontend); no manager, no authentication between daemons. Everything lives in DIR and
# every daemon is stopped by its own pid file, so several clusters can run side by side
# and nothing else on the machine is touched.
#
#   scripts/dev/s3-cluster.sh start DIR     # start, wait until S3 answers, print the env (below)
#   scripts/dev/s3-cluster.sh env DIR       # print the env of a running cluster
#   scripts/dev/s3-cluster.sh stop DIR      # stop all daemons of DIR (DIR is kept: logs)
#   scripts/dev/s3-cluster.sh rgw-stop DIR  # SIGKILL radosgw only (fault tests: a crashed gateway)
#   scripts/dev/s3-cluster.sh rgw-start DIR # start radosgw again and wait until it answers
#
# The printed env (shell syntax, `eval "$(scripts/dev/s3-cluster.sh start DIR)"`):
#   S3_ENDPOINT=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…
#   AWS_REGION=us-east-1 S3_CLUSTER_DIR=DIR
# Needs the Debian packages ceph-mon, ceph-osd, radosgw (scripts/build/deps.mjs: S3_PACKAGES).
#
# Facts this relies on (Ceph 16, Debian 12), each learned by a failure:
# - with `auth … required = none` radosgw still asks the monitor for a secure session and
#   fails with EACCES unless `ms mon client mode = crc`;
# - beast without tcp_nodelay=1 adds ~40 ms per small request (Nagle + delayed ACK);
# - pools of size 1 need `mon allow pool size one = true`; radosgw's pools are created here
#   up front because radosgw cannot create pools without a manager (pg autoscaling).
set -euo pipefail

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,15p' "$0" >&2; exit 2; }
conf="$dir/ceph.conf"

die() { echo "s3-cluster: $*" >&2; exit 1; }

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

print_env() {
  [ -f "$dir/env" ] || die "no cluster in $dir"
  cat "$dir/env"
}

wait_http() { # wait until radosgw answers an HTTP request (any status)
  local port=$1 i
  for i in $(seq 1 300); do
    if node -e '
      const r=require("http").get({host:"127.0.0.1",port:+process.argv[1],path:"/",timeout:1000},res=>{process.exit(0)});
      r.on("error",()=>process.exit(1)); r.on("timeout",()=>{r.destroy();process.exit(1)});' "$port" 2>/dev/null; then
      return 0
    fi
    [ -f "$dir/run/rgw.pid" ] && ! kill -0 "$(cat "$dir/run/rgw.pid")" 2>/dev/null && die "radosgw exited, see $dir/log/client.rgw.log"
    sleep 0.1
  done
  die "radosgw did not answer on 127.0.0.1:$port within 30 s, see $dir/log/client.rgw.log"
}

start_rgw() {
  local port; port=$(cat "$dir/rgw.port")
  radosgw -c "$conf" -n client.rgw --pid-file "$dir/run/rgw.pid" >>"$dir/log/rgw.stdout" 2>&1 \
    || die "radosgw failed to start, see $dir/log/client.rgw.log"
  wait_http "$port"
}

stop_pidfile() { # SIGTERM, then SIGKILL after 5 s; the pid file is ours, so is the process
  local f=$1 sig=${2:-TERM} pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill -"$sig" "$pid" 2>/dev/null || { rm -f "$f"; return 0; }
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$f"
}

case "$cmd" in
start)
  for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool; do
    command -v "$b" >/dev/null || die "$b not found: install the Debian packages ceph-mon ceph-osd radosgw"
  done
  [ ! -f "$dir/env" ] || die "$dir already holds a cluster (stop it, or use another DIR)"
  mkdir -p "$dir"/{run,log,mon,osd0}
  dir=$(cd "$dir" && pwd); conf="$dir/ceph.conf"
  fsid=$(uuidgen)
  mon_port=$(free_port); rgw_port=${S3_CLUSTER_PORT:-$(free_port)}
  echo "$rgw_port" >"$dir/rgw.port"
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = ${S3_CLUSTER_MEMORY:-8589934592}
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
mon data = $dir/mon
osd data = $dir/osd\$id
keyring = $dir/keyring
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $dir/rgw
EOF
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >"$dir/log/mkfs.mon" 2>&1 \
    || die "ceph-mon --mkfs failed, see $dir/log/mkfs.mon"
  ceph-mon -c "$conf" -i a --pid-file "$dir/run/mon.pid" || die "ceph-mon failed, see $dir/log/mon.a.log"
  timeout 30 ceph -c "$conf" osd create >/dev/null || die "monitor did not answer, see $dir/log/mon.a.log"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$(uuidgen)" >"$dir/log/mkfs.osd" 2>&1 \
    || die "ceph-osd --mkfs failed, see $dir/log/mkfs.osd"
  ceph-osd -c "$conf" -i 0 --pid-file "$dir/run/osd.pid" 2>>"$dir/log/osd.stderr" || die "ceph-osd failed, see $dir/log/osd.0.log"
  for pool in .rgw.root default.rgw.log default.rgw.control default.rgw.meta \
              default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    ceph -c "$conf" osd pool create "$pool" 8 8 >/dev/null 2>&1 || die "pool $pool: $(ceph -c "$conf" osd pool create "$pool" 8 8 2>&1)"
    ceph -c "$conf" osd pool application enable "$pool" rgw >/dev/null 2>&1 || true
  done
  # The OSD must be up (and the PGs active) before radosgw can initialise its pools.
  for i in $(seq 1 300); do
    ceph -c "$conf" osd stat 2>/dev/null | grep -q '1 up' && break
    sleep 0.1
  done
  mkdir -p "$dir/rgw"
  start_rgw
  key=$(node -e 'console.log(require("crypto").randomBytes(10).toString("hex").toUpperCase())')
  secret=$(node -e 'console.log(require("crypto").randomBytes(20).toString("base64url"))')
  radosgw-admin -c "$conf" user create --uid h5vault --display-name h5vault \
    --access-key "$key" --secret-key "$secret" >"$dir/log/user.json" 2>"$dir/log/user.err" \
    || die "radosgw-admin user create failed, see $dir/log/user.err"
  cat >"$dir/env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$rgw_port
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1
export S3_CLUSTER_DIR=$dir
EOF
  print_env
  ;;
env) print_env ;;
rgw-stop) stop_pidfile "$dir/run/rgw.pid" KILL ;;
rgw-start)
  [ -f "$dir/env" ] || die "no cluster in $dir"
  [ -f "$dir/run/rgw.pid" ] && kill -0 "$(cat "$dir/run/rgw.pid")" 2>/dev/null && die "radosgw already runs"
  start_rgw ;;
stop)
  stop_pidfile "$dir/run/rgw.pid"
  stop_pidfile "$dir/run/osd.pid"
  stop_pidfile "$dir/run/mon.pid"
  rm -f "$dir/env"
  ;;
*) die "unknown command $cmd (start|env|stop|rgw-stop|rgw-start)" ;;
esac
