import type { ResultDocument } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { ResultFlusher } from '../src/result-flusher.js';
import { LogCapture, takeLogSchemaProblems } from './support.js';

const doc = (id: string) => ({
  status: 'SUCCESS',
  result: 1,
  traceback: null,
  children: [],
  date_done: '',
  task_id: id,
});

describe('ResultFlusher', () => {
  it('flush() resolves only once failed batches were retried and stored (retry delays 50, 200 ms)', async () => {
    const log = new LogCapture();
    let storeCalls = 0;
    const stored: string[] = [];
    const acked: string[] = [];
    const flusher = new ResultFlusher(
      {
        storeMany: async (docs: readonly ResultDocument[]) => {
          storeCalls++;
          if (storeCalls <= 2) throw new Error('backend down');
          stored.push(...docs.map((d) => d.task_id as string));
        },
        ack: async (tags) => {
          acked.push(...tags);
        },
      },
      log.logger,
    );
    const started = Date.now();
    flusher.add(doc('a') as ResultDocument, 'tag-a');
    await flusher.flush();
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(stored).toEqual(['a']);
    expect(acked).toEqual(['tag-a']);
    expect(log.events('worker.flush_retry').map((l) => l.attempt)).toEqual([1, 2]);
    expect(log.events('worker.flush_retry')[0]?.err).toMatchObject({ message: 'backend down' });
    expect(takeLogSchemaProblems()).toEqual([]);
  });

  it('close() retries without delays, then gives up with one worker.flush_failed', async () => {
    const log = new LogCapture();
    const flusher = new ResultFlusher(
      {
        storeMany: async () => {
          throw new Error('refused');
        },
        ack: async () => undefined,
      },
      log.logger,
    );
    flusher.add(doc('b') as ResultDocument, null);
    await flusher.close();
    expect(log.events('worker.flush_failed')).toHaveLength(1);
    expect(flusher.pending).toBe(0);
    expect(takeLogSchemaProblems()).toEqual([]);
  });
});
