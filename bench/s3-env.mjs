// The S3 benchmarks' server: S3_ENDPOINT/AWS_* from the env if set, else a Ceph radosgw cluster of
// their own on 127.0.0.1 (scripts/dev/s3-cluster.sh), stopped at exit with the work directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../', import.meta.url));

/** Sets S3_ENDPOINT and AWS_* (starting a cluster if needed); resolves to a work directory removed at exit. */
export function s3BenchEnv(tag) {
  const work = mkdtempSync(join(tmpdir(), `h5vault-bench-${tag}-`));
  let cluster;
  if (!process.env.S3_ENDPOINT) {
    const dir = join(work, 'cluster');
    const out = execFileSync('bash', [join(repo, 'scripts/dev/s3-cluster.sh'), 'start', dir], { encoding: 'utf8' });
    for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]] = m[2];
    cluster = dir;
  }
  process.on('exit', () => {
    if (cluster) execFileSync('bash', [join(repo, 'scripts/dev/s3-cluster.sh'), 'stop', cluster], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  });
  return work;
}

/**
 * CPU time (ms, user + system) radosgw has used so far, when the cluster is this benchmark's own
 * (its pid file under `work`); null for an S3_ENDPOINT from the env. Read from /proc (Linux).
 */
export function rgwCpuMs(work) {
  try {
    const pid = readFileSync(join(work, 'cluster', 'run', 'rgw.pid'), 'utf8').trim();
    // Fields after the ')' of the command name: utime and stime are the 12th and 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}
