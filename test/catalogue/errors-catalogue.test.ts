import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as agent from '@celeriac/agent';
import * as broker from '@celeriac/broker';
import * as brokerAmqp from '@celeriac/broker-amqp';
import * as client from '@celeriac/client';
import * as configCenter from '@celeriac/config-center';
import * as configSchema from '@celeriac/config-schema';
import * as controlPlane from '@celeriac/control-plane';
import * as protocol from '@celeriac/protocol';
import * as redisConnection from '@celeriac/redis-connection';
import * as resultBackend from '@celeriac/result-backend';
import * as workerApp from '@celeriac/worker-app';
import * as workerRuntime from '@celeriac/worker-runtime';
import * as cli from 'celeriac';
import { describe, expect, it } from 'vitest';

// docs/errors.md is the one catalogue of error codes. This test holds it and the code together:
// every exported error class declares the codes it can carry (`static codes`), each code has the
// prefix of the package that defines it and a row in the catalogue, the catalogue lists no code
// that does not exist, HTTP statuses match, and no two packages export classes of the same name.

/** Packages in dependency order: a class belongs to the first one that exports it. */
const PACKAGES: { name: string; prefix: string; exports: Record<string, unknown> }[] = [
  { name: '@celeriac/redis-connection', prefix: 'REDIS_', exports: redisConnection },
  { name: '@celeriac/protocol', prefix: 'PROTOCOL_', exports: protocol },
  { name: '@celeriac/config-schema', prefix: 'CONFIG_', exports: configSchema },
  { name: '@celeriac/broker', prefix: 'BROKER_', exports: broker },
  { name: '@celeriac/broker-amqp', prefix: 'AMQP_', exports: brokerAmqp },
  { name: '@celeriac/result-backend', prefix: 'RESULT_', exports: resultBackend },
  { name: '@celeriac/control-plane', prefix: 'CONTROL_', exports: controlPlane },
  { name: '@celeriac/client', prefix: 'CLIENT_', exports: client },
  { name: '@celeriac/worker-runtime', prefix: 'WORKER_', exports: workerRuntime },
  { name: '@celeriac/config-center', prefix: 'CENTER_', exports: configCenter },
  { name: '@celeriac/worker-app', prefix: 'WORKER_', exports: workerApp },
  { name: '@celeriac/agent', prefix: 'AGENT_', exports: agent },
  { name: 'celeriac', prefix: 'CLI_', exports: cli },
];

type ErrorClass = (abstract new (...args: never[]) => Error) & { codes?: readonly string[]; name: string };

interface Found {
  cls: ErrorClass;
  pkg: (typeof PACKAGES)[number];
}

/** Celery's own exception classes: their `.name` crosses the wire to Python and they carry no code. */
function isWireException(cls: ErrorClass): boolean {
  const base = (workerRuntime as Record<string, unknown>).CeleryException as ErrorClass | undefined;
  return base !== undefined && (cls === base || cls.prototype instanceof base);
}

function exportedErrorClasses(): Found[] {
  const seen = new Map<unknown, Found>();
  for (const pkg of PACKAGES) {
    for (const value of Object.values(pkg.exports)) {
      if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue;
      if (!seen.has(value)) seen.set(value, { cls: value as ErrorClass, pkg });
    }
  }
  return [...seen.values()];
}

const catalogue = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8');
/** `| \`CODE\` | 400 | ... |` rows: code → HTTP status column ('' when there is none). */
const rows = new Map(
  [...catalogue.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|/gm)].map((m) => [m[1] as string, m[2] ?? '']),
);
const classes = exportedErrorClasses();
// Celery's exceptions carry codes too; the wire check below also holds their Python names.
const coded = classes.filter((f) => !isWireException(f.cls) || f.cls.codes !== undefined);

describe('docs/errors.md, the error catalogue', () => {
  it('finds the error classes of every package', () => {
    for (const pkg of PACKAGES.filter((p) => p.name !== '@celeriac/worker-app')) {
      expect(
        coded.some((f) => f.pkg === pkg),
        `${pkg.name} exports no error class`,
      ).toBe(true);
    }
  });

  it.each(coded.map((f) => [f.cls.name, f] as const))('%s declares its codes with its package prefix', (_n, found) => {
    const codes = found.cls.codes;
    expect(Array.isArray(codes) && codes.length > 0, `${found.cls.name} has no static codes`).toBe(true);
    for (const code of codes ?? []) expect(code.startsWith(found.pkg.prefix), `${code} (${found.pkg.name})`).toBe(true);
  });

  it('has a row for every code, and no row for a code that does not exist', () => {
    const codes = new Set(coded.flatMap((f) => [...(f.cls.codes ?? [])]));
    expect([...codes].filter((c) => !rows.has(c)).sort(), 'codes missing from docs/errors.md').toEqual([]);
    expect([...rows.keys()].filter((c) => !codes.has(c)).sort(), 'rows for codes no class carries').toEqual([]);
  });

  it('gives the HTTP status the center answers with', () => {
    const CenterError = (configCenter as Record<string, unknown>).CenterError as new (
      code: string,
      message: string,
    ) => {
      statusCode: number;
    };
    const centerCodes = (CenterError as unknown as ErrorClass).codes ?? [];
    expect(centerCodes.length).toBeGreaterThan(5);
    for (const code of centerCodes) expect(rows.get(code), code).toBe(String(new CenterError(code, 'x').statusCode));
  });

  it('lists every Celery exception that crosses the wire, by its Python module and name', () => {
    const base = (workerRuntime as Record<string, unknown>).CeleryException;
    const wire = classes.filter((c) => isWireException(c.cls) && c.cls !== base);
    expect(wire.length).toBeGreaterThan(5);
    for (const f of wire) {
      // Their constructors differ; any arguments do to read the Python name they set.
      const sample = Reflect.construct(f.cls, ['x', 'x', [], 'x']) as Error & { excModule: string };
      expect(catalogue, f.cls.name).toContain(`\`${sample.excModule}.${sample.name}\``);
    }
  });

  it('has no two exported error classes of the same name', () => {
    const names = classes.map((f) => f.cls.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });
});
