import type { IncomingHttpHeaders } from 'node:http';
import { CotError } from '../errors.js';
import type { JsonObject } from '../json/parse.js';
import { httpRequest } from '../transport/http.js';

export type EnvironmentSource = 'static' | 'ec2' | 'gcp';

interface CollectEnvironmentOptions {
  /** metadata endpoint (default: the cloud's link-local address); tests point it at a local server */
  endpoint?: string;
  /** per-request timeout, ms (default 2000) */
  timeoutMs?: number;
}

/** Largest metadata answer read, bytes (the values asked for are a few dozen bytes). */
const MAX_METADATA_BYTES = 65536;

interface Reply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/**
 * One metadata request through cot's bounded HTTP client (httpRequest: no redirect, no retry, at most 64 KiB,
 * `timeoutMs` of inactivity). Throws TRANSPORT_NETWORK (`what`, the URL and the reason) when no answer came.
 */
async function call(
  what: string,
  url: string,
  method: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Reply> {
  try {
    const r = await httpRequest(url, { method, headers, timeoutMs, maxBytes: MAX_METADATA_BYTES });
    return { status: r.status, body: r.body.toString('utf8').trim(), headers: r.headers };
  } catch (e) {
    throw new CotError('TRANSPORT_NETWORK', `${what}: ${url}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A metadata value: the trimmed body of a 200 answer. With `optional`, a 404 or an empty body is undefined;
 * any other status is TRANSPORT_HTTP.
 */
async function metadata(
  what: string,
  url: string,
  method: string,
  headers: Record<string, string>,
  timeoutMs: number,
  optional = false,
): Promise<string | undefined> {
  const r = await call(what, url, method, headers, timeoutMs);
  if (r.status === 404 && optional) return undefined;
  if (r.status !== 200) throw new CotError('TRANSPORT_HTTP', `${what}: ${url}: HTTP ${r.status}`);
  if (optional && r.body === '') return undefined;
  return r.body;
}

/**
 * EC2 instance metadata with the IMDSv2 token flow: instance id, type, region, private and (when the instance has
 * one) public IP address. A missing public IP is simply omitted.
 */
export async function collectEc2Environment(o: CollectEnvironmentOptions = {}): Promise<JsonObject> {
  const base = (o.endpoint ?? 'http://169.254.169.254').replace(/\/+$/, '');
  const t = o.timeoutMs ?? 2000;
  const token = await metadata(
    'EC2 IMDSv2 token',
    `${base}/latest/api/token`,
    'PUT',
    { 'X-aws-ec2-metadata-token-ttl-seconds': '300' },
    t,
  );
  const h = { 'X-aws-ec2-metadata-token': token! };
  const get = (p: string, optional = false) =>
    metadata('EC2 metadata', `${base}/latest/meta-data/${p}`, 'GET', h, t, optional);
  const az = await get('placement/availability-zone');
  const region = (await get('placement/region', true)) ?? az!.replace(/[a-z]$/, '');
  const pub = await get('public-ipv4', true);
  return {
    instanceId: (await get('instance-id'))!,
    instanceType: (await get('instance-type'))!,
    region,
    privateIpAddress: (await get('local-ipv4'))!,
    ...(pub ? { publicIpAddress: pub } : {}),
  };
}

/** GCP metadata server (with its required Metadata-Flavor header, checked on the reply too). */
export async function collectGcpEnvironment(o: CollectEnvironmentOptions = {}): Promise<JsonObject> {
  const base = (o.endpoint ?? 'http://metadata.google.internal').replace(/\/+$/, '');
  const t = o.timeoutMs ?? 2000;
  const get = async (p: string, optional = false) => {
    const url = `${base}/computeMetadata/v1/instance/${p}`;
    const r = await call('GCP metadata', url, 'GET', { 'Metadata-Flavor': 'Google' }, t);
    if (r.headers['metadata-flavor'] !== 'Google')
      throw new CotError(
        'TRANSPORT_HTTP',
        `GCP metadata: ${url} is not a GCP metadata server (no Metadata-Flavor: Google)`,
      );
    if (r.status === 404 && optional) return undefined;
    if (r.status !== 200) throw new CotError('TRANSPORT_HTTP', `GCP metadata: ${url}: HTTP ${r.status}`);
    return r.body === '' && optional ? undefined : r.body;
  };
  const zone = (await get('zone'))!.split('/').pop()!;
  const pub = await get('network-interfaces/0/access-configs/0/external-ip', true);
  return {
    instanceId: (await get('id'))!,
    instanceType: (await get('machine-type'))!.split('/').pop()!,
    region: zone.replace(/-[a-z]$/, ''),
    privateIpAddress: (await get('network-interfaces/0/ip'))!,
    ...(pub ? { publicIpAddress: pub } : {}),
  };
}

export async function collectEnvironment(
  source: EnvironmentSource,
  o: CollectEnvironmentOptions & { static?: JsonObject } = {},
): Promise<JsonObject> {
  switch (source) {
    case 'static':
      return o.static ?? {};
    case 'ec2':
      return collectEc2Environment(o);
    case 'gcp':
      return collectGcpEnvironment(o);
  }
}
