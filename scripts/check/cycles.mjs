#!/usr/bin/env node
// Fails if lib/ has an import cycle (issue 22: the layers import downwards only).
// Every static import and export-from counts, type-only ones too (a type cycle is
// a design cycle), and so do dynamic import('...') calls. Run by scripts/check/sources.mjs;
// alone: node scripts/check/cycles.mjs
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const lib = join(root, 'lib');

function tsFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Module graph: file -> the lib files it imports. */
export function importGraph() {
  const graph = new Map();
  for (const f of tsFiles(lib)) {
    const text = readFileSync(f, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const deps = new Set();
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      deps.add(resolve(dirname(f), m[1]).replace(/\.js$/, '.ts'));
    }
    graph.set(
      f,
      [...deps].filter((d) => d !== f),
    );
  }
  return graph;
}

/** The cycles of the graph (each as a list of files, first = last), one per strongly connected component. */
export function findCycles(graph) {
  const index = new Map(),
    low = new Map(),
    stack = [],
    on = new Set(),
    out = [];
  let n = 0;
  const visit = (v) => {
    index.set(v, n);
    low.set(v, n);
    n++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.reverse());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out.map((c) => c.map((f) => relative(root, f)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cycles = findCycles(importGraph());
  for (const c of cycles) console.error(`import cycle: ${c.join(' -> ')}`);
  if (cycles.length) process.exit(1);
  console.log('check-cycles: lib/ has no import cycle');
}
