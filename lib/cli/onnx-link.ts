import { openInputSync } from '../safety/open.js';
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { linkOnnx, type LinkOptions } from '../onnx/link.js';
import { parse, str, UsageError } from './args.js';
import { EXIT, formatBytes, formatMs, Output, table } from './output.js';
import { parseStoredJson } from '../safety/budget.js';

const USAGE = `Usage: h5vault onnx-link MODEL.onnx WEIGHTS.h5 OUT.onnx [--map NAME=DATASET]...
                         [--map-file FILE.json] [--repack] [--repack-path FILE.h5]
                         [--no-check-data] [--require-all] [--force] [--json]

Writes OUT.onnx: MODEL.onnx with each initializer that has a matching dataset
in WEIGHTS.h5 pointing into it (ONNX external data: location, offset,
length), so onnxruntime maps those weights from the .h5 file. OUT.onnx must
be in the directory of WEIGHTS.h5 or above it (onnxruntime reads external
data only below the model's directory).

A dataset matches an initializer with the same dtype and shape, found by
--map / --map-file ({"initializer": "dataset/path"}), else by its exact
name, else by its name with '.' read as '/' ('fc.weight' -> fc/weight).
Initializers without a dataset stay in the model. Datasets stored chunked,
compressed, big-endian or misaligned are refused (exit 1, all listed)
unless --repack, which copies them into a contiguous file next to OUT.onnx
(OUT.weights.h5, or --repack-path). Each initializer's bytes are compared
with its dataset's first (--no-check-data skips that).
OUT.onnx is written atomically; an existing OUT.onnx, or an existing repack
file, needs --force (otherwise H5_EXISTS, exit 3, naming the file).
Initializers already stored as external data keep pointing at the same
file: their location is rewritten relative to OUT.onnx's directory.`;

/** Largest --map-file read (a mapping of a million initializers fits). */
const MAX_MAP_FILE = 256 * 1024 * 1024;

function mappingOf(values: Record<string, unknown>): Record<string, string> | undefined {
  const map: Record<string, string> = {};
  let any = false;
  const file = str(values['map-file'] as string | undefined);
  if (file !== undefined) {
    let parsed: unknown;
    // Through the one opener: a FIFO given as --map-file is refused (H5_OPEN_FAILED), not waited on.
    const input = openInputSync(file, '--map-file');
    try {
      parsed = parseStoredJson(input.readAtSync(0, Math.min(input.size, MAX_MAP_FILE)).toString('utf8'));
    } catch (e) {
      throw new UsageError(`--map-file '${file}': ${(e as Error).message}`);
    } finally {
      input.close();
    }
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      Array.isArray(parsed) ||
      !Object.values(parsed).every((v) => typeof v === 'string')
    )
      throw new UsageError(`--map-file '${file}' must hold a JSON object {"initializer": "dataset/path"}`);
    Object.assign(map, parsed);
    any = true;
  }
  for (const m of (values.map as string[] | undefined) ?? []) {
    const i = m.indexOf('=');
    if (i <= 0 || i === m.length - 1) throw new UsageError(`--map '${m}' must be NAME=DATASET`);
    map[m.slice(0, i)] = m.slice(i + 1);
    any = true;
  }
  return any ? map : undefined;
}

export const command: Command = {
  summary: "point an ONNX model's initializers into an .h5 file (external data, no copy)",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        map: { type: 'string', multiple: true },
        'map-file': { type: 'string' },
        repack: { type: 'boolean' },
        'repack-path': { type: 'string' },
        'no-check-data': { type: 'boolean' },
        'require-all': { type: 'boolean' },
        force: { type: 'boolean', short: 'f' },
      },
      { min: 3, max: 3, names: 'MODEL.onnx WEIGHTS.h5 OUT.onnx' },
    );
    const out = new Output(values);
    const [model, h5, target] = positionals as [string, string, string];
    if (resolve(target) === resolve(model)) throw new UsageError('OUT.onnx must differ from MODEL.onnx');
    const repackPath = str(values['repack-path']);
    if (repackPath !== undefined && !values.repack) throw new UsageError('--repack-path needs --repack');
    const options: LinkOptions = {
      map: mappingOf(values),
      onUnlinkable: values.repack ? 'repack' : 'refuse',
      repackPath,
      checkData: !values['no-check-data'],
      requireAll: !!values['require-all'],
      // Without --force neither OUT.onnx nor the --repack side file is replaced (H5_EXISTS, exit 3, naming the file).
      overwrite: !!values.force,
    };
    const t0 = performance.now();
    const r = await linkOnnx(model, h5, target, options);
    const ms = performance.now() - t0;
    if (out.json) {
      out.emitJson({ ok: true, ...r, ms });
      return EXIT.OK;
    }
    if (r.linked.length) {
      out.line(
        table(
          ['initializer', 'dataset', 'offset', 'bytes'],
          r.linked.map((l) => [
            l.initializer,
            `${l.file === resolve(h5) ? '' : '(repacked) '}${l.dataset}`,
            String(l.offset),
            formatBytes(l.length),
          ]),
          ['l', 'l', 'r', 'r'],
          out,
        ),
      );
    }
    for (const i of r.inline) out.line(`kept inline: '${i.initializer}' (${i.reason})`);
    out.line(
      out.style(
        `OK: ${r.linked.length} initializer(s), ${formatBytes(r.bytesLinked)}, now read from ${r.repackPath ? `${h5} and ${r.repackPath}` : h5}; wrote ${r.path} in ${formatMs(ms)}`,
        'green',
      ),
    );
    return EXIT.OK;
  },
};
