// Child process for the S3 store tests (uses the compiled dist/: run `npm run build:ts` first).
// The cluster comes from the env (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION):
// the store finds the credentials through the SDK's standard chain, as a user's process would.
//   publish <url> <name> <count> <seed> <cacheDir> [conditional=1] -> saves <count> versions, prints their numbers as JSON
//   pull <url> <name> <version|latest> <cacheDir>                 -> loads, prints { version, downloaded, sha } (sha over all tensor bytes)
//   hold <url> <name> <version> <cacheDir>                         -> loads, prints 'held', keeps it mapped until killed
//   serve-wait <url> <name> <cacheDir> <from>                       -> serves; prints 'ready', then a JSON line when a version > from serves, and exits
// The content-addressed layout's gc-vs-publish race (test/s3/store.cas.faults.test.ts), all with layout 'tensors':
//   cas-publish <url> <name> <count> <seed> <cacheDir> <blobGraceMs>  -> saves <count> versions of casModel, prints their numbers as JSON
//   gc-loop <url> <name> <cacheDir> <blobGraceMs> <keep> <stopFile>   -> prune to <keep> + gc until <stopFile> exists; prints totals as JSON
//   verify-all <url> <name> <cacheDir>                                -> loads every listed version, compares it with casModel of its metadata
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
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

/**
 * 8 tensors of 16 K floats; tensor k's seed is seeds[k]. casSeeds(p, j): tensor j % 8 takes one of
 * 3 seeds of its own, the others a shared one, so bytes recur across versions and publishers: a
 * later version needs bytes whose old copy gc may have condemned after a prune.
 */
const casSeeds = (p, j) => Array.from({ length: 8 }, (_, k) => 1000 * (k + 1) + (k === j % 8 ? 1 + ((p + j) % 3) : 0));
function casModel(seeds) {
  const m = {};
  seeds.forEach((s, k) => {
    m[`layers/${k}/w`] = model(s, 16 * 1024)['layer/w'];
  });
  return m;
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
} else if (cmd === 'cas-publish') {
  const [url, name, count, seed, cacheDir, grace] = args;
  const store = await ModelStore.open(url, {
    ...opts(cacheDir),
    create: true,
    layout: 'tensors',
    blobGraceMs: Number(grace),
  });
  // A slow publisher, within the rule: stalls up to 0.4 of the grace period between its check of
  // the copies and its manifest, the window in which a gc may delete what it checked.
  const { casTestHooks } = await import('../../dist/model/store/cas.js');
  casTestHooks.beforeCommit = () => new Promise((r) => setTimeout(r, Math.random() * 0.4 * Number(grace)));
  const out = [];
  for (let j = 0; j < Number(count); j++) {
    const seeds = casSeeds(Number(seed), j);
    out.push(await store.save(name, casModel(seeds), { metadata: { seeds, pid: process.pid } }));
  }
  console.log(JSON.stringify(out));
  store.destroy();
} else if (cmd === 'gc-loop') {
  const [url, name, cacheDir, grace, keep, stopFile] = args;
  const store = await ModelStore.open(url, { ...opts(cacheDir), layout: 'tensors', blobGraceMs: Number(grace) });
  const totals = { runs: 0, pruned: 0, condemned: 0, deleted: 0 };
  while (!existsSync(stopFile)) {
    totals.pruned += (await store.prune(name, { keep: Number(keep) })).length;
    const g = await store.gc(name);
    totals.runs++;
    totals.condemned += g.condemned.length;
    totals.deleted += g.objects.length;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(JSON.stringify(totals));
  store.destroy();
} else if (cmd === 'verify-all') {
  const [url, name, cacheDir] = args;
  const store = await ModelStore.open(url, { ...opts(cacheDir), layout: 'tensors' });
  const out = { versions: [], mismatched: [] };
  for (const { version } of await store.versions(name)) {
    const m = await store.load(name, version); // checks every tensor's and the file's SHA-256
    const want = casModel(m.metadata.seeds);
    out.versions.push(version);
    for (const [k, t] of Object.entries(want)) {
      const got = m.tensors.get(k);
      const same =
        got &&
        Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(t.data.buffer));
      if (!same) out.mismatched.push(`${version}:${k}`);
    }
    m.close();
  }
  console.log(JSON.stringify(out));
  store.destroy();
} else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
