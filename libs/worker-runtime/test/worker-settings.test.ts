import { describe, expect, it } from 'vitest';
import { WorkerError } from '../src/errors.js';
import { readWorkerSettings } from '../src/worker-settings.js';

const base = { broker_url: 'redis://127.0.0.1:1/0' };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof WorkerError ? error.code : `not a WorkerError: ${String(error)}`;
  }
  return undefined;
}

describe('readWorkerSettings: result_serializer', () => {
  it('json by default, json and msgpack as set', () => {
    expect(readWorkerSettings(base).resultSerializer).toBe('json');
    expect(readWorkerSettings({ ...base, result_serializer: 'json' }).resultSerializer).toBe('json');
    expect(readWorkerSettings({ ...base, result_serializer: 'msgpack' }).resultSerializer).toBe('msgpack');
  });

  it.each(['pickle', 'yaml', 'xml', 42])('%s is WORKER_BAD_SETTING, read before any connection', (value) => {
    // The broker URL points at a closed port: reading settings never connects.
    expect(codeOf(() => readWorkerSettings({ ...base, result_serializer: value }))).toBe('WORKER_BAD_SETTING');
  });
});

describe('readWorkerSettings: the delivery settings are checked', () => {
  it.each([
    ['celeriac_eta_horizon', -1],
    ['celeriac_eta_max_held', 1.5],
    ['celeriac_delayed_poll_interval', 0],
    ['celeriac_redelivery_limit', 'five'],
    ['celeriac_dead_letter_max_entries', -3],
    ['celeriac_dead_letter_max_raw_bytes', true],
    ['celeriac_revoked_key', 5],
  ])('%s = %j is WORKER_BAD_SETTING', (name, value) => {
    expect(codeOf(() => readWorkerSettings({ ...base, [name]: value }))).toBe('WORKER_BAD_SETTING');
  });
});

describe('readWorkerSettings: celeriac_revoked_key', () => {
  it('defaults to the control plane set; "" and null turn the check off', () => {
    expect(readWorkerSettings(base).revokedKey).toBe('celeriac.revoked');
    expect(readWorkerSettings({ ...base, celeriac_revoked_key: 'my.revoked' }).revokedKey).toBe('my.revoked');
    expect(readWorkerSettings({ ...base, celeriac_revoked_key: '' }).revokedKey).toBeNull();
    expect(readWorkerSettings({ ...base, celeriac_revoked_key: null }).revokedKey).toBeNull();
  });
});
