import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressionProblem, compressionType, decompressBody } from '../src/compression.js';
import { decodeTaskEnvelope } from '../src/envelope-decode.js';
import { encodeTaskEnvelope } from '../src/envelope-encode.js';

const task = { id: 'id-1', task: 't.echo', args: ['x'.repeat(2000)], kwargs: { k: 1 }, queue: 'celery' };
const accept = { accept: ['json', 'msgpack'] };

describe('compression as kombu names it', () => {
  it('maps kombu names and content types; refuses what Node cannot do, by name', () => {
    expect(compressionType('zlib')).toBe('application/x-gzip');
    expect(compressionType('gzip')).toBe('application/x-gzip');
    expect(compressionType('application/x-gzip')).toBe('application/x-gzip');
    expect(compressionType('brotli')).toBe('application/x-brotli');
    expect(compressionProblem('zlib')).toBeUndefined();
    expect(compressionProblem('bzip2')).toMatch(/^bzip2 is not supported/);
    expect(compressionProblem('application/x-bz2')).toMatch(/^bzip2 is not supported/);
    expect(compressionProblem('xz')).toMatch(/^lzma is not supported/);
    expect(compressionProblem('snappy')).toMatch(/is not a compression/);
  });

  it.each(['zlib', 'gzip', 'brotli', 'application/x-gzip'])(
    'encodes with a compression header and decodes back (%s), json and msgpack',
    (compression) => {
      for (const serializer of ['json', 'msgpack'] as const) {
        const raw = encodeTaskEnvelope({ ...task, serializer, compression });
        const envelope = JSON.parse(raw) as { headers: Record<string, unknown>; body: string };
        expect(envelope.headers.compression).toBe(compressionType(compression));
        expect(envelope.body.length).toBeLessThan(400);
        const decoded = decodeTaskEnvelope(raw, accept);
        expect(decoded.ok && decoded.message.args).toEqual(task.args);
        expect(decoded.ok && decoded.message.kwargs).toEqual({ k: 1 });
      }
    },
  );

  it('an unknown compression is refused at encode, naming it', () => {
    expect(() => encodeTaskEnvelope({ ...task, compression: 'bzip2' })).toThrow(/compression bzip2 is not supported/);
  });

  it('reads a message kombu compressed with zlib (Python Celery 5.2, result_compression="zlib")', () => {
    const script = `
import json, sys
from celery import Celery
from kombu import Connection
app = Celery('x', broker='memory://')
app.conf.result_compression = 'zlib'
with Connection('memory://') as conn:
    ch = conn.default_channel
    app.send_task('t.echo', args=('hello ' * 100,), kwargs={'k': 2}, connection=conn)
    raw = ch._get('celery')
print(json.dumps(raw))
`;
    const raw = execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' }).trim();
    expect((JSON.parse(raw) as { headers: { compression: string } }).headers.compression).toBe('application/x-gzip');
    const decoded = decodeTaskEnvelope(raw, accept);
    expect(decoded.ok && decoded.message.args).toEqual(['hello '.repeat(100)]);
    expect(decoded.ok && decoded.message.kwargs).toEqual({ k: 2 });
  }, 30_000);

  it('a body that cannot be decompressed, or a method we cannot do, is refused with the reason', () => {
    const raw = JSON.parse(encodeTaskEnvelope(task)) as Record<string, Record<string, unknown>>;
    (raw.headers as Record<string, unknown>).compression = 'application/x-bz2';
    const bz = decodeTaskEnvelope(JSON.stringify(raw), accept);
    expect(bz).toMatchObject({ ok: false, code: 'bad_body', taskId: 'id-1' });
    expect(!bz.ok && bz.reason).toContain('bzip2 is not supported');
    (raw.headers as Record<string, unknown>).compression = 'application/x-gzip';
    const plain = decodeTaskEnvelope(JSON.stringify(raw), accept);
    expect(plain).toMatchObject({ ok: false, code: 'bad_body' });
    expect(decompressBody(deflateSync(Buffer.from('abc')), 'zlib').toString()).toBe('abc');
  });
});
