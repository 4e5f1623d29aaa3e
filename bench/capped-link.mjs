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
 * One direction of one connection: a FIFO of chunks, each released when the link has
 * serialised it at `rate` bytes/ms and it has travelled `delayMs`. The source is paused
 * while more than `window` bytes are queued (a receive window: a bounded proxy, and the
 * sender feels the cap as backpressure, as over a real link).
 */
function cappedPipe(src, dst, { rate, delayMs, startAt, window, count }) {
  const queue = []; // [releaseAt, chunk]
  let linkFree = startAt;
  let queued = 0;
  let timer = null;
  let ended = false;
  const drain = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0][0] <= now) {
      const [, chunk] = queue.shift();
      queued -= chunk.length;
      if (!dst.destroyed) dst.write(chunk);
    }
    if (queued <= window && src.isPaused()) src.resume();
    if (queue.length) timer = setTimeout(drain, Math.max(0, queue[0][0] - now));
    else if (ended && !dst.destroyed) dst.end();
  };
  src.on('data', (chunk) => {
    const now = performance.now();
    linkFree = Math.max(now, linkFree) + chunk.length / rate;
    queue.push([linkFree + delayMs, chunk]);
    queued += chunk.length;
    count(chunk.length);
    if (queued > window) src.pause();
    if (!timer) timer = setTimeout(drain, Math.max(0, queue[0][0] - now));
  });
  src.on('end', () => {
    ended = true;
    if (!timer) drain();
  });
}

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
    const upstream = connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: true });
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
    const now = performance.now();
    cappedPipe(client, upstream, {
      rate,
      delayMs: oneWay,
      startAt: now + rttMs,
      window,
      count: (n) => (totals.bytesUp += n),
    });
    cappedPipe(upstream, client, {
      rate,
      delayMs: oneWay,
      startAt: now,
      window,
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
