// The center under test, in its own process: file store in a temp dir, a free port.
// Answers { type: 'memory' } IPC messages with its memory use (after a GC when --expose-gc is on).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@celeriac/logger';
import { startCenter } from '../../config-center/dist/index.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-bench-center-'));
const center = await startCenter({
  dataDir,
  listen: '127.0.0.1:0',
  store: 'file',
  adminToken: process.env.CELERIAC_ADMIN_TOKEN,
  logger: createLogger({ level: 'warn', pretty: false }),
});
process.on('message', async (message) => {
  if (message?.type === 'memory') {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    process.send({ type: 'memory', rss: usage.rss, heapUsed: usage.heapUsed });
  } else if (message?.type === 'stop') {
    await center.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  }
});
process.send({ type: 'listening', url: center.url });
