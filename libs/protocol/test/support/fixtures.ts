import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CELERY_FIXTURES_DIR } from '../../../../test/support/celery-fixtures.js';

/** Captured JSON, navigated freely by the tests (shapes differ per capture). */
// biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary captured JSON.
export type FixtureJson = any;

export const FIXTURE_DIR = CELERY_FIXTURES_DIR;

/** Parsed JSON of one fixture file, e.g. `loadFixture('a_add_json')`. */
export function loadFixture(name: string): FixtureJson {
  return JSON.parse(readFileSync(path.join(FIXTURE_DIR, `${name}.json`), 'utf8'));
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export interface CapturedEnvelope {
  fixture: string;
  where: string;
  raw: string;
  envelope: FixtureJson;
  /** `body_decoded` beside the raw entry, when the capture has it. */
  bodyDecoded: unknown;
}

function parseEnvelope(raw: string): FixtureJson | null {
  try {
    const v = JSON.parse(raw);
    return typeof v === 'object' && v !== null && 'body' in v && 'properties' in v ? v : null;
  } catch {
    return null;
  }
}

/** Every object in a fixture with a `raw` string that parses as a kombu envelope. */
export function findEnvelopes(fixture: string): CapturedEnvelope[] {
  const out: CapturedEnvelope[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) {
      for (const [i, v] of node.entries()) walk(v, `${where}[${i}]`);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const obj = node as Record<string, unknown>;
    if (typeof obj.raw === 'string') {
      const envelope = parseEnvelope(obj.raw);
      if (envelope !== null) out.push({ fixture, where, raw: obj.raw, envelope, bodyDecoded: obj.body_decoded });
    }
    for (const [k, v] of Object.entries(obj)) walk(v, `${where}.${k}`);
  };
  walk(loadFixture(fixture), '');
  return out;
}

/** Envelopes of every fixture, split into task messages (v2 `headers.task`) and the rest. */
export function allEnvelopes(): { tasks: CapturedEnvelope[]; others: CapturedEnvelope[] } {
  const tasks: CapturedEnvelope[] = [];
  const others: CapturedEnvelope[] = [];
  for (const name of fixtureNames()) {
    for (const e of findEnvelopes(name)) (typeof e.envelope.headers?.task === 'string' ? tasks : others).push(e);
  }
  return { tasks, others };
}
