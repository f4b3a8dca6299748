import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  acceptedContentTypes,
  CONTENT_TYPE,
  deserialize,
  ProtocolEncodeError,
  serialize,
  serializerForContentType,
} from '../src/index.js';

describe('serializers', () => {
  it('maps content types both ways', () => {
    expect(CONTENT_TYPE).toEqual({ json: 'application/json', msgpack: 'application/x-msgpack' });
    expect(serializerForContentType('application/json')).toBe('json');
    expect(serializerForContentType('application/x-msgpack')).toBe('msgpack');
    expect(serializerForContentType('application/x-python-serialize')).toBeUndefined();
    expect(serializerForContentType('application/x-yaml')).toBeUndefined();
  });

  it('reads accept_content given as names or MIME types', () => {
    expect([...acceptedContentTypes(['json'])]).toEqual(['application/json']);
    const both = acceptedContentTypes(['application/json', 'msgpack']);
    expect(both.has('application/json') && both.has('application/x-msgpack')).toBe(true);
    expect(acceptedContentTypes(['pickle']).has('application/x-python-serialize')).toBe(true);
  });

  it('decodes what Python msgpack packs into plain JS values', () => {
    // kombu packs with use_bin_type=True: str as str, bytes as bin.
    const hex = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        "import msgpack,sys; sys.stdout.write(msgpack.packb([{'a': [1, 2.5, None, True]}, {1: 'int key'}, b'\\x00\\xff', 'wörld', 2**53 - 1, -5], use_bin_type=True).hex())",
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    const value = deserialize(Buffer.from(hex, 'hex'), 'msgpack') as unknown[];
    expect(value[0]).toEqual({ a: [1, 2.5, null, true] });
    expect(Object.getPrototypeOf(value[0])).toBe(Object.prototype);
    expect(value[1]).toEqual({ 1: 'int key' });
    expect(value[1]).not.toBeInstanceOf(Map);
    expect(Buffer.from(value[2] as Uint8Array).toString('hex')).toBe('00ff');
    expect(value.slice(3)).toEqual(['wörld', 2 ** 53 - 1, -5]);
  });

  it('writes msgpack Python can read back', () => {
    const packed = serialize([{ a: [1, 2.5, null, true] }, 'wörld', -5, 2 ** 40], 'msgpack');
    const out = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        'import msgpack,sys,json; print(json.dumps(msgpack.unpackb(bytes.fromhex(sys.argv[1]), raw=False)))',
        packed.toString('hex'),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(JSON.parse(out)).toEqual([{ a: [1, 2.5, null, true] }, 'wörld', -5, 2 ** 40]);
  });

  it('throws ProtocolEncodeError for values JSON cannot carry', () => {
    expect(() => serialize(10n, 'json')).toThrow(ProtocolEncodeError);
    expect(() => serialize(undefined, 'json')).toThrow(ProtocolEncodeError);
    expect(deserialize(serialize({ x: 'ö' }, 'json'), 'json')).toEqual({ x: 'ö' });
  });
});
