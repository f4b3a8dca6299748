import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@celeriac/logger';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from '../../test/support/tls-certs.js';
import { CenterStartError, FileStore, type RunningCenter, startCenter } from '../src/index.js';
import { ADMIN_TOKEN, until } from './support/center-harness.js';

// The center over HTTPS (fastify's https server, certificates made with the openssl CLI), and the
// CLI and a real agent verifying it with --ca-file / CELERIAC_CA_FILE, the system CAs by default.
const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'apps/cli/bin/celeriac.js');

let dir: string;
let pki: TestCertificates;
let center: RunningCenter;
const children: ChildProcess[] = [];

async function cli(args: string[], env: Record<string, string> = {}) {
  const result = await execa(process.execPath, [BIN, ...args], {
    env: { CELERIAC_CENTER: center.url, CELERIAC_TOKEN: ADMIN_TOKEN, ...env },
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function httpsJson(url: string, ca: Buffer, token?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

function startAgent(node: string, token: string, caFile: string | undefined) {
  const lines: Record<string, unknown>[] = [];
  const args = ['agent', '--center', center.url, '--node', node, '--token', token, '--heartbeat', '300ms'];
  args.push('--state-dir', path.join(dir, `agent-${node}`));
  if (caFile) args.push('--ca-file', caFile);
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  children.push(child);
  let carry = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (carry + chunk.toString()).split('\n');
    carry = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part));
      } catch {
        lines.push({ text: part });
      }
    }
  });
  return { child, lines };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'celeriac-https-'));
  pki = makeTestCertificates();
  const logger = createLogger({ level: 'warn', pretty: false, destination: { write: () => undefined } });
  center = await startCenter({
    listen: '127.0.0.1:0',
    store: new FileStore({ dataDir: path.join(dir, 'data'), logger, statusFlushMs: 20 }),
    adminToken: ADMIN_TOKEN,
    logger,
    tlsCertFile: pki.serverCert,
    tlsKeyFile: pki.serverKey,
  });
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await center?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  pki?.remove();
});

describe('the center over HTTPS', () => {
  it('serves https:// with its certificate, and still requires a token', async () => {
    expect(center.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(pki.caCert);
    expect((await httpsJson(`${center.url}/healthz`, ca)).status).toBe(200);
    expect((await httpsJson(`${center.url}/v1/nodes`, ca)).status).toBe(401);
    expect((await httpsJson(`${center.url}/v1/nodes`, ca, ADMIN_TOKEN)).status).toBe(200);
  });

  it('refuses a certificate without its key, an unreadable file, and a key of another certificate', async () => {
    const logger = createLogger({ level: 'silent', pretty: false });
    const start = (cert?: string, key?: string) =>
      startCenter({
        listen: '127.0.0.1:0',
        dataDir: path.join(dir, 'bad'),
        logger,
        tlsCertFile: cert,
        tlsKeyFile: key,
      });
    await expect(start(pki.serverCert)).rejects.toThrow(/--tls-cert was given without --tls-key/);
    await expect(start(pki.serverCert, path.join(dir, 'missing.key'))).rejects.toThrow(
      /cannot read --tls-key .*ENOENT/,
    );
    const mismatch = start(pki.serverCert, pki.clientKey);
    await expect(mismatch).rejects.toBeInstanceOf(CenterStartError);
    await expect(mismatch).rejects.toThrow(/cannot serve HTTPS .*private key it was issued for/);
  });
});

describe('the CLI verifies the center', () => {
  it('works with --ca-file and with CELERIAC_CA_FILE', async () => {
    const flag = await cli(['nodes', '--ca-file', pki.caCert]);
    expect(flag.stderr).toBe('');
    expect(flag.exitCode).toBe(0);
    const env = await cli(['config', 'set', 'nodes/tls-1', 'labels.zone=eu'], { CELERIAC_CA_FILE: pki.caCert });
    expect(env.stderr).toBe('');
    expect(env.exitCode).toBe(0);
  });

  it('names the problem with a wrong CA, with the system CAs, and for a wrong host name', async () => {
    const wrong = await cli(['nodes', '--ca-file', pki.otherCaCert]);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain("the center's TLS certificate is not trusted");
    expect(wrong.stderr).toContain(`it is not signed by a CA in --ca-file ${pki.otherCaCert}`);
    expect(wrong.stderr).toContain('[CLI_CENTER_UNTRUSTED]');
    const system = await cli(['nodes']);
    expect(system.exitCode).toBe(1);
    expect(system.stderr).toContain('not signed by any of the system CAs; give the CA that signed it with --ca-file');
    const host = await cli([
      'nodes',
      '--center',
      center.url.replace('127.0.0.1', 'localhost'),
      '--ca-file',
      pki.caCert,
    ]);
    expect(host.exitCode).toBe(0);
    const unreadable = await cli(['nodes', '--ca-file', path.join(dir, 'nope.pem')]);
    expect(unreadable.exitCode).toBe(2);
    expect(unreadable.stderr).toContain('cannot read --ca-file');
    const plain = await cli(['nodes', '--center', center.url.replace('https:', 'http:')]);
    expect(plain.exitCode).toBe(1);
  });

  it('still needs a token over HTTPS', async () => {
    const result = await execa(process.execPath, [BIN, 'nodes', '--ca-file', pki.caCert], {
      env: { CELERIAC_CENTER: center.url },
      extendEnv: false,
      reject: false,
    });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toContain('CENTER_UNAUTHORIZED');
  });
});

describe('the agent verifies the center', () => {
  it('applies its config over HTTPS with --ca-file, and says why it cannot with a wrong CA', {
    timeout: 60_000,
  }, async () => {
    const tokens = await cli(['config', 'set', 'nodes/tls-2', 'labels.zone=us'], { CELERIAC_CA_FILE: pki.caCert });
    expect(tokens.exitCode).toBe(0);
    const ca = readFileSync(pki.caCert);
    const create = async (node: string) => {
      const res = await new Promise<{ status: number; body: { token: string } }>((resolve, reject) => {
        const req = request(
          `${center.url}/v1/tokens`,
          {
            method: 'POST',
            ca,
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          },
          (r) => {
            let text = '';
            r.on('data', (c: Buffer) => {
              text += c.toString();
            });
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ role: 'agent', node, name: `agent-${node}` }));
      });
      expect(res.status).toBe(201);
      return res.body.token;
    };
    const good = startAgent('tls-1', await create('tls-1'), pki.caCert);
    const bad = startAgent('tls-2', await create('tls-2'), pki.otherCaCert);
    await until(
      async () => {
        const node = (await httpsJson(`${center.url}/v1/nodes/tls-1`, ca, ADMIN_TOKEN)).body as {
          apply_result: string | null;
          applied_revision: number | null;
          desired_revision: number;
        };
        return node.apply_result === 'ok' && node.applied_revision === node.desired_revision;
      },
      30_000,
      'tls-1 applied over https',
    );
    await until(() => bad.lines.some((l) => l.event === 'agent.long_poll_failed'), 30_000, 'tls-2 poll failure');
    const failure = bad.lines.find((l) => l.event === 'agent.long_poll_failed') as { err: { message: string } };
    expect(failure.err.message).toContain("the center's TLS certificate is not trusted");
    expect(failure.err.message).toContain(`not signed by a CA in --ca-file ${pki.otherCaCert}`);
    const node2 = (await httpsJson(`${center.url}/v1/nodes/tls-2`, ca, ADMIN_TOKEN)).body as {
      last_seen: string | null;
    };
    expect(node2.last_seen).toBeNull();
    for (const agent of [good, bad]) {
      agent.child.kill('SIGTERM');
      await new Promise((resolve) => agent.child.once('exit', resolve));
    }
  });
});
