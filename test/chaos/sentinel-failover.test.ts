// Redis Sentinel, for real: a master, replicas and three redis-sentinel processes; a `celeriac
// worker` (the built CLI) and our client stream tasks through sentinel:// URLs; the master is
// SIGKILLed while a replica is cut off its link, and both follow the promoted replica by
// themselves. What asynchronous replication lost is counted and printed; with
// celeriac_broker_wait_replicas (the publisher's WAIT) and a second replica nothing is lost.
import { renderCeleryconfig } from '@celeriac/agent';
import { Celeriac } from '@celeriac/client';
import { RedisStore } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { renderedCelerySettings } from '../support/rendered-celeryconfig.js';
import { MASTER_NAME, SentinelCluster } from '../support/sentinel-cluster.js';

interface Sent {
  id: string;
  n: number;
  phase: 'before' | 'during' | 'after';
}

interface Outcome {
  sent: Sent[];
  lost: Sent[];
  publishErrors: number;
  workerPidBefore: number;
  workerPidAfter: number;
  oldMaster: number;
  newMaster: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let cluster: SentinelCluster | undefined;
let worker: CeleriacWorkerProcess | undefined;
let app: Celeriac | undefined;

afterEach(async () => {
  await app?.close().catch(() => undefined);
  await worker?.stop().catch(() => undefined);
  await cluster?.stop();
  app = undefined;
  worker = undefined;
  cluster = undefined;
});

async function failoverUnderLoad(options: { replicas: number; waitReplicas: number }): Promise<Outcome> {
  cluster = await SentinelCluster.start({ replicas: options.replicas });
  const config: Record<string, unknown> = {
    broker_url: cluster.url(0),
    result_backend: cluster.url(1),
    broker_transport_options: { master_name: MASTER_NAME },
    result_backend_transport_options: { master_name: MASTER_NAME },
    ...(options.waitReplicas > 0 ? { celeriac_broker_wait_replicas: options.waitReplicas } : {}),
  };
  worker = await CeleriacWorkerProcess.start({ config, queues: ['celery'], concurrency: 8 });
  const workerPidBefore = worker.program.pid;
  app = new Celeriac('sentinel-producer', config);
  const producer = app;
  const sent: Sent[] = [];
  let phase: Sent['phase'] = 'before';
  let publishErrors = 0;
  let stop = false;
  const produce = (async () => {
    for (let n = 0; !stop; n++) {
      const at = phase;
      try {
        const result = await producer.sendTask('tasks.add', [n, n]);
        // A send that began before the cut and returned after it is the cut's: it may not have replicated.
        sent.push({ id: result.id, n, phase: at === 'before' && phase !== 'before' ? 'during' : at });
      } catch {
        // Refused during the failover (no master, or WAIT not met): not sent, the producer goes on.
        publishErrors++;
        await sleep(50);
      }
      await sleep(5);
    }
  })();

  await sleep(1_500);
  const oldMaster = await cluster.masterPort();
  const [cut] = (await cluster.replicaPorts()) as [number];
  phase = 'during';
  // What was sent before has returned and reached the replica (loopback replication lags by far less) before the cut.
  await sleep(200);
  await cluster.cutReplicaLink(cut);
  await sleep(700);
  await cluster.killMaster();
  await cluster.restoreReplicaLink(cut);
  const newMaster = await cluster.waitForFailover(oldMaster);
  phase = 'after';
  // Keep producing until tasks sent after the failover have gone through the new master.
  const deadline = Date.now() + 60_000;
  while (sent.filter((s) => s.phase === 'after').length < 100 && Date.now() < deadline) await sleep(100);
  stop = true;
  await produce;

  const results = await Promise.all(
    sent.map((s) =>
      producer
        .AsyncResult(s.id)
        .get({ timeout: 20_000 })
        .then(
          (value) => value === s.n * 2,
          () => false,
        ),
    ),
  );
  const lost = sent.filter((_s, i) => !results[i]);
  return {
    sent,
    lost,
    publishErrors,
    workerPidBefore: workerPidBefore ?? 0,
    workerPidAfter: worker.program.pid ?? -1,
    oldMaster,
    newMaster,
  };
}

function report(title: string, o: Outcome): void {
  const byPhase = (list: Sent[], p: Sent['phase']) => list.filter((s) => s.phase === p).length;
  console.log(
    `${title}: master ${o.oldMaster} killed, ${o.newMaster} promoted; published ${o.sent.length} ` +
      `(before ${byPhase(o.sent, 'before')}, while a replica was cut off ${byPhase(o.sent, 'during')}, after ${byPhase(o.sent, 'after')}), ` +
      `refused during the failover ${o.publishErrors}; LOST ${o.lost.length} ` +
      `(before ${byPhase(o.lost, 'before')}, during ${byPhase(o.lost, 'during')}, after ${byPhase(o.lost, 'after')})`,
  );
}

describe('Sentinel failover under load', { timeout: 240_000 }, () => {
  it('asynchronous replication: worker and producer follow the promoted replica; what the cut-off replica missed is lost', async () => {
    const o = await failoverUnderLoad({ replicas: 1, waitReplicas: 0 });
    report('sentinel failover, asynchronous replication (1 replica)', o);
    // Followed by themselves: the same worker process ran what was sent after the failover.
    expect(o.workerPidAfter).toBe(o.workerPidBefore);
    expect(o.sent.filter((s) => s.phase === 'after').length).toBeGreaterThanOrEqual(100);
    expect(o.lost.filter((s) => s.phase === 'after')).toEqual([]);
    // Published while the only replica was cut off, acknowledged by the old master: gone with it.
    expect(o.lost.length).toBeGreaterThan(0);
    expect(o.lost.every((s) => s.phase === 'during')).toBe(true);
  });

  it('celeriac_broker_wait_replicas: 1 (WAIT) with two replicas: nothing acknowledged is lost', async () => {
    const o = await failoverUnderLoad({ replicas: 2, waitReplicas: 1 });
    report('sentinel failover, publisher WAIT 1 (2 replicas)', o);
    expect(o.workerPidAfter).toBe(o.workerPidBefore);
    expect(o.sent.filter((s) => s.phase === 'after').length).toBeGreaterThanOrEqual(100);
    expect(o.sent.filter((s) => s.phase === 'during').length).toBeGreaterThan(0);
    expect(o.lost).toEqual([]);
  });
});

describe('Python Celery on the same sentinel:// URLs', { timeout: 120_000 }, () => {
  it("Python client -> Celeriac worker, and Celeriac client -> a Python worker on the agent's rendered celeryconfig", async () => {
    cluster = await SentinelCluster.start();
    const config = {
      broker_url: cluster.url(0),
      result_backend: cluster.url(1),
      broker_transport_options: { master_name: MASTER_NAME },
      result_backend_transport_options: { master_name: MASTER_NAME },
    };
    worker = await CeleriacWorkerProcess.start({ config, queues: ['celery'] });
    const lines = await runPythonClient(
      [{ op: 'send', ref: 'add', name: 'tasks.add', args: [20, 22], wait: 30 }],
      config,
    );
    expect(lines.find((l) => l.ref === 'add')).toMatchObject({ ok: true, state: 'SUCCESS', result: 42 });

    // master_name folded into the URL query (Celeriac's form) comes out as kombu's transport option.
    const celeriacForm = {
      broker_url: `${cluster.url(0).replace(';', `?master_name=${MASTER_NAME};`)}`,
      result_backend: cluster.url(1),
      result_backend_transport_options: { master_name: MASTER_NAME },
    };
    const source = renderCeleryconfig(celeriacForm, { node: 'n', program: 'py', revision: 1 });
    expect(source).toContain(`broker_transport_options = {"master_name": "${MASTER_NAME}"}`);
    expect(source).not.toContain('?master_name');
    const rendered = renderedCelerySettings(source);
    const py = await CeleryWorker.start({ config: rendered, queues: ['py-sentinel'], pool: 'solo' });
    app = new Celeriac('sentinel-to-python', celeriacForm);
    try {
      const result = await app.sendTask('tasks.add', [1, 2], {}, { queue: 'py-sentinel' });
      expect(await result.get({ timeout: 30_000 })).toBe(3);
    } finally {
      await py.stop();
    }
  });

  it("the center's Redis store takes the same sentinel URL (master_name in its query) and follows a failover", async () => {
    cluster = await SentinelCluster.start();
    const url = `${cluster.url(2).replace(';', `?master_name=${MASTER_NAME};`)}`;
    const store = new RedisStore({ url, logger: createLogger({ level: 'silent', pretty: false }) });
    try {
      await store.start();
      await store.putToken({
        id: 'before',
        name: 'before',
        role: 'viewer',
        hash: 'h-before',
        created_at: new Date().toISOString(),
      } as never);
      const old = await cluster.killMaster();
      await cluster.waitForFailover(old);
      // The token written before the failover was replicated; the store writes on the new master.
      const deadline = Date.now() + 30_000;
      let written = false;
      while (!written && Date.now() < deadline) {
        written = await store
          .putToken({
            id: 'after',
            name: 'after',
            role: 'viewer',
            hash: 'h-after',
            created_at: new Date().toISOString(),
          } as never)
          .then(
            () => true,
            () => false,
          );
        if (!written) await sleep(200);
      }
      expect(written).toBe(true);
      expect((await store.listTokens()).map((t) => t.id).sort()).toEqual(['after', 'before']);
    } finally {
      await store.close();
    }
  });
});
