// Child process for the S3 store tests (uses the compiled dist/: run `npm run build:ts` first).
// The cluster comes from the env (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION):
// the store finds the credentials through the SDK's standard chain, as a user's process would.
//   publish <url> <name> <count> <seed> <cacheDir> [conditional=1] -> saves <count> versions, prints their numbers as JSON
//   pull <url> <name> <version|latest> <cacheDir>                 -> loads, prints { version, downloaded, sha } (sha over all tensor bytes)
//   hold <url> <name> <version> <cacheDir>                         -> loads, prints 'held', keeps it mapped until killed
//   serve-wait <url> <name> <cacheDir> <from>                       -> serves; prints 'ready', then a JSON line when a version > from serves, and exits
import { createHash } from 'node:crypto';
import { ModelStore } from '../../dist/index.js';

function model(seed, n = 64 * 1024) {
  const w = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    w[i] = x / 2 ** 32 - 0.5;
  }
  return {
    'layer/w': { dtype: 'float32', shape: [n], data: w },
    'layer/seed': { dtype: 'int32', shape: [1], data: Int32Array.of(seed) },
  };
}

function tensorSha(m) {
  const h = createHash('sha256');
  for (const [name, t] of m.tensors)
    h.update(name).update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return h.digest('hex');
}

const opts = (cacheDir) => ({ endpoint: process.env.S3_ENDPOINT, cacheDir });
const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'publish') {
  const [url, name, count, seed, cacheDir, conditional = '1'] = args;
  const store = await ModelStore.open(url, { ...opts(cacheDir), create: true, conditionalWrites: conditional === '1' });
  const out = [];
  for (let i = 0; i < Number(count); i++)
    out.push(
      await store.save(name, model(Number(seed) + i, 1024), { metadata: { seed: Number(seed) + i, pid: process.pid } }),
    );
  console.log(JSON.stringify(out));
  store.destroy();
} else if (cmd === 'pull') {
  const [url, name, version, cacheDir] = args;
  const store = await ModelStore.open(url, opts(cacheDir));
  const m = await store.load(name, version === 'latest' ? undefined : Number(version));
  console.log(
    JSON.stringify({ version: m.version, downloaded: m.pull.downloaded, sha: tensorSha(m), views: m.views.size }),
  );
  m.close();
  store.destroy();
} else if (cmd === 'hold') {
  const [url, name, version, cacheDir] = args;
  const store = await ModelStore.open(url, opts(cacheDir));
  const m = await store.load(name, Number(version));
  console.log('held');
  setInterval(() => m.tensors.size, 1000); // alive, mapped, until killed
} else if (cmd === 'serve-wait') {
  const [url, name, cacheDir, from] = args;
  const store = await ModelStore.open(url, opts(cacheDir));
  const server = await store.serve(name, { intervalMs: 20 });
  console.log('ready');
  await new Promise((resolve) => {
    const t = setInterval(() => {
      if (server.version > Number(from)) {
        clearInterval(t);
        console.log(JSON.stringify({ version: server.version, at: Date.now() }));
        resolve();
      }
    }, 2);
  });
  await server.close();
  store.destroy();
} else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
