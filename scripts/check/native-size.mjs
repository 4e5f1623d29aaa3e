#!/usr/bin/env node
// Sizes of the native sources (issue 22: "no file over ~600 lines, no function
// over ~120"), and of the TypeScript files under lib/ (files only, a plain
// line count: libSizeProblems). Used by check:sources; run alone to list the
// largest native files and functions:
//   node scripts/check/native-size.mjs [--top N]
//
// How a function is found (a brace-depth counter, not a C++ parser):
// 1. Comments, string and character literals (raw strings too) and
//    preprocessor lines are blanked, newlines kept, so no brace or quote in
//    them counts and line numbers stay right.
// 2. Every `{` at namespace or class scope is classified by the text before it
//    (back to the previous `;`, `{` or `}`, access labels dropped):
//    `namespace`/`class`/`struct`/`union`/`extern` open a scope to look inside;
//    `enum` and initialisers (`= {`) are skipped whole; anything with a `)`
//    (a parameter list, maybe followed by const/noexcept/override/-> type/an
//    initialiser list) opens a function. Braces inside a function only count
//    depth, so lambdas and nested blocks belong to their function.
// 3. A function's length is its lines from the first line of its signature to
//    its closing brace, both included.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const MAX_FILE_LINES = 600;
export const MAX_FUNCTION_LINES = 120;

// Functions allowed over the limit, each at most at its length here: none.
// (It held native/engine's write, ChunkIndex::build, plan_dataset and read
// while their split was under way on another branch; all are now <= 120.)
// A new entry needs a reason in its comment.
export const PENDING = {};

// The text with comments, literals and preprocessor lines replaced by spaces.
export function blank(src) {
  const out = [];
  const keep = (s) => s.replace(/[^\n]/g, ' ');
  let i = 0;
  let lineStart = true;
  while (i < src.length) {
    const c = src[i];
    const two = src.slice(i, i + 2);
    if (lineStart && /^[ \t]*#/.test(src.slice(i, src.indexOf('\n', i) === -1 ? src.length : src.indexOf('\n', i)))) {
      // A preprocessor line, with its backslash continuations.
      let j = i;
      while (j < src.length && src[j] !== '\n') j = src[j] === '\\' && src[j + 1] === '\n' ? j + 2 : j + 1;
      out.push(keep(src.slice(i, j)));
      i = j;
      continue;
    }
    lineStart = false;
    if (two === '//') {
      let j = src.indexOf('\n', i);
      if (j === -1) j = src.length;
      out.push(keep(src.slice(i, j)));
      i = j;
    } else if (two === '/*') {
      let j = src.indexOf('*/', i + 2);
      j = j === -1 ? src.length : j + 2;
      out.push(keep(src.slice(i, j)));
      i = j;
    } else if (c === 'R' && src[i + 1] === '"' && !/[\w]/.test(src[i - 1] ?? '')) {
      // R"delim( ... )delim"
      const open = src.indexOf('(', i + 2);
      const delim = src.slice(i + 2, open);
      const close = src.indexOf(`)${delim}"`, open);
      const j = close === -1 ? src.length : close + delim.length + 2;
      out.push(keep(src.slice(i, j)));
      i = j;
    } else if (c === '"' || (c === "'" && !/[0-9A-Fa-f]/.test(src[i - 1] ?? ''))) {
      // A literal, to its unescaped closing quote (a ' after a digit is a
      // digit separator, not a character literal).
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      out.push(keep(src.slice(i, j + 1)));
      i = j + 1;
    } else {
      out.push(c);
      if (c === '\n') lineStart = true;
      i += 1;
    }
  }
  return out.join('');
}

// [{ name, start, end, lines }] of the functions in one source text.
export function functions(src) {
  const text = blank(src);
  const lineAt = [];
  for (let i = 0, line = 1; i <= text.length; i++) {
    lineAt.push(line);
    if (text[i] === '\n') line++;
  }
  const found = [];
  // Each open brace: 'scope' (look inside), 'function', or 'skip'.
  const stack = [];
  let inFunction = 0; // depth of braces inside the current function
  let headerFrom = 0; // where the text before the next `{` begins
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inFunction > 0) {
      if (c === '{') inFunction++;
      else if (c === '}' && --inFunction === 0) {
        const f = stack.pop();
        f.end = lineAt[i];
        f.lines = f.end - f.start + 1;
        found.push(f);
        headerFrom = i + 1;
      }
      continue;
    }
    if (c === ';') headerFrom = i + 1;
    else if (c === '}') {
      stack.pop();
      headerFrom = i + 1;
    } else if (c === '{') {
      const header = text
        .slice(headerFrom, i)
        .replace(/\b(public|private|protected)\s*:(?!:)/g, (m) => ' '.repeat(m.length));
      const trimmed = header.trim();
      const lead = header.length - header.trimStart().length;
      const kind = /^(template\s*<[^{]*>\s*)?(namespace|class|struct|union|extern)\b/.test(trimmed)
        ? 'scope'
        : /^(enum\b|.*=\s*$)/s.test(trimmed) || !trimmed.includes(')')
          ? 'skip'
          : 'function';
      if (kind === 'function') {
        // The name: the first `name(` after any template<...> head.
        let sig = trimmed;
        if (/^template\s*</.test(sig)) {
          let depth = 0;
          let j = sig.indexOf('<');
          for (; j < sig.length; j++) {
            depth += sig[j] === '<' ? 1 : sig[j] === '>' ? -1 : 0;
            if (depth === 0) break;
          }
          sig = sig.slice(j + 1);
        }
        const name = /((?:[\w~]|::|<[^<>()]*>)+)\s*\(/.exec(sig)?.[1] ?? trimmed.slice(0, 40);
        stack.push({ name, start: lineAt[headerFrom + lead] });
        inFunction = 1;
      } else if (kind === 'skip') {
        // Skip to the matching brace.
        let depth = 1;
        let j = i + 1;
        for (; j < text.length && depth > 0; j++) depth += text[j] === '{' ? 1 : text[j] === '}' ? -1 : 0;
        i = j - 1;
      } else {
        stack.push({ kind });
      }
      headerFrom = i + 1;
    }
  }
  return found;
}

// Lines as wc -l counts them, plus an unterminated last line.
function lineCount(src) {
  return src.split('\n').length - (src.endsWith('\n') ? 1 : 0);
}

// The files under dir whose name matches re, at any depth.
function sourcesUnder(dir, re) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sourcesUnder(p, re));
    else if (re.test(p)) out.push(p);
  }
  return out;
}

// Every native source's line count and functions, largest first.
export function measure(root) {
  const files = [];
  const fns = [];
  for (const p of sourcesUnder(join(root, 'native'), /\.(cc|h)$/)) {
    const src = readFileSync(p, 'utf8');
    const file = relative(root, p);
    files.push({ file, lines: lineCount(src) });
    for (const f of functions(src)) fns.push({ file, ...f });
  }
  files.sort((a, b) => b.lines - a.lines);
  fns.sort((a, b) => b.lines - a.lines);
  return { files, functions: fns };
}

// { problems, stale }: one problem per file over MAX_FILE_LINES and per
// function over MAX_FUNCTION_LINES (or over its PENDING length); stale: the
// PENDING entries no function needs any more.
export function sizeProblems(root, pending = PENDING) {
  const { files, functions: fns } = measure(root);
  const problems = files
    .filter((f) => f.lines > MAX_FILE_LINES)
    .map((f) => `${f.file}: ${f.lines} lines (limit ${MAX_FILE_LINES}): split it by concern`);
  const used = new Set();
  for (const f of fns) {
    if (f.lines <= MAX_FUNCTION_LINES) continue;
    const key = `${f.file} ${f.name}`;
    const allowed = pending[key] ?? MAX_FUNCTION_LINES;
    if (key in pending) used.add(key);
    if (f.lines > allowed)
      problems.push(`${f.file}:${f.start}: ${f.name} is ${f.lines} lines (limit ${allowed}): extract named helpers`);
  }
  const stale = Object.keys(pending).filter((k) => !used.has(k));
  return { problems, stale };
}

// lib/**/*.ts files allowed over MAX_FILE_LINES, each at most at its length
// here. Both wait for their split by concern (issue 22), left for lack of time
// when load.ts, benchmark.ts and dataset.ts were split. A new entry needs a
// reason in this comment.
export const LIB_PENDING = {
  'lib/formats/safetensors-header.ts': 615,
  'lib/model/store/local.ts': 602,
};

// { problems, stale } for the TypeScript files under lib/: one problem per file
// over MAX_FILE_LINES (or over its LIB_PENDING length); stale: the LIB_PENDING
// entries no file needs any more.
export function libSizeProblems(root, pending = LIB_PENDING) {
  const problems = [];
  const used = new Set();
  for (const p of sourcesUnder(join(root, 'lib'), /\.ts$/)) {
    const src = readFileSync(p, 'utf8');
    const file = relative(root, p);
    const lines = lineCount(src);
    if (lines <= MAX_FILE_LINES) continue;
    const allowed = pending[file] ?? MAX_FILE_LINES;
    if (file in pending) used.add(file);
    if (lines > allowed) problems.push(`${file}: ${lines} lines (limit ${allowed}): split it by concern`);
  }
  problems.sort();
  const stale = Object.keys(pending).filter((k) => !used.has(k));
  return { problems, stale };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const top = Number(process.argv[process.argv.indexOf('--top') + 1]) || 10;
  const { files, functions: fns } = measure(new URL('../..', import.meta.url).pathname);
  console.log(`largest native files (limit ${MAX_FILE_LINES}):`);
  for (const f of files.slice(0, top)) console.log(`  ${String(f.lines).padStart(5)}  ${f.file}`);
  console.log(`longest native functions (limit ${MAX_FUNCTION_LINES}):`);
  for (const f of fns.slice(0, top))
    console.log(`  ${String(f.lines).padStart(5)}  ${f.file}:${f.start}-${f.end}  ${f.name}`);
}
