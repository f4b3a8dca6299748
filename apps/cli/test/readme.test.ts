import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const setup = path.join(root, 'deploy/setup-debian.sh');

/** The commands of the README's first shell block, comments dropped. */
function openingCommands(): string[] {
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  return block.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

describe('README, as a newcomer on a fresh Debian machine reads it', () => {
  it('opens with two commands: install everything and start a fleet, then run every test', () => {
    expect(openingCommands()).toEqual(['deploy/setup-debian.sh && npm ci && npx celeriac up', 'npm test']);
  });

  it('names a setup script that exists, runs, and is the one CI calls', () => {
    accessSync(setup, constants.X_OK);
    expect(readFileSync(setup, 'utf8').startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(readFileSync(path.join(root, '.ci/run'), 'utf8')).toMatch(/^deploy\/setup-debian\.sh$/m);
  });

  it('says what the script installs: every package it may install, and only those', () => {
    const packages = [...readFileSync(setup, 'utf8').matchAll(/need\+=\(([a-z0-9.+-]+)\)/g)].map((m) => m[1]);
    expect(packages.sort()).toEqual([
      'chromium',
      'python3-amqp',
      'python3-celery',
      'python3-msgpack',
      'python3-redis',
      'rabbitmq-server',
      'redis-sentinel',
      'redis-server',
    ]);
    const paragraph = readme.slice(readme.indexOf('`deploy/setup-debian.sh` installs'));
    const described = paragraph.slice(0, paragraph.indexOf('\n\n'));
    for (const name of packages) expect(described, name).toContain(`\`${name}\``);
  });
});
