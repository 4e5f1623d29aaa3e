/**
 * `h5vault store push|pull|ls|gc`: the S3 model store from the command line
 * (docs/object-storage.md). push loads a model file (through loadModel: the
 * one opener, every tensor's SHA-256 checked) and publishes it; pull makes a
 * version present and verified in the local cache and prints its path.
 */
import type { Command } from './command.js';
import { loadModel } from '../model/load.js';
import { S3ModelStore, type S3StoreOptions } from '../model/store/s3.js';
import { INPUT_OPTIONS, parse, parseInteger, str, UsageError } from './args.js';
import { EXIT, formatBytes, formatMs, Output, table } from './output.js';

const USAGE = `Usage: h5vault store push STORE NAME FILE [--layout file|tensors] [--json]
       h5vault store pull STORE NAME [--version N] [--json]
       h5vault store ls STORE [NAME] [--json]
       h5vault store gc STORE NAME [--json]
Common: [--cache-dir DIR] [--endpoint URL] [--region R]

STORE is s3://bucket/prefix (created by push if it is not a store yet).
push: publishes FILE (an h5vault model; its tensors and metadata) as the next
  version of NAME. --layout tensors (content-addressed) uploads only the tensors
  the bucket lacks; file (default) uploads the whole file.
pull: makes version N (default: the latest) present in the cache, verified;
  with an earlier version cached, a content-addressed version fetches only the
  tensors it lacks. Prints the cached file's path.
ls: the models of STORE, or the versions of NAME.
gc: removes what interrupted publishes and pruned versions left (after the
  grace periods, docs/object-storage.md#gc-racing-publish).
Transfer counts (requests, bytes) are printed and in --json as "stats".`;

async function openStore(url: string, values: Record<string, unknown>, create: boolean): Promise<S3ModelStore> {
  const o: S3StoreOptions = { create };
  const layout = str(values.layout as string | undefined);
  if (layout !== undefined && layout !== 'file' && layout !== 'tensors')
    throw new UsageError(`--layout must be file or tensors (got '${layout}')`);
  if (layout) o.layout = layout;
  const endpoint = str(values.endpoint as string | undefined);
  const region = str(values.region as string | undefined);
  const cacheDir = str(values['cache-dir'] as string | undefined);
  if (endpoint) o.endpoint = endpoint;
  if (region) o.region = region;
  if (cacheDir) o.cacheDir = cacheDir;
  return S3ModelStore.open(url, o);
}

export const command: Command = {
  summary: 'push, pull, list and gc versions in an S3 model store',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        ...INPUT_OPTIONS,
        layout: { type: 'string' },
        version: { type: 'string' },
        'cache-dir': { type: 'string' },
      },
      { min: 2, max: 4, names: 'push|pull|ls|gc STORE ...' },
    );
    const out = new Output(values);
    const [verb, url, name, file] = positionals as [string, string, string?, string?];
    const need = { push: 4, pull: 3, ls: 2, gc: 3 }[verb];
    if (need === undefined) throw new UsageError(`unknown store command '${verb}' (push, pull, ls, gc)`);
    if (positionals.length < need || positionals.length > (verb === 'ls' ? 3 : need))
      throw new UsageError(`wrong arguments for 'store ${verb}'`);
    const t0 = performance.now();
    const store = await openStore(url, values, verb === 'push');
    try {
      if (verb === 'push') {
        const m = await loadModel(file!);
        let bar: ReturnType<Output['progress']> | undefined;
        let v: number;
        try {
          v = await store.save(name!, m.tensors, {
            metadata: m.metadata,
            onUploadProgress: (sent, total) => {
              bar ??= out.progress('uploading', total);
              bar.update(sent, '');
            },
          });
        } finally {
          m.close();
        }
        bar?.end();
        const ms = performance.now() - t0;
        const stats = store.stats();
        if (out.json) out.emitJson({ ok: true, name, version: v, ms, stats });
        else
          out.line(
            `${name} version ${v}: uploaded ${formatBytes(stats.bytesUploaded)} (${stats.tensorsUploaded} tensors new, ${stats.tensorsReused} reused) in ${formatMs(ms)}`,
          );
      } else if (verb === 'pull') {
        const vText = str(values.version);
        const version = vText === undefined ? undefined : parseInteger(vText, '--version', 1, Number.MAX_SAFE_INTEGER);
        let bar: ReturnType<Output['progress']> | undefined;
        const r = await store.pull(name!, version, {
          onDownloadProgress: (got, total) => {
            bar ??= out.progress('downloading', total);
            bar.update(got, '');
          },
        });
        bar?.end();
        const ms = performance.now() - t0;
        const stats = store.stats();
        if (out.json) out.emitJson({ ok: true, name, ...r, ms, stats });
        else {
          out.line(
            `${name} version ${r.version}: ${r.downloaded ? `downloaded ${formatBytes(stats.bytesDownloaded)} (${stats.tensorsDownloaded} tensors fetched, ${stats.tensorsFromCache} from a cached version)` : 'already cached'} in ${formatMs(ms)}`,
          );
          out.line(r.path);
        }
      } else if (verb === 'ls') {
        if (name === undefined) {
          const names = await store.names();
          if (out.json) out.emitJson({ ok: true, names });
          else for (const n of names) out.line(n);
        } else {
          const versions = await store.versions(name);
          const formats = await Promise.all(versions.map(async (v) => (await store.record(name, v.version))!.format));
          if (out.json)
            out.emitJson({
              ok: true,
              name,
              versions: versions.map((v, i) => ({ ...v, layout: formats[i] === 2 ? 'tensors' : 'file' })),
            });
          else
            out.line(
              table(
                ['version', 'layout', 'size', 'created', 'SHA-256'],
                versions.map((v, i) => [
                  String(v.version),
                  formats[i] === 2 ? 'tensors' : 'file',
                  formatBytes(v.bytes),
                  v.createdAt,
                  v.digest.slice(0, 16),
                ]),
                ['r', 'l', 'r', 'l', 'l'],
                out,
              ),
            );
        }
      } else {
        const r = await store.gc(name!);
        if (out.json) out.emitJson({ ok: true, name, ...r, badRecords: r.badRecords.map((b) => b.key) });
        else
          out.line(
            `removed ${r.objects.length} objects, marked ${r.condemned.length} unreferenced tensor objects, aborted ${r.uploads.length} uploads${r.badRecords.length ? `; ${r.badRecords.length} bad records left for a person to look at` : ''}`,
          );
      }
    } finally {
      store.destroy();
    }
    return EXIT.OK;
  },
};
