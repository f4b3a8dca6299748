import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** Files of a test CA and of a server certificate it signed (all PEM). */
export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Another CA, which did not sign the server certificate. */
  otherCaCert: string;
  /** A certificate signed by the CA for a name the server does not answer as (wrong-host.example). */
  wrongHostCert: string;
  wrongHostKey: string;
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
      `${name}.pem`,
    ],
    dir,
  );
}

function makeLeaf(dir: string, name: string, ca: string, san: string): void {
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`],
    dir,
  );
  writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
}

/** Makes a CA with the openssl CLI, a server certificate for 127.0.0.1 and localhost, and a second, unrelated CA. */
export function makeTestPki(dir: string): TestPki {
  makeCa(dir, 'test-ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', 'test-ca', 'IP:127.0.0.1,DNS:localhost');
  makeLeaf(dir, 'wrong-host', 'test-ca', 'DNS:wrong-host.example');
  const at = (file: string) => path.join(dir, file);
  return {
    caCert: at('test-ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    otherCaCert: at('other-ca.pem'),
    wrongHostCert: at('wrong-host.pem'),
    wrongHostKey: at('wrong-host.key'),
  };
}
