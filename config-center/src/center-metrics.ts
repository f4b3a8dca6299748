/** Gauges read at scrape time. */
export interface MetricsSnapshot {
  longPollsHeld: number;
  revisions: number;
  nodesByState: Record<string, number>;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Counters of the center, rendered in the Prometheus text format. */
export class CenterMetrics {
  private readonly requests = new Map<string, number>();
  private longPollsAnswered = { changed: 0, timeout: 0 };
  private writes = 0;

  /** Counts one answered HTTP request. */
  observeRequest(method: string, route: string, status: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** Counts a long-poll answered with a change (200) or after its wait (304). */
  observeLongPoll(outcome: 'changed' | 'timeout'): void {
    this.longPollsAnswered[outcome]++;
  }

  /** Counts a revision written through this process. */
  observeWrite(): void {
    this.writes++;
  }

  /** The Prometheus exposition text. */
  render(snapshot: MetricsSnapshot): string {
    const lines: string[] = [
      '# HELP celeriac_center_http_requests_total HTTP requests answered, by method, route and status.',
      '# TYPE celeriac_center_http_requests_total counter',
    ];
    for (const [key, count] of [...this.requests].sort()) {
      const [method, route, status] = key.split('\u0000') as [string, string, string];
      lines.push(
        `celeriac_center_http_requests_total{method="${method}",route="${escapeLabel(route)}",status="${status}"} ${count}`,
      );
    }
    lines.push(
      '# HELP celeriac_center_long_polls_held Config long-polls held open right now.',
      '# TYPE celeriac_center_long_polls_held gauge',
      `celeriac_center_long_polls_held ${snapshot.longPollsHeld}`,
      '# HELP celeriac_center_long_polls_answered_total Long-polls answered, by outcome.',
      '# TYPE celeriac_center_long_polls_answered_total counter',
      `celeriac_center_long_polls_answered_total{outcome="changed"} ${this.longPollsAnswered.changed}`,
      `celeriac_center_long_polls_answered_total{outcome="timeout"} ${this.longPollsAnswered.timeout}`,
      '# HELP celeriac_center_revisions Revisions in the store (the newest revision number).',
      '# TYPE celeriac_center_revisions gauge',
      `celeriac_center_revisions ${snapshot.revisions}`,
      '# HELP celeriac_center_writes_total Revisions written through this process.',
      '# TYPE celeriac_center_writes_total counter',
      `celeriac_center_writes_total ${this.writes}`,
      '# HELP celeriac_center_nodes Known nodes, by state.',
      '# TYPE celeriac_center_nodes gauge',
    );
    for (const [state, count] of Object.entries(snapshot.nodesByState).sort()) {
      lines.push(`celeriac_center_nodes{state="${escapeLabel(state)}"} ${count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
