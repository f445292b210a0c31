#!/usr/bin/env node
// cot benchmarks, measured side by side with the reference tools in one run on this machine.
// Usage: npm run bench [-- --write]   (--write also records the table in BENCHMARKS.md)
// Env: COT_BENCH_GIB (size of the large file, default 1), COT_BENCH_REPS (default 5), COT_BENCH_DOCS (default 1000)
// Rows that run alone: `node bench/tree-rebuild.js`, `node bench/download-compare.js ...`, `node bench/attest-chain.js`
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { enumerateArtifactDir } from '../dist/hashing/artifacts.js';
import { digestFile } from '../dist/hashing/digest.js';
import {
  generateKeyPair,
  hashArtifacts,
  loadKeyRepo,
  loadSigningKey,
  loadVerificationKeys,
  verifyLink,
} from '../dist/index.js';
import { canonicalize } from '../dist/json/canonical.js';
import { ed25519Sign } from '../dist/keys/ed25519.js';
import { clearsign } from '../dist/pgp/openpgp.js';
import { resolveCertification } from '../dist/trust/store.js';
import { attestRows, benchAttestChain, loadAverage } from './attest-chain.js';
import { buildChainGraph } from './chain-graph.js';
import { benchDownloadCompare } from './download-compare.js';
import { serveProcess } from './serve.js';
import { benchTreeRebuild } from './tree-rebuild.js';

const GIB = Number(process.env.COT_BENCH_GIB ?? 1);
const REPS = Number(process.env.COT_BENCH_REPS ?? 5);
const DOCS = Number(process.env.COT_BENCH_DOCS ?? 1000);
const WRITE = process.argv.includes('--write');
// chain verifications: runs per figure (median), and whether to build and verify the 10,000-task chain
const CHAIN_REPS = Number(process.env.COT_BENCH_CHAIN_REPS ?? 3);
const BIG_CHAIN = process.env.COT_BENCH_BIG_CHAIN !== '0';
// attesting the 2,000-task chain: runs per figure (median), alternating with plain verifications
const ATTEST_REPS = Number(process.env.COT_BENCH_ATTEST_REPS ?? 7);
const NOW = new Date();
const LOAD_AT_START = loadAverage();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const time = async (fn) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} failed: ${r.stderr}`);
  return r.stdout;
};
const log = (s) => process.stderr.write(`${s}\n`);
// a chain verification's time per link and its phases: discovery (definitions), runs (status and listing),
// documents (read and verify chain-of-trust documents), artifacts (consumed artifacts hash-checked), graph checks
// (every other check: task graphs, decision tasks, docker images, interactive, tree)
const PHASE_GROUPS = ['discovery', 'runs', 'documents', 'artifacts'];
const phaseGroups = (r) => {
  const out = Object.fromEntries(PHASE_GROUPS.map((k) => [k, r.phases[k] ?? 0]));
  out['graph checks'] = Object.entries(r.phases)
    .filter(([k]) => !PHASE_GROUPS.includes(k))
    .reduce((a, [, v]) => a + v, 0);
  return out;
};
const perLink = (r) =>
  `${((r.seconds * 1000) / r.links).toFixed(2)} ms/link (${Object.entries(phaseGroups(r))
    .map(([k, v]) => `${k} ${v.toFixed(2)} s`)
    .join(', ')})`;
const phaseShares = (r) => {
  const g = phaseGroups(r);
  const total = Object.values(g).reduce((a, v) => a + v, 0) || 1;
  return Object.entries(g)
    .map(([k, v]) => `${k} ${((v * 1000) / r.links).toFixed(3)} ms (${((100 * v) / total).toFixed(0)}%)`)
    .join('; ');
};

const work = await mkdtemp(join(tmpdir(), 'cot-bench-'));
const rows = [];
const row = (what, cot, ref, refName, ratio, target, met) =>
  rows.push({ what, cot, ref, refName, ratio, target, met });

try {
  // ---------------------------------------------------------------- 1. one large file
  const big = join(work, 'big.bin');
  log(`writing a ${GIB} GiB file...`);
  {
    const fh = await open(big, 'w');
    const chunk = randomBytes(16 * 1024 * 1024);
    for (let i = 0; i < GIB * 64; i++) await fh.write(chunk);
    await fh.close();
  }
  const bytes = GIB * 1024 ** 3;
  const expected = run('openssl', ['dgst', '-sha256', '-r', big]).toString().split(' ')[0];
  const t = { cot: [], openssl: [], sha256sum: [], cotCli: [] };
  for (let i = 0; i < REPS; i++) {
    t.openssl.push(await time(() => run('openssl', ['dgst', '-sha256', big])));
    t.sha256sum.push(await time(() => run('sha256sum', [big])));
    t.cot.push(
      await time(async () => {
        const d = await digestFile(big, ['sha256']);
        if (d.digests.sha256 !== expected) throw new Error('cot digest differs from openssl');
      }),
    );
    t.cotCli.push(await time(() => run(process.execPath, ['bin/cot.js', 'hash', `big=${big}`])));
  }
  const mbps = (s) => bytes / s / 1e6;
  const cotMB = mbps(median(t.cot));
  const osslMB = mbps(median(t.openssl));
  row(
    `hash one ${GIB} GiB file (sha256), library`,
    `${cotMB.toFixed(0)} MB/s`,
    `${osslMB.toFixed(0)} MB/s`,
    'openssl dgst -sha256',
    cotMB / osslMB,
    '>= 0.9x openssl',
    cotMB / osslMB >= 0.9,
  );
  const cliMB = mbps(median(t.cotCli));
  row(
    `hash one ${GIB} GiB file (sha256), \`cot hash\` process`,
    `${cliMB.toFixed(0)} MB/s`,
    `${osslMB.toFixed(0)} MB/s`,
    'openssl dgst -sha256',
    cliMB / osslMB,
    '>= 0.9x openssl',
    cliMB / osslMB >= 0.9,
  );
  const sumMB = mbps(median(t.sha256sum));
  row(
    `hash one ${GIB} GiB file (sha256), library`,
    `${cotMB.toFixed(0)} MB/s`,
    `${sumMB.toFixed(0)} MB/s`,
    'sha256sum',
    cotMB / sumMB,
    '>= 0.9x sha256sum',
    cotMB / sumMB >= 0.9,
  );
  // ---------------------------------------------------------------- 1b. download + hash from the local queue server
  {
    const storeDir = join(work, 'store');
    const taskId = 'LnshJjNXTfeBlPNrAzyy9w';
    await mkdir(join(storeDir, taskId, 'runs/0/artifacts/public'), { recursive: true });
    await writeFile(
      join(storeDir, taskId, 'task.json'),
      JSON.stringify({ taskGroupId: taskId, expires: '2099-01-01T00:00:00.000Z' }),
    );
    await rename(big, join(storeDir, taskId, 'runs/0/artifacts/public/big.bin'));
    // a sparse 4 GiB artifact for the memory bound (contents do not matter for RSS)
    {
      const fh = await open(join(storeDir, taskId, 'runs/0/artifacts/public/huge.bin'), 'w');
      await fh.truncate(4 * 1024 ** 3);
      await fh.close();
    }
    const server = await serveProcess(storeDir);
    const rootUrl = server.rootUrl;
    try {
      const dl = [];
      const local = [];
      for (let i = 0; i < REPS; i++) {
        const r = JSON.parse(
          run(process.execPath, ['bench/download-child.js', rootUrl, taskId, 'public/big.bin']).toString(),
        );
        if (r.sha256 !== expected) throw new Error('downloaded bytes differ');
        dl.push(r.seconds);
        local.push(
          await time(() => digestFile(join(storeDir, taskId, 'runs/0/artifacts/public/big.bin'), ['sha256'])),
        );
      }
      const dlMB = bytes / median(dl) / 1e6;
      const localMB = bytes / median(local) / 1e6;
      row(
        `download + hash-check ${GIB} GiB from \`cot queue serve\` (303, one pass)`,
        `${dlMB.toFixed(0)} MB/s`,
        `${localMB.toFixed(0)} MB/s`,
        'cot hashing the same file from local disk',
        dlMB / localMB,
        '>= 0.6x local hashing',
        dlMB / localMB >= 0.6,
      );
      // issue 13: into a file, against the shell pipeline from the same server in the same run
      const c = await benchDownloadCompare({
        rootUrl,
        taskId,
        name: 'public/big.bin',
        sha256: expected,
        reps: REPS,
        log,
      });
      row(
        `download + hash-check ${GIB} GiB into a file from \`cot queue serve\` (303, temp file, fsync, rename)`,
        `${c.cot.toFixed(0)} MB/s`,
        `${c.curl.toFixed(0)} MB/s`,
        'curl -s URL | tee FILE | openssl dgst -sha256, same server, same run',
        c.ratio,
        '>= 0.9x curl|tee|openssl',
        c.ratio >= 0.9,
      );
      const huge = JSON.parse(
        run(process.execPath, ['bench/download-child.js', rootUrl, taskId, 'public/huge.bin']).toString(),
      );
      const rssMB = (huge.maxRssKiB * 1024) / 1e6;
      row(
        'peak RSS downloading + hashing a 4 GiB artifact',
        `${rssMB.toFixed(0)} MB (${(huge.size / huge.seconds / 1e6).toFixed(0)} MB/s)`,
        '-',
        '-',
        200 / rssMB,
        '< 200 MB',
        rssMB < 200,
      );
    } finally {
      server.stop();
    }
  }

  // ---------------------------------------------------------------- 1c. generate-and-sign: 1,000 artifacts / 1 GiB; 4 GiB peak RSS
  {
    const gen = join(work, 'gen');
    await mkdir(join(gen, 'art/public/build'), { recursive: true });
    const per = Math.floor((GIB * 1024 ** 3) / 1000);
    const block = randomBytes(per);
    for (let i = 0; i < 1000; i++) {
      block[0] = i & 0xff;
      block[1] = i >> 8;
      await writeFile(join(gen, `art/public/build/f${i}.bin`), block);
    }
    const keyPath = join(gen, 'pgp.key');
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'rsa4096',
      out: keyPath,
      pubOut: `${keyPath}.pub`,
      now: new Date(NOW.getTime() - 60_000),
      force: true,
    });
    const ghome = join(gen, 'gnupg');
    await mkdir(ghome, { mode: 0o700 });
    run('gpg', ['--homedir', ghome, '--batch', '--import', keyPath]);
    await writeFile(
      join(gen, 'task.json'),
      JSON.stringify({
        dependencies: [],
        payload: {},
        scopes: [],
        taskGroupId: 'KRa-CdtXTda3i7MQ5snK1A',
        workerType: 'b-linux',
      }),
    );
    const files = (await readdir(join(gen, 'art/public/build'))).map((f) => join(gen, 'art/public/build', f));
    const generateCmd = (artifacts) => [
      'bin/cot.js',
      'generate',
      ...['--task', join(gen, 'task.json'), '--task-id', 'LnshJjNXTfeBlPNrAzyy9w', '--run-id', '0'],
      ...['--worker-group', 'g', '--worker-id', 'w', '--artifacts', join(gen, artifacts), '--key', keyPath],
    ];
    const tc = [];
    const tr = [];
    for (let r = 0; r < Math.min(REPS, 3); r++) {
      tc.push(await time(() => run(process.execPath, generateCmd('art'))));
      tr.push(
        await time(() => {
          const sums = run('sha256sum', files);
          const doc = join(gen, 'sums.txt');
          return writeFile(doc, sums).then(() =>
            run('gpg', [
              '--homedir',
              ghome,
              '--batch',
              '--yes',
              '--digest-algo',
              'SHA512',
              '--clearsign',
              '--output',
              `${doc}.asc`,
              doc,
            ]),
          );
        }),
      );
    }
    row(
      `generate and sign a task of 1,000 artifacts / ${GIB} GiB (\`cot generate\`, RSA-4096)`,
      `${median(tc).toFixed(2)} s`,
      `${median(tr).toFixed(2)} s`,
      'sha256sum of all files + gpg --clearsign of the list',
      median(tr) / median(tc),
      '>= 1x',
      median(tr) / median(tc) >= 1,
    );
    await rm(join(gen, 'art'), { recursive: true, force: true });
    // peak RSS of `cot generate` over one 4 GiB artifact (sparse: the contents do not matter for memory)
    await mkdir(join(gen, 'huge/public'), { recursive: true });
    {
      const fh = await open(join(gen, 'huge/public/huge.bin'), 'w');
      await fh.truncate(4 * 1024 ** 3);
      await fh.close();
    }
    const r4 = spawnSync('/usr/bin/time', ['-f', '%M %e', process.execPath, ...generateCmd('huge')], {
      encoding: 'utf8',
    });
    const [kib, secs] = r4.stderr.trim().split('\n').pop().split(' ').map(Number);
    row(
      'peak RSS of `cot generate` over one 4 GiB artifact',
      `${((kib * 1024) / 1e6).toFixed(0)} MB (${((4 * 1024 ** 3) / secs / 1e6).toFixed(0)} MB/s)`,
      '-',
      '-',
      200 / ((kib * 1024) / 1e6),
      '< 200 MB',
      (kib * 1024) / 1e6 < 200,
    );
    await rm(gen, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- 2. 1,000 files
  const many = join(work, 'many');
  log('writing 1,000 files of 64 KiB...');
  for (let i = 0; i < 10; i++) await mkdir(join(many, `d${i}`), { recursive: true });
  const files = [];
  for (let i = 0; i < 1000; i++) {
    const p = join(many, `d${i % 10}`, `f${i}.bin`);
    await writeFile(p, randomBytes(64 * 1024));
    files.push(p);
  }
  const m = { cot: [], sha256sum: [], cotCli: [] };
  for (let i = 0; i < REPS; i++) {
    m.sha256sum.push(await time(() => run('sha256sum', files)));
    m.cot.push(await time(async () => hashArtifacts(await enumerateArtifactDir(many), { concurrency: 4 })));
    m.cotCli.push(await time(() => run(process.execPath, ['bin/cot.js', 'hash', many])));
  }
  const fps = (s) => 1000 / s;
  row(
    'hash 1,000 files of 64 KiB (walk + hash), library',
    `${fps(median(m.cot)).toFixed(0)} files/s`,
    `${fps(median(m.sha256sum)).toFixed(0)} files/s`,
    'sha256sum (one process, all files)',
    median(m.sha256sum) / median(m.cot),
    '>= 0.9x sha256sum',
    median(m.sha256sum) / median(m.cot) >= 0.9,
  );
  row(
    'hash 1,000 files of 64 KiB, `cot hash DIR` process',
    `${fps(median(m.cotCli)).toFixed(0)} files/s`,
    `${fps(median(m.sha256sum)).toFixed(0)} files/s`,
    'sha256sum (one process, all files)',
    median(m.sha256sum) / median(m.cotCli),
    'report only',
    null,
  );

  // ---------------------------------------------------------------- 3. sign and verify 1,000 documents
  const gnupg = join(work, 'gnupg');
  await mkdir(gnupg, { mode: 0o700 });
  const gpg = (args, opts) => run('gpg', ['--homedir', gnupg, '--batch', '--no-tty', ...args], opts);
  const docs = [];
  for (let i = 0; i < DOCS; i++) {
    const artifacts = {};
    for (let j = 0; j < 20; j++)
      artifacts[`public/build/file-${j}.tar.gz`] = {
        sha256: createHash('sha256').update(`${i}/${j}`).digest('hex'),
      };
    docs.push(
      canonicalize({
        artifacts,
        chainOfTrustVersion: 1,
        environment: { instanceId: `i-${i}`, privateIpAddress: '10.0.0.1' },
        runId: 0,
        task: {
          dependencies: [],
          payload: { command: ['make', `part-${i}`], image: 'ubuntu:24.04', maxRunTime: 3600 },
          scopes: ['queue:route:index.x'],
          taskGroupId: 'KRa-CdtXTda3i7MQ5snK1A',
          workerType: 'b-linux',
          metadata: { description: 'x'.repeat(2000) },
        },
        taskId: 'LnshJjNXTfeBlPNrAzyy9w',
        workerGroup: 'g',
        workerId: 'w',
      }),
    );
  }
  const docDir = join(work, 'docs');
  await mkdir(docDir);
  for (let i = 0; i < DOCS; i++) await writeFile(join(docDir, `${i}.json`), docs[i]);
  log(`documents: ${DOCS} of ${docs[0].length} bytes`);

  for (const algo of ['rsa4096', 'ed25519']) {
    log(
      `signing and verifying ${DOCS} documents with ${algo} (cot in-process, gpg one process per document)...`,
    );
    const keyPath = join(work, `${algo}.key`);
    const pubPath = join(work, `${algo}.pub`);
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: algo,
      out: keyPath,
      pubOut: pubPath,
      now: new Date(NOW.getTime() - 60_000),
      force: true,
    });
    gpg(['--import', keyPath]);
    const sk = await loadSigningKey(keyPath);
    const vk = await loadVerificationKeys([pubPath]);
    const fpr = sk.fingerprint;

    // cot sign (per document), then cot verify
    const cotSign = [];
    const ascs = [];
    for (let i = 0; i < DOCS; i++) {
      const t0 = performance.now();
      ascs.push(await clearsign(docs[i], sk.key, NOW));
      cotSign.push(performance.now() - t0);
    }
    const cotVerify = [];
    for (let i = 0; i < DOCS; i++) {
      const t0 = performance.now();
      await verifyLink({ data: Buffer.from(ascs[i]), keys: vk, at: NOW });
      cotVerify.push(performance.now() - t0);
    }
    // gpg: one process per document, as a shell loop would do
    const gpgSign = [];
    const gpgVerify = [];
    for (let i = 0; i < DOCS; i++) {
      const src = join(docDir, `${i}.json`);
      const dst = join(docDir, `${i}.${algo}.asc`);
      const t0 = performance.now();
      gpg(['--yes', '--local-user', fpr, '--digest-algo', 'SHA512', '--clearsign', '--output', dst, src]);
      gpgSign.push(performance.now() - t0);
    }
    for (let i = 0; i < DOCS; i++) {
      const t0 = performance.now();
      gpg(['--verify', join(docDir, `${i}.${algo}.asc`)]);
      gpgVerify.push(performance.now() - t0);
    }
    const sum = (xs) => xs.reduce((a, b) => a + b, 0) / 1000;
    row(
      `sign ${DOCS} documents, OpenPGP ${algo} cleartext SHA512`,
      `${median(cotSign).toFixed(2)} ms/doc (${sum(cotSign).toFixed(1)} s total)`,
      `${median(gpgSign).toFixed(2)} ms/doc (${sum(gpgSign).toFixed(1)} s total)`,
      'gpg --clearsign, one process per document',
      median(gpgSign) / median(cotSign),
      '>= 1x (faster than gpg)',
      median(gpgSign) / median(cotSign) >= 1,
    );
    row(
      `verify ${DOCS} documents (signature + JSON + schema), OpenPGP ${algo}`,
      `${median(cotVerify).toFixed(2)} ms/doc (${sum(cotVerify).toFixed(1)} s total)`,
      `${median(gpgVerify).toFixed(2)} ms/doc (${sum(gpgVerify).toFixed(1)} s total)`,
      'gpg --verify, one process per document',
      median(gpgVerify) / median(cotVerify),
      '>= 1x (faster than gpg)',
      median(gpgVerify) / median(cotVerify) >= 1,
    );
    if (algo === 'ed25519') {
      // the current format: raw ed25519 over the canonical bytes (node:crypto), against the same gpg figures
      const edPath = join(work, 'raw-ed25519.key');
      await generateKeyPair({ type: 'ed25519', out: edPath, pubOut: `${edPath}.pub`, now: NOW, force: true });
      const edKey = await loadSigningKey(edPath);
      const edPub = await loadVerificationKeys([`${edPath}.pub`]);
      const edSign = [];
      const edVerify = [];
      const sigs = [];
      for (let i = 0; i < DOCS; i++) {
        const b = Buffer.from(docs[i], 'latin1');
        const t0 = performance.now();
        sigs.push(ed25519Sign(b, edKey.privateKey));
        edSign.push(performance.now() - t0);
      }
      for (let i = 0; i < DOCS; i++) {
        const t0 = performance.now();
        await verifyLink({ data: Buffer.from(docs[i], 'latin1'), signature: sigs[i], keys: edPub, at: NOW });
        edVerify.push(performance.now() - t0);
      }
      row(
        `sign ${DOCS} documents, raw ed25519 (chain-of-trust.json.sig)`,
        `${median(edSign).toFixed(3)} ms/doc (${sum(edSign).toFixed(2)} s total)`,
        `${median(gpgSign).toFixed(2)} ms/doc`,
        'gpg --clearsign ed25519, one process per document',
        median(gpgSign) / median(edSign),
        '>= 1x (faster than gpg)',
        median(gpgSign) / median(edSign) >= 1,
      );
      row(
        `verify ${DOCS} documents (signature + JSON + schema), raw ed25519`,
        `${median(edVerify).toFixed(3)} ms/doc (${sum(edVerify).toFixed(2)} s total)`,
        `${median(gpgVerify).toFixed(2)} ms/doc`,
        'gpg --verify ed25519, one process per document',
        median(gpgVerify) / median(edVerify),
        '>= 1x (faster than gpg)',
        median(gpgVerify) / median(edVerify) >= 1,
      );
    }
    // cross-check: gpg verifies one of ours, we verify one of gpg's
    await writeFile(join(work, 'ours.asc'), ascs[0]);
    gpg(['--verify', join(work, 'ours.asc')]);
    await verifyLink({ data: await readFile(join(docDir, `0.${algo}.asc`)), keys: vk, at: new Date() });
  }
  // ---------------------------------------------------------------- 4. key repository load (200 OpenPGP keys)
  {
    log(
      'building a key repository of 200 OpenPGP keys (100 RSA-2048, 100 ed25519; 3 roots certifying 50 scriptworker keys)...',
    );
    const repo = join(work, 'keyrepo');
    const openpgp = await import('openpgp');
    const date = new Date(NOW.getTime() - 86400_000);
    const gen = async (i, rsa) =>
      (
        await openpgp.generateKey({
          ...(rsa ? { type: 'rsa', rsaBits: 2048 } : { type: 'ecc', curve: 'ed25519Legacy' }),
          userIDs: [{ name: `key ${i}`, email: `key${i}@example.com` }],
          date,
          format: 'object',
        })
      ).privateKey;
    const roots = [];
    for (let i = 0; i < 3; i++) roots.push(await gen(`root${i}`, true));
    await mkdir(join(repo, 'scriptworker/trusted'), { recursive: true });
    await mkdir(join(repo, 'scriptworker/valid'), { recursive: true });
    for (let i = 0; i < 3; i++)
      await writeFile(join(repo, `scriptworker/trusted/root${i}.pub`), roots[i].toPublic().armor());
    for (let i = 0; i < 197; i++) {
      const k = await gen(i, i % 2 === 0);
      let dest;
      let pub = k.toPublic();
      if (i < 50) {
        pub = await pub.signAllUsers([roots[i % 3]], new Date(NOW.getTime() - 3600_000));
        dest = join(repo, 'scriptworker/valid', `key${i}.pub`);
      } else {
        dest = join(repo, i % 3 === 0 ? 'generic-worker' : 'docker-worker', `pool-${i % 7}`, `key${i}.pub`);
      }
      await mkdir(join(dest, '..'), { recursive: true });
      await writeFile(dest, pub.armor());
    }
    const files = (await readdir(repo, { recursive: true }))
      .map((f) => join(repo, f))
      .filter((f) => f.endsWith('.pub'));
    const loadTimes = [];
    const gpgTimes = [];
    for (let r = 0; r < REPS; r++) {
      loadTimes.push(
        await time(async () => {
          const store = await loadKeyRepo(repo);
          const sw = store.implementations.get('scriptworker');
          for (const k of sw.certified) await resolveCertification(sw, k);
          if (sw.certified.length !== 50) throw new Error('bench repo: wrong certified count');
        }),
      );
      const home = join(work, `gnupg-import-${r}`);
      await mkdir(home, { mode: 0o700 });
      gpgTimes.push(
        await time(() => run('gpg', ['--homedir', home, '--batch', '--quiet', '--import', ...files])),
      );
    }
    const cotMs = median(loadTimes) * 1000;
    const gpgMs = median(gpgTimes) * 1000;
    row(
      `load a key repository of ${files.length} OpenPGP keys and resolve 50 certifications`,
      `${cotMs.toFixed(0)} ms`,
      `${gpgMs.toFixed(0)} ms`,
      'gpg --import of the same files, one process (no certification check)',
      gpgMs / cotMs,
      '< 1000 ms',
      cotMs < 1000,
    );
  }

  // ---------------------------------------------------------------- 5. chain verification of 2,000 tasks
  {
    log(
      'building the 2,000-task graph (1 decision, 1,000 builds, 999 signing tasks, 4 upstream artifacts each)...',
    );
    const g = await buildChainGraph(join(work, 'chain'), NOW);
    const child = (graph, args) =>
      JSON.parse(
        run(process.execPath, ['bench/chain-child.js', graph.root, graph.policy, ...args]).toString(),
      );
    // medians of CHAIN_REPS runs, each in a fresh process; the run with the median time gives its phases
    const medianRun = (graph, args, links) => {
      const runs = [];
      for (let i = 0; i < CHAIN_REPS; i++) {
        const r = child(graph, args);
        if (!r.ok || r.links !== links) throw new Error(`chain bench: ${JSON.stringify(r.errors)}`);
        runs.push(r);
      }
      runs.sort((a, b) => a.seconds - b.seconds);
      return { ...runs[runs.length >> 1], maxRssKiB: median(runs.map((r) => r.maxRssKiB)) };
    };
    const local = medianRun(g, ['--queue', g.queueDir], 2000);
    const mb = (r) => (r.maxRssKiB * 1024) / 1e6;
    row(
      'verify a 2,000-task chain from a directory store',
      `${local.seconds.toFixed(2)} s; ${perLink(local)}; ${local.artifacts} artifacts`,
      '-',
      'no reference verifier runs here (scriptworker is Python; PyPI is unreachable)',
      1.5 / local.seconds,
      '<= 1.5 s',
      local.seconds <= 1.5,
    );
    row(
      'time per link by phase, 2,000-task chain, directory store (ms per link, share of the verification)',
      phaseShares(local),
      '-',
      '-',
      1,
      'report only',
      null,
    );
    row(
      'peak RSS verifying the 2,000-task chain (directory store)',
      `${mb(local).toFixed(0)} MB`,
      '-',
      '-',
      200 / mb(local),
      '<= 200 MB',
      mb(local) <= 200,
    );
    // issue 14: what `cot verify --attest` and `cot attest provenance` add to the same verification
    log(
      `attesting the 2,000-task chain (${ATTEST_REPS} runs each of verify, verify + summary, verify + provenance)...`,
    );
    const attest = await benchAttestChain({ graph: g, reps: ATTEST_REPS, log });
    for (const r of attestRows(attest)) row(r.what, r.cot, r.ref, r.refName, r.ratio, r.target, r.met);
    if (BIG_CHAIN) {
      log('building the 10,000-task graph (1 decision, 5,000 builds, 4,999 signing tasks)...');
      const g10 = await buildChainGraph(join(work, 'chain10k'), NOW, 5000);
      const big = medianRun(g10, ['--queue', g10.queueDir], 10000);
      const growth = big.seconds / local.seconds;
      row(
        'verify a 10,000-task chain from a directory store (growth: time ratio to the 2,000-task chain, 5.0 = linear)',
        `${big.seconds.toFixed(2)} s; ${perLink(big)}; growth ${growth.toFixed(2)} for 5x the tasks`,
        '-',
        '-',
        8 / big.seconds,
        '<= 8 s',
        big.seconds <= 8,
      );
      row(
        'peak RSS verifying the 10,000-task chain (directory store)',
        `${mb(big).toFixed(0)} MB`,
        '-',
        '-',
        400 / mb(big),
        '<= 400 MB',
        mb(big) <= 400,
      );
      await rm(join(work, 'chain10k'), { recursive: true, force: true });
    }
    const server = await serveProcess(g.queueDir);
    try {
      const rootUrl = server.rootUrl;
      const remote = medianRun(g, ['--root-url', rootUrl], 2000);
      row(
        'verify the 2,000-task chain through `cot queue serve` with taskcluster-client',
        `${remote.seconds.toFixed(2)} s; ${perLink(remote)}`,
        '-',
        '-',
        5 / remote.seconds,
        '<= 5 s',
        remote.seconds <= 5,
      );
      // requests per link: a consumed artifact's 303 and GET are the consumer's download, apart from the link's own
      // reads (listArtifacts, the chain-of-trust document and its signature, each 303 + GET, and the batch calls)
      const q = remote.requests;
      const consumed = 2 * remote.artifacts;
      const own = (q.total - consumed) / remote.links;
      const kinds = Object.entries(q)
        .filter(([k]) => k !== 'total' && k !== 'connections')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      row(
        'HTTP requests per link through `cot queue serve` (2,000-task chain; a 303 and its GET count as two)',
        `${own.toFixed(3)} of the link's own (listArtifacts 1, chain-of-trust.json 303+GET 2, .sig 303+GET 2, batch tasks/statuses ${((q['POST tasks (batch)'] ?? 0) + (q['POST statuses (batch)'] ?? 0)) / remote.links}); ${(q.total / remote.links).toFixed(2)} with the consumed artifacts' downloads; ${q.connections} connections (${kinds})`,
        '7 (own; 11 with downloads), 8,003 connections',
        'cot before issue 13 (6de2f26)',
        7 / own,
        '<= 5',
        own <= 5,
      );
    } finally {
      server.stop();
    }
  }

  // ---------------------------------------------------------------- 6. start-up
  const startup = { cot: [], node: [] };
  for (let i = 0; i < 10; i++) {
    startup.node.push(await time(() => run(process.execPath, ['-e', '0'])));
    startup.cot.push(await time(() => run(process.execPath, ['bin/cot.js', '--help'])));
  }
  row(
    '`cot --help` start-up',
    `${(median(startup.cot) * 1000).toFixed(0)} ms`,
    `${(median(startup.node) * 1000).toFixed(0)} ms`,
    '`node -e 0` (the runtime floor)',
    median(startup.node) / median(startup.cot),
    'report only',
    null,
  );

  // ---------------------------------------------------------------- 7. rebuild a parent task from its tree
  {
    log('rebuilding the shared decision_hg-push task from its tree (50 times)...');
    const ms = await benchTreeRebuild(50);
    if (ms === null) log('../shared/interop/scriptworker-cot is absent: the tree rebuild row is skipped');
    else
      row(
        'rebuild one parent task once its tree files are loaded (the shared decision_hg-push vector: context, JSON-e render in the bounded render process, comparison)',
        `${median(ms).toFixed(1)} ms`,
        '-',
        'no reference verifier runs here (scriptworker is Python; PyPI is unreachable)',
        20 / median(ms),
        '< 20 ms',
        median(ms) < 20,
      );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------- report
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const version = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'n/a';
  }
};
const machine = [
  `- date: ${NOW.toISOString()}`,
  `- CPU: ${cpu}, ${cpus().length} logical cores; memory ${(totalmem() / 1024 ** 3).toFixed(0)} GiB (${(freemem() / 1024 ** 3).toFixed(0)} GiB free at start)`,
  `- Node.js ${process.version} (OpenSSL ${process.versions.openssl}); ${version('openssl', ['version'])}; ${version('sha256sum', ['--version'])}; ${version('gpg', ['--version'])}`,
  `- load average (1 min, /proc/loadavg): ${LOAD_AT_START ?? 'n/a'} at start, ${loadAverage() ?? 'n/a'} at the end`,
  `- repetitions: ${REPS} for hashing (median reported); ${DOCS} documents for signing/verifying (median per document)`,
];
const table = [
  '| measurement | cot | reference | reference tool | ratio (cot vs reference, >1 = cot faster) | target | met |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.what} | ${r.cot} | ${r.ref} | ${r.refName} | ${r.ratio.toFixed(2)}x | ${r.target} | ${r.met === null ? '-' : r.met ? 'yes' : '**no**'} |`,
  ),
];
const report = `${machine.join('\n')}\n\n${table.join('\n')}\n`;
process.stdout.write(`\n${report}`);
if (WRITE) {
  const path = new URL('../BENCHMARKS.md', import.meta.url);
  let old = '';
  try {
    old = await readFile(path, 'utf8');
  } catch {}
  const marker = '<!-- bench:results -->';
  const head = old.includes(marker) ? old.slice(0, old.indexOf(marker)) : '# Benchmarks\n\n';
  await writeFile(path, `${head}${marker}\n${report}`);
  log('recorded in BENCHMARKS.md');
}
