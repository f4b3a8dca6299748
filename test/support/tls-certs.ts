import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** PEM files made by the openssl CLI for one test: a CA, a server and a client certificate it signed, and a CA that signed neither. */
export interface TestCertificates {
  dir: string;
  caCert: string;
  /** For 127.0.0.1, localhost and any `serverIps`. */
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting it must refuse the server. */
  otherCaCert: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

function makeSigned(dir: string, name: string, extensions: string): void {
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`],
    dir,
  );
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

/**
 * Makes the CA and certificates in a fresh temporary folder (about a second of openssl).
 * `serverIps`: more addresses the server certificate is valid for (e.g. test hosts' addresses).
 */
export function makeTestCertificates(options: { serverIps?: readonly string[] } = {}): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const names = ['IP:127.0.0.1', 'DNS:localhost', ...(options.serverIps ?? []).map((ip) => `IP:${ip}`)];
  makeSigned(dir, 'server', `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth\n`);
  makeSigned(dir, 'client', 'extendedKeyUsage=clientAuth\n');
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caCert: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    otherCaCert: file('other-ca.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
