import { createHash } from 'node:crypto';
import type { Revision } from '../types.js';

/** What reading a revision log found. */
export interface ParsedLog {
  revisions: Revision[];
  /** Byte length of the whole, valid records; anything after it is a torn tail. */
  validBytes: number;
  /** Bytes after the valid records (a record cut short by a crash). */
  tornBytes: number;
  /** Set when a bad record is followed by good ones: that is damage, not a torn write. */
  corruptAt?: number;
}

function checksum(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

/** One log record: `<checksum> <revision JSON>\n`. */
export function encodeRecord(revision: Revision): string {
  const json = JSON.stringify(revision);
  return `${checksum(json)} ${json}\n`;
}

function decodeRecord(line: string, expectedRevision: number): Revision | undefined {
  const space = line.indexOf(' ');
  if (space !== 16) return undefined;
  const json = line.slice(17);
  if (checksum(json) !== line.slice(0, 16)) return undefined;
  try {
    const value = JSON.parse(json) as Revision;
    return value.revision === expectedRevision ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a revision log. A record counts only when it is complete (ends with a newline), its
 * checksum matches and it has the next revision number; a crash mid-append leaves a tail that
 * fails these checks and is reported as torn.
 */
export function parseRevisionLog(buffer: Buffer): ParsedLog {
  const revisions: Revision[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const newline = buffer.indexOf(10, offset);
    if (newline < 0) break;
    const revision = decodeRecord(buffer.toString('utf8', offset, newline), revisions.length + 1);
    if (!revision) {
      const rest = buffer.subarray(newline + 1);
      const later = rest.toString('utf8').split('\n');
      const goodLater = later.some((line) => /^[0-9a-f]{16} \{/.test(line) && line.endsWith('}'));
      if (goodLater) return { revisions, validBytes: offset, tornBytes: buffer.length - offset, corruptAt: offset };
      break;
    }
    revisions.push(revision);
    offset = newline + 1;
  }
  return { revisions, validBytes: offset, tornBytes: buffer.length - offset };
}
