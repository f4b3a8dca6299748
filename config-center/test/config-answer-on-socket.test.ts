import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from '../../test/support/tls-certs.js';
import type { NodeView } from '../src/center-state.js';
import { answersOnSocket, writeConfigAnswer } from '../src/config-answer.js';
import { FileStore, type RunningCenter, startCenter } from '../src/index.js';
import {
  ADMIN_TOKEN,
  api,
  captureLogger,
  startTestCenter,
  type TestCenter,
  until,
  workerNodeLayer,
} from './support/center-harness.js';

// A long-poll whose connection closes after its answer (agents' fresh connections send
// `Connection: close`) is written whole on its socket (config-answer.ts). These read those answers
// byte for byte from a raw socket, over HTTP and HTTPS, against what keep-alive clients get.

const T = ADMIN_TOKEN;
let center: TestCenter;
let dir: string;
let pki: TestCertificates;
let secure: RunningCenter;

interface RawMessage {
  statusLine: string;
  headers: Map<string, string>;
  body: Buffer;
}

/**
 * Sends `lines` (a request head) on a fresh socket and reads until the server closes it: a
 * connection the center does not close fails the test by its timeout.
 */
function rawExchange(socket: net.Socket, lines: string[]): Promise<RawMessage> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const [statusLine = '', ...headerLines] = all.subarray(0, split).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      resolve({ statusLine, headers, body: all.subarray(split + 4) });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

function plainRequest(url: string, lines: string[]): Promise<RawMessage> {
  const { hostname, port } = new URL(url);
  return rawExchange(net.connect(Number(port), hostname), lines);
}

function secureRequest(url: string, lines: string[]): Promise<RawMessage> {
  const { hostname, port } = new URL(url);
  const socket = tls.connect({
    host: hostname,
    port: Number(port),
    ca: readFileSync(pki.caCert),
    servername: 'localhost',
  });
  return rawExchange(socket, lines);
}

const get = (target: string, extra: string[] = [], method = 'GET', version = '1.1') => [
  `${method} ${target} HTTP/${version}`,
  'host: 127.0.0.1',
  `authorization: Bearer ${T}`,
  ...extra,
];

/** The same GET over a keep-alive agent (answered through ServerResponse). */
function keepAliveGet(urlPath: string): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  const agent = new http.Agent({ keepAlive: true });
  return new Promise((resolve, reject) => {
    const request = http.get(`${center.url}${urlPath}`, { agent, headers: { authorization: `Bearer ${T}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        agent.destroy();
        resolve({ headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    request.on('error', reject);
  });
}

async function metric(url: string, pattern: RegExp): Promise<number> {
  return Number(pattern.exec((await api(url, 'GET', '/metrics')).text)?.[1] ?? 0);
}
const CONFIG_200 =
  /celeriac_center_http_requests_total\{method="GET",route="\/v1\/nodes\/:node\/config",status="200"\} (\d+)/;
const CONFIG_304 =
  /celeriac_center_http_requests_total\{method="GET",route="\/v1\/nodes\/:node\/config",status="304"\} (\d+)/;
const held = (url: string) => metric(url, /celeriac_center_long_polls_held (\d+)/);

async function put(url: string, layer: string, body: unknown): Promise<number> {
  const current = await api(url, 'GET', `/v1/layers/${layer}`, { token: T });
  const ifMatch = current.status === 200 ? String(current.body.revision) : '0';
  const response = await api(url, 'PUT', `/v1/layers/${layer}`, { token: T, body, headers: { 'if-match': ifMatch } });
  expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
  return response.body.revision as number;
}

/** A request to the HTTPS center, trusting the test CA; resolves with the status and text. */
function httpsCall(
  method: string,
  urlPath: string,
  body?: unknown,
  ifMatch?: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${secure.url}${urlPath}`,
      {
        method,
        ca: readFileSync(pki.caCert),
        headers: {
          authorization: `Bearer ${T}`,
          'content-type': 'application/json',
          ...(ifMatch === undefined ? {} : { 'if-match': String(ifMatch) }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    request.on('error', reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function securePut(layer: string, body: unknown, ifMatch?: number): Promise<number> {
  const response = await httpsCall('PUT', `/v1/layers/${layer}`, body, ifMatch);
  expect(response.status, response.text).toBeLessThan(300);
  return JSON.parse(response.text).revision as number;
}
const secureHeld = async () =>
  Number(/celeriac_center_long_polls_held (\d+)/.exec((await httpsCall('GET', '/metrics')).text)?.[1]);

beforeAll(async () => {
  center = await startTestCenter({ maxWaitMs: 30_000 });
  dir = mkdtempSync(path.join(tmpdir(), 'celeriac-answer-tls-'));
  pki = makeTestCertificates();
  const logger = captureLogger([]);
  secure = await startCenter({
    listen: '127.0.0.1:0',
    store: new FileStore({ dataDir: path.join(dir, 'data'), logger, statusFlushMs: 20 }),
    adminToken: ADMIN_TOKEN,
    logger,
    tlsCertFile: pki.serverCert,
    tlsKeyFile: pki.serverKey,
  });
  await put(center.url, 'defaults', { celery: { task_default_queue: 'celery' } });
  await put(center.url, 'groups/g', { celery: { task_default_queue: 'g' } });
  await put(center.url, 'nodes/node-a', workerNodeLayer(['g']));
}, 60_000);
afterAll(async () => {
  await center?.close();
  await secure?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  pki?.remove();
});

describe('answers written whole on a closing connection', () => {
  it('carry the status, headers and body a keep-alive answer has, with Connection: close, and close', async () => {
    const kept = await keepAliveGet('/v1/nodes/node-a/config');
    const closed = await plainRequest(center.url, get('/v1/nodes/node-a/config', ['connection: close']));
    expect(closed.statusLine).toBe('HTTP/1.1 200 OK');
    expect(closed.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(closed.headers.get('etag')).toBe(kept.headers.etag);
    expect(closed.headers.get('connection')).toBe('close');
    expect(Number.isNaN(Date.parse(closed.headers.get('date') ?? ''))).toBe(false);
    expect(Number(closed.headers.get('content-length'))).toBe(closed.body.length);
    expect(closed.body.equals(kept.body)).toBe(true);
    expect(JSON.parse(closed.body.toString('utf8')).node).toBe('node-a');

    // HTTP/1.0 without keep-alive closes too.
    const old = await plainRequest(center.url, get('/v1/nodes/node-a/config', [], 'GET', '1.0'));
    expect(old.statusLine).toBe('HTTP/1.1 200 OK');
    expect(old.body.equals(kept.body)).toBe(true);

    // HEAD: the headers of the GET, no body.
    const head = await plainRequest(center.url, get('/v1/nodes/node-a/config', ['connection: close'], 'HEAD'));
    expect(head.statusLine).toBe('HTTP/1.1 200 OK');
    expect(head.headers.get('content-length')).toBe(String(kept.body.length));
    expect(head.body.length).toBe(0);
  });

  it('answer held long-polls on a write and with 304 after the wait, each counted and logged', async () => {
    const revision = (await api(center.url, 'GET', '/v1/nodes/node-a/config', { token: T })).body.revision as number;
    const ok = await metric(center.url, CONFIG_200);
    const notModified = await metric(center.url, CONFIG_304);
    const lines = center.logLines.length;

    const timedOut = await plainRequest(
      center.url,
      get(`/v1/nodes/node-a/config?after=${revision}&wait=0.2`, ['connection: close']),
    );
    expect(timedOut.statusLine).toBe('HTTP/1.1 304 Not Modified');
    expect(timedOut.headers.get('connection')).toBe('close');
    expect(timedOut.body.length).toBe(0);

    const pending = plainRequest(
      center.url,
      get(`/v1/nodes/node-a/config?after=${revision}&wait=20`, ['connection: close']),
    );
    await until(async () => (await held(center.url)) === 1, 10_000, 'the long-poll to be held');
    const written = await put(center.url, 'groups/g', { celery: { task_default_queue: 'g2' } });
    const changed = await pending;
    expect(changed.statusLine).toBe('HTTP/1.1 200 OK');
    const body = JSON.parse(changed.body.toString('utf8'));
    expect(body.revision).toBe(written);
    expect(changed.headers.get('etag')).toBe(`"${written}"`);
    expect(body.config.celery.task_default_queue).toBe('g2');
    expect(Number(changed.headers.get('content-length'))).toBe(changed.body.length);

    expect(await metric(center.url, CONFIG_200)).toBe(ok + 1);
    expect(await metric(center.url, CONFIG_304)).toBe(notModified + 1);
    const requestLines = center.logLines
      .slice(lines)
      .map((line) => JSON.parse(line))
      .filter((line) => line.event === 'center.request' && line.route === '/v1/nodes/:node/config');
    expect(requestLines.map((line) => line.status_code).sort()).toEqual([200, 304]);
  });
  it('answer a held long-poll with 304 when the center closes', async () => {
    const closing = await startTestCenter({ maxWaitMs: 30_000 });
    let closed: Promise<void> | undefined;
    try {
      const revision = await put(closing.url, 'nodes/node-c', workerNodeLayer([]));
      const pending = plainRequest(
        closing.url,
        get(`/v1/nodes/node-c/config?after=${revision}&wait=25`, ['connection: close']),
      );
      await until(async () => (await held(closing.url)) === 1, 10_000, 'the long-poll to be held');
      closed = closing.close();
      const answer = await pending;
      expect(answer.statusLine).toBe('HTTP/1.1 304 Not Modified');
      expect(answer.headers.get('connection')).toBe('close');
      expect(answer.body.length).toBe(0);
    } finally {
      await (closed ?? closing.close());
    }
  });
});

describe('answers written whole on a closing TLS connection', () => {
  it('answer a held long-poll over HTTPS and close', async () => {
    await securePut('defaults', { celery: { task_default_queue: 'celery' } });
    const revision = await securePut('nodes/node-t', workerNodeLayer([]));
    const timedOut = await secureRequest(
      secure.url,
      get(`/v1/nodes/node-t/config?after=${revision}&wait=0.2`, ['connection: close']),
    );
    expect(timedOut.statusLine).toBe('HTTP/1.1 304 Not Modified');

    const pending = secureRequest(
      secure.url,
      get(`/v1/nodes/node-t/config?after=${revision}&wait=20`, ['connection: close']),
    );
    await until(async () => (await secureHeld()) === 1, 10_000, 'the HTTPS long-poll to be held');
    const written = await securePut(
      'nodes/node-t',
      workerNodeLayer([], { celery: { timezone: 'Europe/Paris' } }),
      revision,
    );
    const changed = await pending;
    expect(changed.statusLine).toBe('HTTP/1.1 200 OK');
    expect(changed.headers.get('connection')).toBe('close');
    expect(Number(changed.headers.get('content-length'))).toBe(changed.body.length);
    const body = JSON.parse(changed.body.toString('utf8'));
    expect(body.node).toBe('node-t');
    expect(body.revision).toBe(written);
  });
});

describe('writeConfigAnswer on a bare node:http server', () => {
  it('writes on the socket only for a closing connection, finishing the response once either way', async () => {
    const view = { revision: 7, hash: 'h7', config: { celery: { task_default_queue: 'q' } }, history: [7] };
    const seen: { onSocket: boolean; headersSent: boolean; finishes: number; finished: boolean }[] = [];
    const server = http.createServer((_req, res) => {
      const entry = { onSocket: answersOnSocket(res), headersSent: false, finishes: 0, finished: false };
      seen.push(entry);
      res.on('finish', () => {
        entry.finishes++;
      });
      writeConfigAnswer(res, 'n1', view as unknown as NodeView);
      entry.headersSent = res.headersSent;
      entry.finished = res.writableEnded;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      const closed = await plainRequest(url, ['GET / HTTP/1.1', 'host: x', 'connection: close']);
      const agent = new http.Agent({ keepAlive: true });
      const kept = await new Promise<Buffer>((resolve, reject) => {
        http
          .get(url, { agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          })
          .on('error', reject);
      });
      agent.destroy();
      expect(closed.body.equals(kept)).toBe(true);
      expect(JSON.parse(kept.toString('utf8'))).toEqual({
        node: 'n1',
        revision: 7,
        hash: 'h7',
        config: { celery: { task_default_queue: 'q' } },
      });
      await until(() => seen.every((entry) => entry.finishes === 1), 5_000, 'both responses to finish');
      // The closing one never went through ServerResponse's header writing; the kept one did.
      expect(seen.map(({ onSocket, headersSent, finished }) => ({ onSocket, headersSent, finished }))).toEqual([
        { onSocket: true, headersSent: false, finished: true },
        { onSocket: false, headersSent: true, finished: true },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
