import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from '../../apps/cli/src/local-redis.js';
import type { TestCertificates } from './tls-certs.js';

/** A redis-server that speaks only TLS (`--port 0 --tls-port <free>`), with the test's certificates. */
export class RedisTlsServer {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  /** Starts it; `authClients` makes it require a client certificate signed by the CA. */
  static async start(
    certs: TestCertificates,
    options: { authClients?: boolean; password?: string } = {},
  ): Promise<RedisTlsServer> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-redis-tls-'));
    const args = [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--tls-cert-file',
      certs.serverCert,
      '--tls-key-file',
      certs.serverKey,
      '--tls-ca-cert-file',
      certs.caCert,
      '--tls-auth-clients',
      options.authClients ? 'yes' : 'no',
    ];
    if (options.password !== undefined) args.push('--requirepass', options.password);
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitForPort(port, 5_000);
    return new RedisTlsServer(port, child, dir);
  }

  /** Stops the server and removes its folder. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve) => {
        this.child.once('exit', () => resolve());
        this.child.kill('SIGKILL');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
