import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compressBody, compressionProblem, compressionType, decompressBody } from '../src/compression.js';
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
    expect(compressionType('lzma')).toBe('application/x-lzma');
    expect(compressionType('xz')).toBe('application/x-lzma');
    expect(compressionType('bzip2')).toBeUndefined();
    expect(compressionProblem('zlib')).toBeUndefined();
    expect(compressionProblem('lzma')).toBeUndefined();
    expect(compressionProblem('bzip2')).toMatch(/^bzip2 is not supported for sending: Celeriac reads bzip2/);
    expect(compressionProblem('application/x-bz2')).toMatch(/^bzip2 is not supported for sending/);
    expect(compressionProblem('zstd')).toMatch(/^zstd is not supported/);
    expect(compressionProblem('snappy')).toMatch(/is not a compression/);
  });

  it.each(['zlib', 'gzip', 'brotli', 'application/x-gzip', 'lzma', 'xz', 'application/x-lzma'])(
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

  it('bzip2 is refused at encode, naming it; an unknown compression too', () => {
    expect(() => encodeTaskEnvelope({ ...task, compression: 'bzip2' })).toThrow(
      /compression bzip2 is not supported for sending/,
    );
    expect(() => encodeTaskEnvelope({ ...task, compression: 'snappy' })).toThrow(/"snappy" is not a compression/);
  });

  it("decodes exactly what Python's bz2.compress and lzma.compress (.xz, and the older .lzma) produce", () => {
    const script = `
import bz2, lzma, sys, json
data = b'celery ' * 500
print(json.dumps({
  'bz2': bz2.compress(data).hex(),
  'xz': lzma.compress(data).hex(),
  'alone': lzma.compress(data, format=lzma.FORMAT_ALONE).hex(),
}))
`;
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' })) as Record<
      string,
      string
    >;
    const want = 'celery '.repeat(500);
    expect(decompressBody(Buffer.from(out.bz2 as string, 'hex'), 'application/x-bz2').toString()).toBe(want);
    expect(decompressBody(Buffer.from(out.bz2 as string, 'hex'), 'bzip2').toString()).toBe(want);
    expect(decompressBody(Buffer.from(out.xz as string, 'hex'), 'application/x-lzma').toString()).toBe(want);
    expect(decompressBody(Buffer.from(out.alone as string, 'hex'), 'xz').toString()).toBe(want);
  }, 30_000);

  it("writes lzma (.lzma format, compressed) that Python's lzma.decompress reads, as kombu calls it", () => {
    const packed = compressBody(Buffer.from('celeriac '.repeat(300)), 'application/x-lzma');
    // @napi-rs/lzma 1.4 compresses less than Python (2,700 bytes → about 1,000, Python: about 100).
    expect(packed.length).toBeLessThan(1_500);
    const script = 'import lzma, sys; sys.stdout.write(lzma.decompress(bytes.fromhex(sys.stdin.read())).decode())';
    const back = execFileSync('/usr/bin/python3', ['-c', script], { input: packed.toString('hex'), encoding: 'utf8' });
    expect(back).toBe('celeriac '.repeat(300));
  }, 30_000);

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
    (raw.headers as Record<string, unknown>).compression = 'application/zstd';
    const zstd = decodeTaskEnvelope(JSON.stringify(raw), accept);
    expect(zstd).toMatchObject({ ok: false, code: 'bad_body', taskId: 'id-1' });
    expect(!zstd.ok && zstd.reason).toContain('zstd is not supported');
    for (const method of ['application/x-bz2', 'application/x-lzma']) {
      (raw.headers as Record<string, unknown>).compression = method;
      const bad = decodeTaskEnvelope(JSON.stringify(raw), accept);
      expect(bad).toMatchObject({ ok: false, code: 'bad_body', taskId: 'id-1' });
      expect(!bad.ok && bad.reason).toContain(`body cannot be decompressed (${method})`);
    }
    (raw.headers as Record<string, unknown>).compression = 'application/x-gzip';
    const plain = decodeTaskEnvelope(JSON.stringify(raw), accept);
    expect(plain).toMatchObject({ ok: false, code: 'bad_body' });
    expect(decompressBody(deflateSync(Buffer.from('abc')), 'zlib').toString()).toBe('abc');
  });
});
