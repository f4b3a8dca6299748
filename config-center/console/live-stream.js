// A live feed from the center: a server-sent-event stream (GET /v1/nodes/stream, /v1/rollouts/stream, /v1/health/stream)
// read with fetch(), since EventSource cannot send the bearer token. It reconnects after a drop with
// a growing, jittered delay, tells its state ("connecting", "live", "reconnecting", "paused" while
// the page is hidden, "stopped"), and once closed holds no connection, timer or listener.
import { ApiError, session } from './api.js';

const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 10_000;

/** Splits SSE text into events: calls `onEvent(name, data)` for each complete one. Comments are skipped. */
export function sseParser(onEvent) {
  let buffer = '';
  let name = 'message';
  let data = [];
  return (chunk) => {
    buffer += chunk;
    let end = buffer.indexOf('\n');
    while (end >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line === '') {
        if (data.length > 0) onEvent(name, data.join('\n'));
        name = 'message';
        data = [];
      } else if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      end = buffer.indexOf('\n');
    }
  };
}

/** The delay before reconnect attempt `attempt` (0 first): doubling from 0.5 s to 10 s, jittered down by up to half. */
export function retryDelayMs(attempt) {
  const full = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
  return Math.round(full * (0.5 + Math.random() / 2));
}

async function errorOf(response) {
  const text = await response.text().catch(() => '');
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return new ApiError(
    response.status,
    body?.error ? body.error : { message: text.slice(0, 300) || response.statusText },
  );
}

/**
 * Opens `path` as an event stream and keeps it open until `close()`: `onEvent(name, data)` gets each
 * event's parsed JSON, `onState(state, detail)` each change of state, `onError(error)` a refusal
 * (401, 403, 4xx: no reconnect) or a drop (then it reconnects).
 */
export function liveStream(path, { onEvent, onState, onError }) {
  const self = { closed: false, attempt: 0, controller: null, timer: null, state: '' };
  const setState = (state, detail) => {
    self.state = state;
    onState(state, detail);
  };
  const retry = (why) => {
    if (self.closed) return;
    const delay = retryDelayMs(self.attempt);
    self.attempt += 1;
    setState('reconnecting', { delayMs: delay, why });
    self.timer = setTimeout(connect, delay);
  };
  async function connect() {
    self.timer = null;
    if (self.closed) return;
    if (document.visibilityState === 'hidden') {
      setState('paused');
      return;
    }
    const controller = new AbortController();
    self.controller = controller;
    if (self.state !== 'reconnecting') setState('connecting');
    let why = 'the center ended the stream';
    try {
      const response = await fetch(path, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${session.token}` },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (!response.ok) {
        const error = await errorOf(response);
        // A refused token or request is not cured by retrying; a center shutting down (503) is.
        if (response.status < 500) {
          self.closed = true;
          setState('stopped', { why: error.message });
          onError(error);
          return;
        }
        throw error;
      }
      const parse = sseParser((name, data) => {
        self.attempt = 0;
        if (self.state !== 'live') setState('live');
        onEvent(name, JSON.parse(data));
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      controller.signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parse(value);
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      why = error.message || String(error);
      onError(error);
    }
    if (self.controller === controller) self.controller = null;
    retry(why);
  }
  const onVisibility = () => {
    if (self.closed) return;
    if (document.visibilityState === 'hidden') {
      // A hidden page holds no connection; it reconnects when shown again.
      clearTimeout(self.timer);
      self.timer = null;
      self.controller?.abort();
      self.controller = null;
      setState('paused');
    } else if (self.controller === null && self.timer === null) {
      self.attempt = 0;
      connect();
    }
  };
  document.addEventListener('visibilitychange', onVisibility);
  connect();
  return {
    /** Ends the stream for good: aborts the connection, cancels a pending reconnect. */
    close() {
      self.closed = true;
      clearTimeout(self.timer);
      self.timer = null;
      self.controller?.abort();
      self.controller = null;
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}

/** What a view shows of its stream's state, with the time of the last push. */
export function streamStatusText(state, detail, lastPushAt) {
  const pushed = lastPushAt ? `, last change ${lastPushAt.toLocaleTimeString()}` : '';
  if (state === 'live') return `Live${pushed}.`;
  if (state === 'connecting') return 'Connecting…';
  if (state === 'reconnecting')
    return `Reconnecting in ${Math.ceil((detail?.delayMs ?? 0) / 1000)} s (${detail?.why ?? 'connection lost'})${pushed}.`;
  if (state === 'paused') return `Paused while the page is hidden${pushed}.`;
  return `Stopped: ${detail?.why ?? 'closed'}.`;
}
