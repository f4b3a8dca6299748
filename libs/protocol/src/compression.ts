import { brotliCompressSync, brotliDecompressSync, deflateSync, inflateSync } from 'node:zlib';

/**
 * Compression of message bodies as kombu does it (kombu/compression.py): the method's content type
 * goes in the `compression` header, and the serialized body is compressed before it is base64
 * encoded. kombu's "gzip" and "zlib" are both zlib's format (`zlib.compress`), content type
 * `application/x-gzip`.
 */
export type CompressionType = 'application/x-gzip' | 'application/x-brotli';

const ALIASES: Readonly<Record<string, CompressionType>> = {
  zlib: 'application/x-gzip',
  gzip: 'application/x-gzip',
  'application/x-gzip': 'application/x-gzip',
  brotli: 'application/x-brotli',
  'application/x-brotli': 'application/x-brotli',
};

/** Methods kombu knows that Celeriac cannot do, and why (refused by name, never ignored). */
const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  bzip2: 'bzip2 is not supported: Node has no bzip2 codec; use "zlib" (or "gzip")',
  bzip: 'bzip2 is not supported: Node has no bzip2 codec; use "zlib" (or "gzip")',
  'application/x-bz2': 'bzip2 is not supported: Node has no bzip2 codec; use "zlib" (or "gzip")',
  lzma: 'lzma is not supported: Node has no lzma codec; use "zlib" (or "gzip")',
  xz: 'lzma is not supported: Node has no lzma codec; use "zlib" (or "gzip")',
  'application/x-lzma': 'lzma is not supported: Node has no lzma codec; use "zlib" (or "gzip")',
  zstd: 'zstd is not supported; use "zlib" (or "gzip")',
  zstandard: 'zstd is not supported; use "zlib" (or "gzip")',
  'application/zstd': 'zstd is not supported; use "zlib" (or "gzip")',
};

/** Names a `task_compression` / `result_compression` setting may take. */
export const COMPRESSION_NAMES: readonly string[] = Object.freeze(Object.keys(ALIASES));

/** The content type of a compression name or alias, or undefined when Celeriac cannot do it. */
export function compressionType(name: string): CompressionType | undefined {
  return Object.hasOwn(ALIASES, name) ? ALIASES[name] : undefined;
}

/** Why a compression name cannot be used (for messages), or undefined when it can. */
export function compressionProblem(name: unknown): string | undefined {
  if (typeof name === 'string' && compressionType(name) !== undefined) return undefined;
  if (typeof name === 'string' && Object.hasOwn(NOT_SUPPORTED, name)) return NOT_SUPPORTED[name];
  return `${JSON.stringify(name) ?? String(name)} is not a compression; use "zlib" (kombu's "gzip" is the same), or "brotli"`;
}

/** Compresses a serialized body; `type` from `compressionType`. */
export function compressBody(body: Buffer, type: CompressionType): Buffer {
  return type === 'application/x-gzip' ? deflateSync(body) : brotliCompressSync(body);
}

/**
 * Decompresses a body by its `compression` header (a content type or an alias, as kombu's
 * `decompress`). Throws an Error naming the method when it is not supported or the data is bad.
 */
export function decompressBody(body: Buffer, header: string): Buffer {
  const type = compressionType(header);
  if (type === undefined) throw new Error(compressionProblem(header));
  return type === 'application/x-gzip' ? inflateSync(body) : brotliDecompressSync(body);
}
