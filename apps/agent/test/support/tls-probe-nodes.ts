// The world of the agent's TLS probe tests (RabbitMQ, Redis): a private CA, a broker whose
// certificate it signed, and a ProbeFleet with two nodes on it. `withca` gives the CA in its layer
// (`broker_use_ssl`) and runs a celeriac-worker and a Python Celery program; `noca` runs a worker
// that trusts the CA only through its own environment (NODE_EXTRA_CA_CERTS), which the agent
// cannot see. The checks both tests make of the two nodes are here too.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { expect } from 'vitest';
import { eventually } from '../../../../test/e2e/support/center-api.js';
import { makeTestCertificates, type TestCertificates } from '../../../../test/support/tls-certs.js';
import { E2E_SUPPORT, healthWorkerProgram, type Probed, ProbeFleet } from './probe-fleet.js';

/** A broker a test starts and stops. */
export interface StoppableBroker {
  stop(): Promise<void>;
}

/** How the nodes reach the broker: its URL, withca's `broker_use_ssl`, and noca's (none: no key). */
export interface TlsBrokerSettings {
  brokerUrl: string;
  useSsl: Record<string, unknown>;
  nocaUseSsl?: Record<string, unknown>;
}

/** A log line of an agent, parsed. */
type LogLine = Record<string, unknown>;

/** Certificates, broker and fleet of one TLS probe test, with agents `withca` and `noca` started. */
export class TlsProbeNodes<B extends StoppableBroker> {
  private constructor(
    readonly certs: TestCertificates,
    readonly broker: B,
    readonly fleet: ProbeFleet,
    readonly settings: TlsBrokerSettings,
  ) {}

  /**
   * Makes the certificates, starts the broker (`startBroker`), the center and both agents, after
   * writing their layers with the settings `settingsOf` gives for that broker.
   */
  static async start<B extends StoppableBroker>(
    adminToken: string,
    startBroker: (certs: TestCertificates) => Promise<B>,
    settingsOf: (broker: B, certs: TestCertificates) => TlsBrokerSettings,
  ): Promise<TlsProbeNodes<B>> {
    const certs = makeTestCertificates();
    let broker: B | undefined;
    let fleet: ProbeFleet | undefined;
    try {
      broker = await startBroker(certs);
      fleet = await ProbeFleet.start(adminToken);
      const nodes = new TlsProbeNodes(certs, broker, fleet, settingsOf(broker, certs));
      await nodes.putLayers();
      await Promise.all([fleet.startAgent('withca'), fleet.startAgent('noca')]);
      return nodes;
    } catch (error) {
      await fleet?.close();
      await broker?.stop();
      certs.remove();
      throw error;
    }
  }

  private async putLayers(): Promise<void> {
    const { brokerUrl, useSsl, nocaUseSsl } = this.settings;
    const celery = { broker_url: brokerUrl, task_default_queue: 'tls' };
    const layers: Record<string, unknown> = {
      'nodes/withca': {
        celery: { ...celery, broker_use_ssl: useSsl },
        programs: {
          w: healthWorkerProgram(),
          py: {
            kind: 'celery-worker',
            app: 'health_py_tasks',
            env: { PYTHONPATH: E2E_SUPPORT },
            queues: ['py_tls'],
            concurrency: 1,
            stop_timeout: '5s',
            ready_timeout: '40s',
          },
        },
      },
      // The worker trusts the CA by its environment; the layer (all the agent reads) does not.
      'nodes/noca': {
        celery: nocaUseSsl ? { ...celery, broker_use_ssl: nocaUseSsl } : celery,
        programs: { w: healthWorkerProgram({ NODE_EXTRA_CA_CERTS: this.certs.caCert }) },
      },
    };
    for (const [layer, doc] of Object.entries(layers)) {
      const res = await this.fleet.admin.putLayer(layer, doc);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  }

  /** The node as the center reports it. */
  probed(name: string): Promise<Probed> {
    return this.fleet.probed(name);
  }

  /** Waits for withca's worker to answer the probe; checks it is reported responding, no probe failed. */
  async expectWithcaResponding(): Promise<void> {
    const status = await eventually(
      async () => {
        const s = await this.probed('withca');
        const workers = Object.values(s.programs.w?.workers ?? {});
        return s.programs.w?.state === 'running' && workers.length === 1 && workers[0]?.last_reply_at ? s : undefined;
      },
      60_000,
      'the withca worker answers the probe',
    );
    expect(status.programs.w?.responding).toBe(true);
    expect(Object.values(status.programs.w?.workers ?? {})).toMatchObject([{ responding: true }]);
    expect(this.fleet.linesOf('withca', 'agent.worker_probe_failed')).toEqual([]);
  }

  /**
   * Waits for noca's worker to be reported not responding; checks the failed probe was said once
   * with `causeCode` and the worker marked unresponsive. Returns noca's failed-probe lines.
   */
  async expectNocaNotResponding(causeCode: string): Promise<LogLine[]> {
    const status = await eventually(
      async () => {
        const s = await this.probed('noca');
        return s.programs.w?.state === 'running' && s.programs.w.responding === false ? s : undefined;
      },
      60_000,
      'the noca worker is reported not responding',
    );
    // Its worker runs (it trusts the CA by its environment); only the agent cannot reach its pidbox.
    expect(Object.values(status.programs.w?.workers ?? {})).toMatchObject([{ responding: false, last_reply_at: null }]);
    const failed = this.fleet.linesOf('noca', 'agent.worker_probe_failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({
      level: 40,
      code: 'CONTROL_UNAVAILABLE',
      cause_code: causeCode,
      programs: ['w'],
    });
    // Said once per outage, not at every probe.
    expect(failed.filter((l) => l.level === 40)).toHaveLength(1);
    expect(this.fleet.linesOf('noca', 'agent.worker_unresponsive')).toMatchObject([{ program: 'w' }]);
    return failed;
  }

  /**
   * Sends a task to withca's Python program with a client named `clientName` (withca's settings)
   * and checks the program is measured from its task events, which the agent read over TLS.
   */
  async expectPythonMeasuredFromTaskEvents(clientName: string): Promise<void> {
    const client = new Celeriac(
      clientName,
      { broker_url: this.settings.brokerUrl, broker_use_ssl: this.settings.useSsl },
      { logger: createLogger({ level: 'silent' }) },
    );
    try {
      await eventually(
        async () => ((await this.probed('withca')).programs.py?.state === 'running' ? true : undefined),
        60_000,
        'the Python program runs',
      );
      await client.sendTask('hpy.echo', [7], {}, { queue: 'py_tls' });
      const health = await eventually(
        async () => {
          const h = (await this.probed('withca')).programs.py?.health;
          return h && h.counts.succeeded >= 1 ? h : undefined;
        },
        40_000,
        'the Python task succeeded in the health summary',
      );
      expect(health.source).toBe('task_events');
      expect(this.fleet.linesOf('withca', 'agent.task_events_unavailable')).toEqual([]);
    } finally {
      await client.close();
    }
  }

  /** Stops the fleet and the broker and removes the certificates. */
  async close(): Promise<void> {
    await this.fleet.close();
    await this.broker.stop();
    this.certs.remove();
  }
}
