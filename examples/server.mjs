// An HTTP inference server that hot-swaps model versions from an h5vault ModelStore.
//
//   node examples/server.mjs STORE_ROOT MODEL_NAME MODEL.onnx [PORT]
//
//   POST /infer   {"x": [[x0, x1, x2, x3], ...]}  ->  {"version": 7, "y": [[...], ...]}
//   GET  /version                                  ->  {"version": 7, "digest": "<file sha256>"}
//
// The graph (examples/linear_onnx.py) takes its weights W and b as inputs, so
// one InferenceSession serves every version: a version's runtime object is
// its feeds, ort.Tensors over h5vault views of the verified file (no copy).
// ModelStore.serve swaps to a new version only after its file SHA-256 and
// every tensor checksum were verified; a request holds the version it
// started with until it answers (server.use), so each response comes from
// exactly one version. A corrupt version is refused and logged; the previous
// one keeps answering. One JSON line per event goes to stdout (the tests and
// bench/swap.mjs read them).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { ModelStore, ortFeeds } from 'h5vault';

const [root, name, onnxPath, portArg = '0'] = process.argv.slice(2);
if (!root || !name || !onnxPath) {
  console.error('usage: node examples/server.mjs STORE_ROOT MODEL_NAME MODEL.onnx [PORT]');
  process.exit(2);
}

const log = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
/**
 * Anonymous resident memory (heap, ORT arenas, libhdf5): what a leak per swap
 * would grow. Run with --expose-gc to collect garbage first, so the figure
 * is not just uncollected request garbage.
 */
const rssAnonKiB = () => globalThis.gc?.() ?? Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);

const session = await ort.InferenceSession.create(onnxPath);
// The store must exist: a typo in STORE_ROOT is an error (H5_NOT_FOUND), not a new empty store.
const store = await ModelStore.open(root);
const models = await store.serve(name, {
  // Views of the version's file, wrapped for ORT without a copy. They stay
  // valid while a lease holds the version (and the file is never rewritten).
  load: (model) => ortFeeds(model, ['W', 'b']),
  onSwap: (e) => log({ event: 'swap', from: e.from, to: e.to, loadMs: e.loadMs, rssAnonKiB: rssAnonKiB() }),
  onReject: (e) => log({ event: 'reject', version: e.version, serving: e.serving, code: e.error?.code, message: e.error?.message }),
  onRetire: (e) => log({ event: 'retire', version: e.version }),
  onError: (err) => log({ event: 'error', message: String(err?.message ?? err) }),
});

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) reject(Object.assign(new Error('request body over 1 MiB'), { status: 413 }));
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(Object.assign(new Error('body is not JSON'), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}

function inputTensor(body) {
  const rows = body?.x;
  if (!Array.isArray(rows) || rows.length === 0 || rows.length > 1024 || !rows.every((r) => Array.isArray(r) && r.length === 4 && r.every(Number.isFinite))) {
    throw Object.assign(new Error('x must be 1..1024 rows of 4 finite numbers'), { status: 400 });
  }
  return new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]);
}

const send = (res, status, obj) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
};

const http = createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/version') {
      return send(res, 200, { version: models.version, digest: models.info.digest });
    }
    if (req.method === 'POST' && req.url === '/infer') {
      const x = inputTensor(await readJson(req));
      // The lease pins one version for the whole run; a swap meanwhile only affects later requests.
      const out = await models.use(async (feeds, lease) => {
        const { y } = await session.run({ ...feeds, x });
        return { version: lease.version, y: Array.from({ length: y.dims[0] }, (_, i) => Array.from(y.data.subarray(i * 3, i * 3 + 3))) };
      });
      return send(res, 200, out);
    }
    send(res, 404, { error: 'POST /infer or GET /version' });
  } catch (e) {
    send(res, e.status ?? 500, { error: e.message, code: e.code });
  }
});
http.keepAliveTimeout = 10_000;

http.listen(Number(portArg), '127.0.0.1', () => log({ event: 'listening', port: http.address().port, version: models.version }));

const shutdown = () => {
  http.close();
  models.close().then(() => session.release()).then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
