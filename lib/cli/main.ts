#!/usr/bin/env node
/**
 * h5vault command line: ls, info, verify, repack, bench, demo, onnx-link, convert, store.
 * Each command lives in lib/cli/<name>.ts and is loaded on demand, so
 * `h5vault --help` works even when the native addon cannot load.
 * Exit codes: see EXIT in lib/cli/output.ts and docs/cli.md.
 */
import { realpathSync } from 'node:fs';
import { packageVersion } from '../addon/locate.js';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.js';
import type { Command } from './command.js';
import { describeError, EXIT, Output } from './output.js';

export type { Command } from './command.js';

const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  ls: () => import('./ls.js'),
  info: () => import('./info.js'),
  verify: () => import('./verify.js'),
  repack: () => import('./repack.js'),
  bench: () => import('./bench.js'),
  demo: () => import('./demo.js'),
  'onnx-link': () => import('./onnx-link.js'),
  convert: () => import('./convert.js'),
  store: () => import('./store.js'),
};

// The same function libraryInfo().version uses, so the two always agree.
function version(): string {
  return packageVersion();
}

async function usage(): Promise<string> {
  const lines = ['Usage: h5vault <command> [options]', '', 'Commands:'];
  let unavailable: unknown;
  for (const [name, load] of Object.entries(COMMANDS)) {
    // A command module imports the native addon; help must still list it when
    // the addon cannot load (running the command then says why, and what to do).
    const summary = await load().then(
      ({ command }) => command.summary,
      (e: unknown) => {
        unavailable ??= e;
        return '(unavailable: the native addon does not load here)';
      },
    );
    lines.push(`  ${name.padEnd(9)} ${summary}`);
  }
  lines.push(
    '',
    'Options for every command: --json (machine-readable output), --verbose (stack traces), --help',
    "Run 'h5vault <command> --help' for a command's options. Exit codes: 0 ok, 1 check failed,",
    '2 usage error, 3 file error, 69 native addon unavailable, 70 internal error (docs/cli.md).',
  );
  if (unavailable) lines.push('', `Native addon: ${describeError(unavailable).message.split('\n')[0]}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const out = new Output({ json, verbose: argv.includes('--verbose') || argv.includes('-v') });
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const target = name === 'help' ? rest[0] : undefined;
      if (target && COMMANDS[target]) {
        out.stdout.write(`${(await COMMANDS[target]()).command.usage}\n`);
      } else {
        out.stdout.write(`${await usage()}\n`);
      }
      return name === undefined ? EXIT.USAGE : EXIT.OK;
    }
    if (name === '--version' || name === '-V') {
      out.stdout.write(`${version()}\n`);
      return EXIT.OK;
    }
    const load = COMMANDS[name];
    if (!load) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
    const { command } = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      out.stdout.write(`${command.usage}\n`);
      return EXIT.OK;
    }
    try {
      return await command.run(rest);
    } catch (e) {
      if (e instanceof UsageError)
        e.message = `${e.message}\n${command.usage.split('\n')[0]}\n(see 'h5vault ${name} --help')`;
      throw e;
    }
  } catch (e) {
    const d = describeError(e);
    if (out.json) {
      out.emitJson({ ok: false, error: { code: d.code, message: d.message.split('\n')[0], exitCode: d.exitCode } });
    }
    // One line (the usage text follows a usage error); the stack only with --verbose.
    const [first, ...more] = d.message.split('\n');
    out.stderr.write(
      `${out.style(`h5vault${name && COMMANDS[name] ? ` ${name}` : ''}`, 'bold')}: ${out.style('error', 'red')}: ${first} [${d.code}]\n`,
    );
    if (more.length && !out.json) out.stderr.write(`${more.join('\n')}\n`);
    if (out.verbose && e instanceof Error && e.stack) out.stderr.write(`${e.stack}\n`);
    else if (d.exitCode === EXIT.INTERNAL)
      out.stderr.write('(this looks like a bug in h5vault: rerun with --verbose and report the stack)\n');
    return d.exitCode;
  }
}

// Run when executed (bin symlink or `node dist/cli/main.js`), not when imported.
function isEntry(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isEntry()) process.exitCode = await main(process.argv.slice(2));
