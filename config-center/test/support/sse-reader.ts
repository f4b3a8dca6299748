/** One server-sent event as a test reads it: its name, its data parsed as JSON, and when it came. */
export interface ReadEvent {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  data: any;
  at: number;
}

/** An open event-stream answer whose events collect in `events` until `close()` or the server ends it. */
export interface OpenEventStream {
  status: number;
  contentType: string | null;
  /** The body of a refused request (4xx, 5xx). */
  text: string;
  events: ReadEvent[];
  /** Resolves when the answer ended (closed by the server, or by `close()`). */
  ended: Promise<void>;
  close(): void;
}

/** Opens `path` on `base` as an event stream with `token`, reading its events in the background. */
export async function openEventStream(base: string, path: string, token?: string): Promise<OpenEventStream> {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: controller.signal,
  });
  const events: ReadEvent[] = [];
  const contentType = response.headers.get('content-type');
  if (!response.ok || !response.body) {
    return {
      status: response.status,
      contentType,
      text: await response.text(),
      events,
      ended: Promise.resolve(),
      close: () => {},
    };
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const ended = (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name !== undefined && data !== undefined) events.push({ name, data: JSON.parse(data), at: Date.now() });
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted by close(), or the connection dropped: the stream has ended either way.
    }
  })();
  return { status: response.status, contentType, text: '', events, ended, close: () => controller.abort() };
}

/** A node's summary as a test reads it from a node stream. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export type StreamedNode = { node: string } & Record<string, any>;

/**
 * The node list after each event of a GET /v1/nodes/stream (`nodes` sets it, `nodes_changed`
 * changes it), oldest first, each sorted by name as the center sorts it.
 */
export function nodeListsOf(events: readonly ReadEvent[]): StreamedNode[][] {
  const lists: StreamedNode[][] = [];
  let nodes = new Map<string, StreamedNode>();
  for (const event of events) {
    if (event.name === 'nodes') nodes = new Map(event.data.nodes.map((n: StreamedNode) => [n.node, n]));
    else if (event.name === 'nodes_changed') {
      for (const n of event.data.changed as StreamedNode[]) nodes.set(n.node, n);
      for (const name of event.data.removed as string[]) nodes.delete(name);
    } else continue;
    lists.push([...nodes.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)));
  }
  return lists;
}

/** The node's summary in the newest list of a node stream's events (undefined when not listed). */
export function newestNode(events: readonly ReadEvent[], node: string): StreamedNode | undefined {
  return nodeListsOf(events)
    .at(-1)
    ?.find((n) => n.node === node);
}
