import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../apps/cli/src/local-redis.js';
import type { TestCertificates } from './tls-certs.js';

/**
 * A redis-sentinel that listens only on `tls-port` (a free one), with the test's certificates and
 * no client certificates asked for, monitoring a plain master as `masterName` (quorum 1).
 */
export class TlsSentinel {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  /** Starts it with its config file in `certs.dir`, once its port takes connections. */
  static async start(certs: TestCertificates, masterName: string, masterPort: number): Promise<TlsSentinel> {
    const port = await freePort();
    const file = path.join(certs.dir, 'sentinel.conf');
    writeFileSync(
      file,
      [
        'port 0',
        `tls-port ${port}`,
        'bind 127.0.0.1',
        `dir ${certs.dir}`,
        `tls-cert-file ${certs.serverCert}`,
        `tls-key-file ${certs.serverKey}`,
        `tls-ca-cert-file ${certs.caCert}`,
        'tls-auth-clients no',
        // The sentinel speaks TLS to its clients; to the (plain) master it speaks plain text.
        'tls-replication no',
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-sentinel', [file], { stdio: 'ignore' });
    const sentinel = new TlsSentinel(port, child);
    try {
      await waitForPort(port, 5_000);
    } catch (error) {
      await sentinel.stop();
      throw error;
    }
    return sentinel;
  }

  /** Kills it (SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve) => {
        this.child.once('exit', () => resolve());
        this.child.kill('SIGKILL');
      });
    }
  }
}
