import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeAdditionalData } from '../../src/document/additional-data.js';
import { generateKeyPair, loadSigningKey, type SigningKey, workerChainOfTrust } from '../../src/index.js';
import { collectEc2Environment, collectGcpEnvironment } from '../../src/worker/environment.js';
import { readAdditionalData } from '../../src/worker/worker.js';
import { generateArgs, runCli } from '../helpers/cli.js';
import { codeOf, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';

/** A metadata server on 127.0.0.1 that behaves like the clouds' (the real ones are link-local and unreachable here). */
async function metadataServer(
  routes: (req: http.IncomingMessage) => { status: number; body?: string; headers?: Record<string, string> },
) {
  const server = http.createServer((req, res) => {
    const r = routes(req);
    res.writeHead(r.status, r.headers ?? {});
    res.end(r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function ec2(publicIp: boolean) {
  return metadataServer((req) => {
    if (req.url === '/latest/api/token') {
      return req.method === 'PUT' && req.headers['x-aws-ec2-metadata-token-ttl-seconds']
        ? { status: 200, body: 'TOKEN123' }
        : { status: 400 };
    }
    if (req.headers['x-aws-ec2-metadata-token'] !== 'TOKEN123') return { status: 401 };
    const data: Record<string, string> = {
      '/latest/meta-data/instance-id': 'i-0abc',
      '/latest/meta-data/instance-type': 'm5.large',
      '/latest/meta-data/placement/availability-zone': 'us-east-1b',
      '/latest/meta-data/placement/region': 'us-east-1',
      '/latest/meta-data/local-ipv4': '10.1.2.3',
      ...(publicIp ? { '/latest/meta-data/public-ipv4': '203.0.113.9' } : {}),
    };
    const body = data[req.url ?? ''];
    return body === undefined ? { status: 404 } : { status: 200, body };
  });
}

describe('environment collection', () => {
  it('EC2: IMDSv2 token flow; a missing public IP is omitted', async () => {
    for (const pub of [true, false]) {
      const s = await ec2(pub);
      try {
        const env = await collectEc2Environment({ endpoint: s.url });
        expect(env).toEqual({
          instanceId: 'i-0abc',
          instanceType: 'm5.large',
          region: 'us-east-1',
          privateIpAddress: '10.1.2.3',
          ...(pub ? { publicIpAddress: '203.0.113.9' } : {}),
        });
      } finally {
        await s.close();
      }
    }
  });

  it('GCP: the Metadata-Flavor header both ways; no external IP omitted', async () => {
    const s = await metadataServer((req) => {
      if (req.headers['metadata-flavor'] !== 'Google') return { status: 403 };
      const data: Record<string, string> = {
        '/computeMetadata/v1/instance/id': '123456789',
        '/computeMetadata/v1/instance/machine-type': 'projects/42/machineTypes/n2-standard-4',
        '/computeMetadata/v1/instance/zone': 'projects/42/zones/us-central1-a',
        '/computeMetadata/v1/instance/network-interfaces/0/ip': '10.128.0.5',
      };
      const body = data[req.url ?? ''];
      return {
        status: body === undefined ? 404 : 200,
        body: body ?? '',
        headers: { 'Metadata-Flavor': 'Google' },
      };
    });
    try {
      expect(await collectGcpEnvironment({ endpoint: s.url })).toEqual({
        instanceId: '123456789',
        instanceType: 'n2-standard-4',
        region: 'us-central1',
        privateIpAddress: '10.128.0.5',
      });
    } finally {
      await s.close();
    }
    const impostor = await metadataServer(() => ({ status: 200, body: 'x' }));
    try {
      expect(await codeOf(collectGcpEnvironment({ endpoint: impostor.url }))).toBe('TRANSPORT_HTTP');
    } finally {
      await impostor.close();
    }
    expect(await codeOf(collectEc2Environment({ endpoint: 'http://127.0.0.1:9', timeoutMs: 500 }))).toBe(
      'TRANSPORT_NETWORK',
    );
  });
});

describe('additional data and the certified log', () => {
  let d: string;
  let key: SigningKey;
  beforeAll(async () => {
    d = await tempDir();
    await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), pubOut: join(d, 'k.pub'), now: new Date() });
    key = await loadSigningKey(join(d, 'k'));
  });

  it('deep merge keeps nested keys of both, the worker winning', () => {
    expect(
      mergeAdditionalData(
        {
          environment: {
            kernelVersion: '6.1',
            privateIpAddress: 'forged',
            taskId: 'nested keys are fine',
          },
          extra: { a: 1 },
        },
        { environment: { privateIpAddress: '10.0.0.1', region: 'x' }, taskId: 'real' },
      ),
    ).toEqual({
      environment: {
        kernelVersion: '6.1',
        privateIpAddress: '10.0.0.1',
        region: 'x',
        taskId: 'nested keys are fine',
      },
      taskId: 'real',
      extra: { a: 1 },
    });
  });

  it('readAdditionalData refuses a symlink planted by the task', async () => {
    const t = join(d, 'taskdir-link');
    await mkdir(t);
    await symlink('/etc/hostname', join(t, 'chain-of-trust-additional-data.json'));
    expect(await codeOf(readAdditionalData(t))).toBe('ARTIFACT_UNSAFE_FILE');
    expect(await readAdditionalData(join(d, 'nonexistent'))).toBeUndefined();
  });

  it('one library call: environment, additional data, certified log, sign, write', async () => {
    const t = join(d, 'taskdir');
    await mkdir(join(t, 'art/public'), { recursive: true });
    await writeFile(join(t, 'art/public/a.txt'), 'a');
    await writeFile(join(t, 'live_backing.log'), 'task output\nexit code: 0\n');
    await writeFile(
      join(t, 'chain-of-trust-additional-data.json'),
      JSON.stringify({ environment: { kernelVersion: '6.1', privateIpAddress: 'forged' } }),
    );
    const s = await ec2(false);
    try {
      const r = await workerChainOfTrust({
        task: sampleTask(),
        taskId: TASK_ID,
        runId: 0,
        workerGroup: 'us-east-1',
        workerId: 'i-0abc',
        artifactDir: join(t, 'art'),
        keys: [key],
        format: 'ed25519',
        outDir: join(t, 'art/public'),
        now: new Date(),
        certifiedLog: join(t, 'live_backing.log'),
        taskDir: t,
        environmentFrom: 'ec2',
        metadataEndpoint: s.url,
      });
      const log = await readFile(join(t, 'live_backing.log'));
      expect(r.document.artifacts['public/logs/certified.log']).toEqual({
        sha256: createHash('sha256').update(log).digest('hex'),
      });
      expect((await readFile(join(t, 'art/public/logs/certified.log'))).equals(log)).toBe(true);
      expect(r.document.environment).toEqual({
        kernelVersion: '6.1',
        instanceId: 'i-0abc',
        instanceType: 'm5.large',
        region: 'us-east-1',
        privateIpAddress: '10.1.2.3',
      });
      expect(r.additionalData).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('the certified-log name is reserved; the CLI takes the same options', async () => {
    await writeFile(join(d, 'task.json'), JSON.stringify(sampleTask()));
    await writeFile(join(d, 'log'), 'log\n');
    const gen = (...extra: string[]) =>
      runCli(
        new Date(),
        ...generateArgs(
          join(d, 'task.json'),
          '--key',
          join(d, 'k'),
          '--out',
          join(d, 'o'),
          '--certified-log',
          join(d, 'log'),
          ...extra,
        ),
      );
    const r = await gen('--artifact', `public/logs/certified.log=${join(d, 'log')}`);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/ARTIFACT_RESERVED_NAME/);
    const ok = await gen('--json');
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, artifacts: 1 });
  });
});
