/**
 * `h5vault verify FILE`: proves every tensor can be read back. Reads each
 * dataset in full (every chunk is decoded, fletcher32 checksums are checked
 * by the filter pipeline) and reports each failure with its H5Error code.
 */
import type { Command } from '../cli.js';
import { H5Error } from '../errors.js';
import { File } from '../file.js';
import { parse } from './args.js';
import { EXIT, formatBytes, formatMs, Output, table } from './output.js';
import { walkTree } from './tree.js';

const USAGE = `Usage: h5vault verify FILE [--json]

Reads every dataset in FILE completely, decoding every chunk (and checking
fletcher32 checksums where the file has them). Prints one line per failure
and a summary. Exit code 0 when every dataset reads, 1 when any fails, 3 when
the file cannot be opened.`;

export interface VerifyEntry {
  path: string;
  ok: boolean;
  bytes: number;
  ms: number;
  code?: string;
  error?: string;
}

export const command: Command = {
  summary: 'read every dataset fully and report any that fail; exit 1 on failure',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(argv, {}, { min: 1, max: 1, names: 'FILE' });
    const out = new Output(values);
    const file = positionals[0]!;
    const t0 = performance.now();
    const f = File.open(file);
    const entries: VerifyEntry[] = [];
    try {
      const datasets = [...walkTree(f)].flatMap((e) => (e.kind === 'dataset' ? [e.obj] : []));
      const total = datasets.reduce((a, d) => a + d.byteLength, 0);
      const bar = out.progress('verifying', total);
      let done = 0;
      for (const ds of datasets) {
        const s = performance.now();
        try {
          await ds.read();
          entries.push({ path: ds.path, ok: true, bytes: ds.byteLength, ms: performance.now() - s });
        } catch (e) {
          const code = e instanceof H5Error ? e.code : e instanceof Error ? e.name : 'ERROR';
          entries.push({ path: ds.path, ok: false, bytes: ds.byteLength, ms: performance.now() - s, code, error: (e as Error).message });
        }
        done += ds.byteLength;
        bar.update(done, ds.path);
      }
      bar.end();
    } finally {
      f.close();
    }
    const failed = entries.filter((e) => !e.ok);
    const bytes = entries.reduce((a, e) => a + e.bytes, 0);
    const ms = performance.now() - t0;
    if (out.json) {
      out.emitJson({ file, ok: failed.length === 0, method: 'read-all', datasets: entries.length, failed: failed.length, bytes, ms, entries });
    } else {
      if (failed.length) {
        out.line(table(['dataset', 'code', 'error'], failed.map((e) => [e.path, out.style(e.code!, 'red'), e.error!]), ['l', 'l', 'l'], out));
        out.line();
      }
      const summary = `${entries.length - failed.length} of ${entries.length} datasets read back (${formatBytes(bytes)} in ${formatMs(ms)})`;
      out.line(failed.length ? out.style(`FAILED: ${summary}; ${failed.length} failed`, 'red', 'bold') : out.style(`OK: ${summary}`, 'green'));
    }
    return failed.length ? EXIT.FAILURE : EXIT.OK;
  },
};
