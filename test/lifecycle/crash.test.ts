/**
 * Crash test (docs/architecture.md, invariant 5): SIGKILL a process that saves a model in
 * a loop, at random moments; after every kill the path must hold the old or
 * the new model, and it must verify. The loop lives in scripts/test/crash.mjs
 * (`npm run test:crash -- --kills 1000 --mb 256` for a longer run); CI runs
 * H5VAULT_CRASH_KILLS (default 200) kills of an H5VAULT_CRASH_MB (default 32)
 * MB model so it fits in a few minutes on two shared cores.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { requireFreshDist, runNode } from '../api/model.helpers.js';

const script = fileURLToPath(new URL('../../scripts/test/crash.mjs', import.meta.url));
const kills = Number(process.env.H5VAULT_CRASH_KILLS ?? 200);
const mb = Number(process.env.H5VAULT_CRASH_MB ?? 32);

beforeAll(requireFreshDist);

describe('saveModel under SIGKILL', () => {
  it(`${kills} random kills of a ${mb} MB save loop: never a lost or torn model`, async () => {
    const out = await runNode(script, ['--kills', String(kills), '--mb', String(mb), '--seed', '7', '--json']).catch(
      (e: Error) => e.message,
    );
    const stats = JSON.parse(out.slice(out.indexOf('{'))) as {
      kills: number;
      survivedOld: number;
      survivedNew: number;
      lost: number;
      killedMidSave: number;
      completedSaves: number;
      tempsAfterCleanSave: number;
      maxTempsLeft: number;
      failures: string[];
    };
    console.log(`crash test: ${JSON.stringify(stats)}`);
    expect(stats.failures).toEqual([]);
    expect(stats.lost).toBe(0);
    expect(stats.kills).toBe(kills);
    expect(stats.survivedOld + stats.survivedNew).toBe(kills);
    // The kills really interrupted saves, and the loop really made progress between them.
    expect(stats.killedMidSave).toBeGreaterThan(kills / 2);
    expect(stats.completedSaves).toBeGreaterThan(0);
    expect(stats.maxTempsLeft).toBeLessThanOrEqual(1); // each save cleans its dead predecessor's temp
    expect(stats.tempsAfterCleanSave).toBe(0);
  }, 600_000);
});
