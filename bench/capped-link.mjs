// A capped link for the S3 benchmarks: a TCP proxy in front of radosgw that gives every
// connection its own bandwidth cap (bytes/s, each direction, like a full-duplex link) and
// a round-trip time (half of it added each way, and one whole RTT before a new connection's
// first byte reaches the server: the TCP handshake). Why a proxy and not tc on a network
// namespace: docs/object-storage.md#a-capped-link.
//
// The proxy runs in a child process of its own, so the benchmark's synchronous work (hashing,
// the rebuild) never stalls the link, and the proxy's CPU is measured apart:
//
//   const link = await startCappedLink({ target: 'http://127.0.0.1:7480', mbps: 40, rttMs: 30 });
//   ... S3 clients use link.endpoint ...
//   await link.stats() -> { connections, bytesDown, bytesUp, cpuMs }; await link.close();
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * One direction of one connection: each chunk is released (written to `dst`) when the link
 * has serialised it at `rate` bytes/ms and it has travelled `delayMs`. The bytes wait in one
 * ring buffer per direction, allocated once (`ring`), and the release times in a queue of
 * numbers: no allocation per chunk. Fresh memory is what a proxy pays most for on this VM
 * (every new page faults, ~1.3 ms per MiB: more than the copies), and Node's default socket
 * reads allocate a new 64 KiB buffer each. The source is paused while more than `window`
 * bytes are held (a receive window: a bounded proxy, and the sender feels the cap as
 * backpressure, as over a real link); a region is reused once its write has completed.
 * Returns the `onread` callback for a socket that reads into a buffer of its own (net.connect's
 * onread option: the download direction, radosgw -> client), and also listens to 'data' for
 * one that does not (an accepted socket: the request direction).
 */
function cappedPipe(src, dst, { rate, delayMs, startAt, window, count, readBytes }) {
  const ring = Buffer.allocUnsafe(window + readBytes);
  let head = 0; // next byte of ring to fill
  let used = 0; // bytes held: queued or being written
  // Queued chunks as parallel number queues (start in ring, length, release time), from qHead.
  const qStart = [];
  const qLen = [];
  const qAt = [];
  let qHead = 0;
  let linkFree = startAt;
  let timer = null;
  let ended = false;
  let paused = false;
  const freed = (n) => () => {
    used -= n;
    if (paused && used <= window) {
      paused = false;
      src.resume();
    }
  };
  const drain = () => {
    timer = null;
    const now = performance.now();
    while (qHead < qAt.length && qAt[qHead] <= now) {
      const start = qStart[qHead];
      const len = qLen[qHead];
      qHead++;
      if (dst.destroyed) used -= len;
      else dst.write(ring.subarray(start, start + len), freed(len));
    }
    if (qHead === qAt.length) {
      qStart.length = qLen.length = qAt.length = qHead = 0;
      if (ended && !dst.destroyed) dst.end();
    } else timer = setTimeout(drain, Math.max(0, qAt[qHead] - now));
    if (paused && used <= window) {
      paused = false;
      src.resume();
    }
  };
  const push = (start, len, now) => {
    linkFree = Math.max(now, linkFree) + len / rate;
    qStart.push(start);
    qLen.push(len);
    qAt.push(linkFree + delayMs);
  };
  // Copies n bytes of `buf` into the ring (in two pieces at its end) and queues them.
  const take = (buf, n) => {
    const now = performance.now();
    count(n);
    used += n;
    let off = 0;
    while (off < n) {
      if (head === ring.length) head = 0;
      const k = Math.min(n - off, ring.length - head);
      buf.copy(ring, head, off, off + k);
      push(head, k, now);
      head += k;
      off += k;
    }
    if (!timer) timer = setTimeout(drain, Math.max(0, qAt[qHead] - now));
    if (used > window) {
      paused = true;
      return false; // pauses the source: at most one more read (<= readBytes) can arrive
    }
    return true;
  };
  src.on('data', (chunk) => {
    if (!take(chunk, chunk.length)) src.pause();
  });
  src.on('end', () => {
    ended = true;
    if (!timer) drain();
  });
  return (n, buf) => take(buf, n);
}

// The download direction's read size (the request direction reads what Node gives, <= 64 KiB).
const READ_BYTES = 256 * 1024;

/** The proxy itself, in this process, on 127.0.0.1 (an ephemeral port); resolves when it listens. */
export async function cappedLink({ target, mbps, rttMs }) {
  const url = new URL(target);
  const rate = (mbps * 1e6) / 1e3; // bytes per ms
  const oneWay = rttMs / 2;
  // Twice the bandwidth-delay product, at least 256 KiB: enough that the cap, not the window, limits a stream.
  const window = Math.max(256 * 1024, 2 * rate * rttMs);
  const sockets = new Set();
  const totals = { connections: 0, bytesDown: 0, bytesUp: 0 };
  const cpu0 = process.cpuUsage();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    totals.connections++;
    const now = performance.now();
    // Downloads are read into one reused buffer (onread), not a new one per read.
    const readBuf = Buffer.allocUnsafe(READ_BYTES);
    let down = null;
    const upstream = connect({
      port: Number(url.port),
      host: url.hostname,
      allowHalfOpen: true,
      onread: { buffer: readBuf, callback: (n, buf) => down(n, buf) },
    });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // Either side failing (radosgw killed, a client aborting) resets the other, as a dead link would.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    // The client gone, nothing more can reach it; the server closing is forwarded (delayed) by its pipe's end.
    client.on('close', () => upstream.destroy());
    cappedPipe(client, upstream, {
      rate,
      delayMs: oneWay,
      startAt: now + rttMs,
      window,
      readBytes: 64 * 1024,
      count: (n) => (totals.bytesUp += n),
    });
    down = cappedPipe(upstream, client, {
      rate,
      delayMs: oneWay,
      startAt: now,
      window,
      readBytes: READ_BYTES,
      count: (n) => (totals.bytesDown += n),
    });
  });
  await new Promise((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** Connections accepted, payload bytes each way, and the CPU this process spent since the start (ms; the proxy's share of it when nothing else ran). */
    stats: () => {
      const c = process.cpuUsage(cpu0);
      return { ...totals, cpuMs: (c.user + c.system) / 1e3 };
    },
    close: () =>
      new Promise((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}

/** Starts the proxy in a child process; `close()` stops it (and it exits with its parent). */
export async function startCappedLink({ target, mbps, rttMs }) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), target, String(mbps), String(rttMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let exited = null;
  child.once('exit', (code) => {
    exited = new Error(`capped link exited with ${code}`);
    lines.emit('line', 'null');
  });
  const next = () =>
    new Promise((ok, fail) => {
      if (exited) return fail(exited);
      lines.once('line', (l) => (exited ? fail(exited) : ok(JSON.parse(l))));
    });
  const { endpoint } = await next();
  process.on('exit', () => child.kill());
  return {
    endpoint,
    stats: () => {
      const r = next();
      child.stdin.write('stats\n');
      return r;
    },
    close: () =>
      new Promise((ok) => {
        child.once('exit', ok);
        child.stdin.end();
      }),
  };
}

// As a child: node bench/capped-link.mjs TARGET MBPS RTT_MS; prints {endpoint}, then one stats line per 'stats' line on stdin; exits at stdin's end.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [target, mbps, rttMs] = process.argv.slice(2);
  const link = await cappedLink({ target, mbps: Number(mbps), rttMs: Number(rttMs) });
  console.log(JSON.stringify({ endpoint: link.endpoint }));
  const input = createInterface({ input: process.stdin });
  input.on('line', () => console.log(JSON.stringify(link.stats())));
  input.on('close', async () => {
    await link.close();
    process.exit(0);
  });
}
