#!/usr/bin/env node
/**
 * The doc test: every fenced js/javascript/mjs/cjs/ts/typescript block of
 * README.md and docs/*.md is run, verbatim, in an empty directory where
 * `h5vault` resolves to this checkout (node_modules/h5vault -> the checkout,
 * as after `npm install h5vault`), and type-checked under `tsc --strict`
 * with skipLibCheck off against the published declarations (JS blocks as
 * checked JavaScript, TS blocks as TypeScript; TS blocks run as tsc emits
 * them). Plain JavaScript so that any Node line runs it (no type stripping):
 *
 *   node test/docs/doctest.mjs [--node PATH] [--no-typecheck] [FILTER...]
 *
 * The directives a writer may put on the line before a block (the only ones):
 *   <!-- doctest: after=previous -->    run in the previous block's directory,
 *                                       after it (it uses the files that made)
 *   <!-- doctest: continues -->         the same program as the previous block,
 *                                       shown in pieces: joined, run, checked
 *   <!-- doctest: skip reason="..." --> type-checked, not run
 *   <!-- doctest: setup -->             the page's setup (a reference page's
 *                                       imports and example files): runs on its
 *                                       own, and every later block of the page
 *                                       runs after it, in a block scope of its own
 * test/docs/fenced-blocks.test.ts runs this and lists what ran and what not.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LANGS = ['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript'];
const DIRECTIVE = /^<!--\s*doctest:\s*(.*?)\s*-->$/;

/** The documentation pages, in a stable order. */
export function docFiles(repo = REPO) {
  const docs = readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

/** The code blocks of one page, with their directives. Throws on a directive it does not know. */
export function extractBlocks(file, text) {
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let end = i + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith(fence)) end++;
    if (LANGS.includes(lang)) {
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
        .join('\n');
      let j = i - 1;
      while (j >= 0 && lines[j].trim() === '') j--;
      const d = j >= 0 ? DIRECTIVE.exec(lines[j].trim()) : null;
      const block = {
        file,
        line: i + 1,
        lang,
        code: `${code}\n`,
        after: false,
        continues: false,
        setup: false,
        skip: undefined,
      };
      if (d) parseDirective(d[1], block);
      if ((block.after || block.continues) && out.length === 0) {
        throw new Error(`${file}:${i + 1}: 'after' or 'continues' on the first block of the page`);
      }
      out.push(block);
    }
    i = end;
  }
  return out;
}

function parseDirective(s, block) {
  const where = `${block.file}:${block.line}`;
  for (const m of s.matchAll(/(\w+)(?:=("([^"]*)"|\S+))?/g)) {
    const [, key, raw, quoted] = m;
    const value = quoted ?? raw;
    if (key === 'after' && value === 'previous') block.after = true;
    else if (key === 'setup' && value === undefined) block.setup = true;
    else if (key === 'continues' && value === undefined) block.continues = true;
    else if (key === 'skip' && value === undefined) block.skip = '';
    else if (key === 'reason' && block.skip !== undefined && value) block.skip = value;
    else throw new Error(`${where}: unknown doctest directive '${m[0]}'`);
  }
  if (block.skip === '') throw new Error(`${where}: a skip needs reason="..."`);
}

/**
 * The programs of the given pages: blocks with their 'continues' pieces
 * joined. `dir` names the directory a program runs in (shared along an
 * 'after=previous' chain); a program after a skipped one is skipped with it.
 */
export function programsOf(blocks) {
  const out = [];
  let setup;
  for (const b of blocks) {
    if (setup && setup.file !== b.file) setup = undefined;
    const prev = out[out.length - 1];
    const ts = b.lang === 'ts' || b.lang === 'typescript';
    if (b.continues) {
      prev.code += b.code;
      prev.ts ||= ts;
      prev.skip ??= b.skip;
      continue;
    }
    const id = `${b.file.replace(/\.md$/, '').replace(/[^\w]+/g, '_')}_L${b.line}`;
    const p = { id, file: b.file, line: b.line, ts, cjs: b.lang === 'cjs', code: b.code, dir: id, skip: b.skip };
    if (b.after) {
      p.dir = prev.dir;
      if (prev.skip !== undefined) p.skip ??= `after a skipped block (${prev.skip})`;
    }
    p.setup = setup;
    if (b.setup) setup = p;
    out.push(p);
  }
  // After the 'continues' pieces are joined: a program runs below its page's
  // setup, its own code in a block (so it may reuse the setup's names), its
  // imports hoisted above (an import cannot stand in a block).
  for (const p of out) {
    if (!p.setup) continue;
    const lines = p.code.split('\n');
    const isImport = (l) => /^import\s.*\sfrom\s+'[^']+';\s*$/.test(l);
    const rest = lines.filter((l) => !isImport(l));
    if (rest.some((l) => /^import\s/.test(l)))
      throw new Error(`${p.file}:${p.line}: one-line imports only below a setup`);
    // A name the setup imports already is not imported twice.
    const have = new Set(p.setup.code.split('\n').filter(isImport).flatMap(importedNames));
    const imports = lines.filter(isImport).flatMap((l) => {
      const names = importedNames(l);
      if (names.length === 0 || names.some((n) => !have.has(n))) {
        const braces = /\{([^}]*)\}/.exec(l);
        if (!braces) return [l];
        const keep = braces[1].split(',').filter((n) => n.trim() && !have.has(n.trim().replace(/^type\s+/, '')));
        return keep.length ? [l.replace(braces[0], `{ ${keep.map((n) => n.trim()).join(', ')} }`)] : [];
      }
      return [];
    });
    p.code = `${imports.join('\n')}\n${p.setup.code}{\n${rest.join('\n')}}\n`;
    p.ts ||= p.setup.ts;
    delete p.setup;
  }
  return out;
}

/** The names a one-line `import { a, type B } from '...'` binds ([] for a default or namespace import). */
function importedNames(line) {
  const braces = /\{([^}]*)\}/.exec(line);
  if (!braces || /^import\s+\w+\s*,/.test(line)) return [];
  return braces[1]
    .split(',')
    .map((n) => n.trim().replace(/^type\s+/, ''))
    .filter(Boolean);
}

export function collectPrograms(repo = REPO, filters = []) {
  const files = docFiles(repo);
  const blocks = files.flatMap((f) => extractBlocks(f, readFileSync(join(repo, f), 'utf8')));
  const all = programsOf(blocks);
  if (filters.length === 0) return all;
  // A filtered program keeps the chain it runs after.
  const keep = new Set(
    all.filter((p) => filters.some((f) => p.id.includes(f) || `${p.file}:${p.line}`.includes(f))).map((p) => p.dir),
  );
  return all.filter((p) => keep.has(p.dir));
}

/**
 * A new empty project directory as after `npm install h5vault` (and the
 * user's @types/node and the optional peer onnxruntime-node the ONNX
 * examples import): node_modules links to this checkout and its packages.
 */
export function userProject(repo = REPO, prefix = 'h5vault-doctest-', deps = ['@types', 'onnxruntime-node']) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(root, 'node_modules'));
  symlinkSync(repo, join(root, 'node_modules', 'h5vault'));
  for (const dep of deps) {
    symlinkSync(join(repo, 'node_modules', dep), join(root, 'node_modules', dep));
  }
  return root;
}

/**
 * tsc over a project directory with `tsconfig.json`, by the given Node: { status, output }.
 * Asynchronous: tsc over the docs takes up to a minute on a loaded machine
 * (under ASan), and a test worker blocked that long in spawnSync misses
 * vitest's RPC deadline ("Timeout calling onTaskUpdate": the run fails
 * though every test passed).
 */
export function tsc(root, node = process.execPath, repo = REPO) {
  const bin = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve, reject) => {
    const child = spawn(node, [bin, '-p', root], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output: `${stdout}${stderr}` }));
  });
}

/** A user's strict project: `tsc --strict`, skipLibCheck off, Node ESM resolution. */
export const STRICT_OPTIONS = {
  strict: true,
  skipLibCheck: false,
  target: 'es2022',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  lib: ['es2023', 'esnext.disposable'],
  types: ['node'],
};

const TSCONFIG = {
  compilerOptions: {
    ...STRICT_OPTIONS,
    // JS blocks are checked as a user with checkJs has them checked.
    allowJs: true,
    checkJs: true,
    moduleDetection: 'force',
    noEmitOnError: false,
    rootDir: 'check',
    outDir: 'out',
  },
  include: ['check'],
};

/**
 * Runs the doc test. Returns { programs, ran, skipped: [{ id, reason }],
 * typechecked, failures: [{ id, where, stage, output }] }.
 */
export async function runDocs({
  repo = REPO,
  node = process.execPath,
  typecheck = true,
  filters = [],
  log = () => {},
}) {
  const programs = collectPrograms(repo, filters);
  const root = userProject(repo);
  const failures = [];
  const ran = [];
  const skipped = [];
  const typechecked = [];
  const thirdParty = new Set();
  try {
    mkdirSync(join(root, 'check'));
    mkdirSync(join(root, 'run'));
    const ext = (p) => (p.cjs ? (p.ts ? 'cts' : 'cjs') : p.ts ? 'mts' : 'mjs');
    for (const p of programs) writeFileSync(join(root, 'check', `${p.id}.${ext(p)}`), p.code);

    // One tsc run: it checks every program and emits the TS ones (run as emitted).
    writeFileSync(join(root, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    const r = await tsc(root, node, repo);
    if (typecheck) {
      const errors = new Map();
      for (const line of r.output.split('\n')) {
        const m = /^check\/([\w]+)\.[cm][jt]s\((\d+),(\d+)\): (error .*)$/.exec(line);
        if (m) {
          const list = errors.get(m[1]) ?? [];
          list.push(`line ${m[2]}: ${m[4]}`);
          errors.set(m[1], list);
        } else if (/node_modules\/(?!h5vault\/)[^()]*\.d\.[cm]?ts\(/.test(line)) {
          // Another package's own declarations (onnxruntime-common names DOM
          // types, in a Node project too): theirs to fix, listed, not failed.
          thirdParty.add(line.replace(/^.*node_modules\//, ''));
        } else if (/error TS/.test(line)) {
          failures.push({ id: '(tsc)', where: root, stage: 'typecheck', output: line });
        }
      }
      for (const p of programs) {
        const e = errors.get(p.id);
        if (e) failures.push({ id: p.id, where: `${p.file}:${p.line}`, stage: 'typecheck', output: e.join('\n') });
        else typechecked.push(p.id);
      }
      if (r.status !== 0 && errors.size === 0 && failures.length === 0 && thirdParty.size === 0) {
        failures.push({ id: '(tsc)', where: root, stage: 'typecheck', output: r.output });
      }
    }

    // Chains (programs sharing a directory) run in order; two chains at a time.
    const chains = new Map();
    for (const p of programs) chains.set(p.dir, [...(chains.get(p.dir) ?? []), p]);
    const queue = [...chains.values()];
    const worker = async () => {
      for (let chain = queue.shift(); chain; chain = queue.shift()) {
        const dir = join(root, 'run', chain[0].dir);
        mkdirSync(dir);
        for (const p of chain) {
          if (p.skip !== undefined) {
            skipped.push({ id: p.id, where: `${p.file}:${p.line}`, reason: p.skip });
            continue;
          }
          // A snippet that runs writes only in its own directory (the test runs as root).
          const outside = /['"`]\/(var|etc|tmp|home|root|usr|opt|srv|data|mnt)\b/.exec(p.code);
          if (outside) {
            const output = `names a system path (${outside[0].slice(1)}...): use a relative one`;
            failures.push({ id: p.id, where: `${p.file}:${p.line}`, stage: 'run', output });
            continue;
          }
          const file = join(dir, `snippet-L${p.line}.${p.cjs ? 'cjs' : 'mjs'}`);
          // TS runs as tsc emitted it; JS runs exactly as written.
          const code = p.ts ? emitted(root, p) : p.code;
          if (code === undefined) {
            failures.push({ id: p.id, where: `${p.file}:${p.line}`, stage: 'run', output: 'tsc emitted nothing' });
            continue;
          }
          writeFileSync(file, code);
          const r = await runNode(node, file, dir);
          log(`${r.code === 0 ? 'ok  ' : 'FAIL'} ${p.file}:${p.line}`);
          if (r.code !== 0) {
            failures.push({ id: p.id, where: `${p.file}:${p.line}`, stage: 'run', output: r.output.slice(-3000) });
          } else ran.push(p.id);
        }
      }
    };
    await Promise.all([worker(), worker()]);
  } finally {
    if (failures.length === 0 || !process.env.H5VAULT_DOCTEST_KEEP) rmSync(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  }
  return { programs, ran, skipped, typechecked, failures, thirdParty: [...thirdParty] };
}

function emitted(root, p) {
  try {
    return readFileSync(join(root, 'out', `${p.id}.${p.cjs ? 'cjs' : 'mjs'}`), 'utf8');
  } catch {
    return undefined;
  }
}

function runNode(node, file, cwd) {
  return new Promise((done) => {
    const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const child = spawn(node, [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    // A snippet that never ends (a server left listening) is a doc bug too.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? `${signal} (killed after 60 s)` : 1), output });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let node = process.execPath;
  let typecheck = true;
  const filters = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--node') node = args[++i];
    else if (args[i] === '--no-typecheck') typecheck = false;
    else filters.push(args[i]);
  }
  const r = await runDocs({ node, typecheck, filters, log: (s) => console.log(s) });
  for (const s of r.skipped) console.log(`skip ${s.where}: ${s.reason}`);
  for (const t of r.thirdParty) console.log(`tolerated (another package's declarations): ${t}`);
  for (const f of r.failures) console.log(`\n--- ${f.stage} FAILED ${f.where}\n${f.output}`);
  const v = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `doctest (node ${v}): ${r.programs.length} programs, ${r.ran.length} ran, ${r.skipped.length} skipped, ` +
      `${typecheck ? r.typechecked.length : 'no'} type-checked, ${r.failures.length} failed`,
  );
  process.exitCode = r.failures.length ? 1 : 0;
}
