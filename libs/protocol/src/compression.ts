import { createRequire } from 'node:module';
import { brotliCompressSync, brotliDecompressSync, deflateSync, inflateSync } from 'node:zlib';

/**
 * Compression of message bodies as kombu does it (kombu/compression.py): the method's content type
 * goes in the `compression` header, and the serialized body is compressed before it is base64
 * encoded. kombu's "gzip" and "zlib" are both zlib's format (`zlib.compress`), content type
 * `application/x-gzip`; "lzma" / "xz" is `application/x-lzma` (Python's `lzma.compress` writes
 * the .xz container, `lzma.decompress` reads .xz and .lzma: Celeriac reads both and writes .lzma);
 * "bzip2" / "bzip" is `bz2.compress`, `application/x-bz2` (Celeriac reads it, cannot write it).
 */
export type CompressionType = 'application/x-gzip' | 'application/x-brotli' | 'application/x-lzma';

/** What Celeriac can read: everything it writes, and bzip2 (decoded only). */
type DecodableType = CompressionType | 'application/x-bz2';

const ALIASES: Readonly<Record<string, CompressionType>> = {
  zlib: 'application/x-gzip',
  gzip: 'application/x-gzip',
  'application/x-gzip': 'application/x-gzip',
  brotli: 'application/x-brotli',
  'application/x-brotli': 'application/x-brotli',
  lzma: 'application/x-lzma',
  xz: 'application/x-lzma',
  'application/x-lzma': 'application/x-lzma',
};

const DECODE_ALIASES: Readonly<Record<string, DecodableType>> = {
  ...ALIASES,
  bzip2: 'application/x-bz2',
  bzip: 'application/x-bz2',
  'application/x-bz2': 'application/x-bz2',
};

const BZIP2_WRITE =
  'bzip2 is not supported for sending: Celeriac reads bzip2 messages from Python but has no bzip2 encoder (no well-kept one exists for Node); use "zlib" (or "gzip") or "lzma"';

/** Methods kombu knows that Celeriac cannot send with, and why (refused by name, never ignored). */
const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  bzip2: BZIP2_WRITE,
  bzip: BZIP2_WRITE,
  'application/x-bz2': BZIP2_WRITE,
  zstd: 'zstd is not supported; use "zlib" (or "gzip") or "lzma"',
  zstandard: 'zstd is not supported; use "zlib" (or "gzip") or "lzma"',
  'application/zstd': 'zstd is not supported; use "zlib" (or "gzip") or "lzma"',
};

/** Names a `task_compression` / `result_compression` setting may take. */
export const COMPRESSION_NAMES: readonly string[] = Object.freeze(Object.keys(ALIASES));

/** The content type of a compression name or alias Celeriac can send with, or undefined. */
export function compressionType(name: string): CompressionType | undefined {
  return Object.hasOwn(ALIASES, name) ? ALIASES[name] : undefined;
}

/** Why a compression name cannot be used to send (for messages), or undefined when it can. */
export function compressionProblem(name: unknown): string | undefined {
  if (typeof name === 'string' && compressionType(name) !== undefined) return undefined;
  if (typeof name === 'string' && Object.hasOwn(NOT_SUPPORTED, name)) return NOT_SUPPORTED[name];
  return `${JSON.stringify(name) ?? String(name)} is not a compression; use "zlib" (kombu's "gzip" is the same), "lzma" or "brotli"`;
}

interface XzCodec {
  compressSync(input: Uint8Array): Buffer;
  decompressSync(input: Uint8Array): Buffer;
}
interface LzmaModule {
  xz: XzCodec;
  lzma: XzCodec;
}
interface Bunzip {
  decode(input: Uint8Array): Buffer;
}

// Loaded on first use: the lzma decoder is native (npm-hosted prebuilt binaries), and importers of
// this package that never compress (the settings schema) should not load it.
const load = createRequire(import.meta.url);
let lzmaModule: LzmaModule | undefined;
let bunzip: Bunzip | undefined;

function lzmaCodec(): LzmaModule {
  if (lzmaModule === undefined) {
    try {
      lzmaModule = load('@napi-rs/lzma') as LzmaModule;
    } catch (error) {
      throw new Error(`lzma is not available on this platform (@napi-rs/lzma: ${(error as Error).message})`);
    }
  }
  return lzmaModule;
}

function bzip2Decoder(): Bunzip {
  bunzip ??= load('seek-bzip') as Bunzip;
  return bunzip;
}

/** The .xz container's magic; Python's `lzma.decompress` also takes the older .lzma ("alone") format. */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Compresses a serialized body; `type` from `compressionType`. */
export function compressBody(body: Buffer, type: CompressionType): Buffer {
  switch (type) {
    case 'application/x-gzip':
      return deflateSync(body);
    case 'application/x-brotli':
      return brotliCompressSync(body);
    case 'application/x-lzma':
      // The .lzma ("alone") format, which Python's `lzma.decompress` (FORMAT_AUTO, as kombu calls
      // it) reads: @napi-rs/lzma 1.4, the last release for Node 20, stores .xz without compressing.
      // Its ratio is below Python's (about 2:1 on repetitive JSON), but it is native and fast
      // (about 10 µs for a small body); pure-JS encoders took about 9 ms per message on the event loop.
      return lzmaCodec().lzma.compressSync(body);
  }
}

/**
 * Decompresses a body by its `compression` header (a content type or an alias, as kombu's
 * `decompress`). Throws an Error naming the method when it is not supported or the data is bad.
 */
export function decompressBody(body: Buffer, header: string): Buffer {
  const type = Object.hasOwn(DECODE_ALIASES, header) ? DECODE_ALIASES[header] : undefined;
  switch (type) {
    case 'application/x-gzip':
      return inflateSync(body);
    case 'application/x-brotli':
      return brotliDecompressSync(body);
    case 'application/x-lzma': {
      const codec = lzmaCodec();
      return body.subarray(0, XZ_MAGIC.length).equals(XZ_MAGIC)
        ? codec.xz.decompressSync(body)
        : codec.lzma.decompressSync(body);
    }
    case 'application/x-bz2':
      return Buffer.from(bzip2Decoder().decode(body));
    case undefined:
      throw new Error(compressionProblem(header));
  }
}
