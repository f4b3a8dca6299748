// Long-polling clients in one process, driven over IPC. Started with the node numbers it owns and
// how it connects: `node clients.mjs <url> <token> <first> <count> <wait> <close|keep-alive>`.
//   close       a fresh connection per long-poll (`agent: false`, so node sends `Connection: close`),
//               as real agents do (libs/common requestText).
//   keep-alive  one keep-alive http.Agent (its default maxFreeSockets of 256 closes the rest).
//   socket      a fresh connection per long-poll as `close`, but a bare net.Socket that writes the
//               request and reads the answer itself: a few µs per answer instead of node:http's
//               tens, so that 2,500 simulated agents on one core do not queue their own answers
//               (real agents are one per host) and the figure is the center's.
// At start every client fetches its current config once, as an agent does when it starts.
//   { type: 'poll', after }  opens every long-poll once; when all have answered it reports their
//                            arrival times (epoch ms, sub-ms precision), statuses and revisions.
//   { type: 'follow', after, until } polls like an agent: every answer at once re-polls after the
//                            revision it got, until the revision `until` arrived; then reports,
//                            per client, every revision it received in order.
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [url, token, firstText, countText, waitText, connection = 'close'] = process.argv.slice(2);
const first = Number(firstText);
const count = Number(countText);
const waitSec = Number(waitText);
const agent =
  connection === 'keep-alive' ? new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY }) : false;
const now = () => performance.timeOrigin + performance.now();

/** An agent's config request: after a revision, held up to the wait; null `after`: the current config at once. */
const configPath = (node, after) =>
  after === null ? `/v1/nodes/${node}/config` : `/v1/nodes/${node}/config?after=${after}&wait=${waitSec}`;

function longPoll(node, after) {
  return connection === 'socket' ? socketPoll(node, after) : httpPoll(node, after);
}

const target = new URL(url);
const HEADER_END = Buffer.from('\r\n\r\n');

/** One long-poll on a bare socket: `Connection: close`, answer read up to its Content-Length. */
function socketPoll(node, after) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname);
    const chunks = [];
    let received = 0;
    let settled = false;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      socket.write(
        `GET ${configPath(node, after)} HTTP/1.1\r\nhost: ${target.host}\r\nauthorization: Bearer ${token}\r\nconnection: close\r\n\r\n`,
      );
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      received += chunk.length;
      const message = chunks.length === 1 ? chunk : Buffer.concat(chunks, received);
      const headerEnd = message.indexOf(HEADER_END);
      if (headerEnd < 0) return;
      const head = message.toString('latin1', 0, headerEnd);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (received < headerEnd + 4 + length) return;
      const at = now();
      const status = Number(head.slice(9, 12));
      const body = message.toString('utf8', headerEnd + 4, headerEnd + 4 + length);
      settled = true;
      socket.destroy();
      resolve({ at, status, revision: status === 200 ? JSON.parse(body).revision : undefined });
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (!settled) reject(new Error(`${node}: the center closed the connection before a whole answer`));
    });
  });
}

function httpPoll(node, after) {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${url}${configPath(node, after)}`,
      { agent, headers: { authorization: `Bearer ${token}` } },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const at = now();
          let revision;
          if (response.statusCode === 200) revision = JSON.parse(Buffer.concat(chunks).toString()).revision;
          resolve({ at, status: response.statusCode, revision });
        });
      },
    );
    request.on('error', (error) => {
      // The center closed an idle keep-alive socket just as it was reused (keepAliveTimeout): a
      // GET is safe to send again, as HTTP clients do. Real agents use a fresh connection each time.
      if (request.reusedSocket && (error.code === 'ECONNRESET' || error.message === 'socket hang up')) {
        longPoll(node, after).then(resolve, reject);
      } else reject(error);
    });
  });
}

process.on('unhandledRejection', (error) => {
  // A refused or reset connection (e.g. a full listen backlog): say so and stop, so the run fails.
  console.error(`client ${first}..${first + count - 1}: ${error.message}`);
  process.exit(1);
});

async function follow(node, after, until) {
  const seen = [];
  let last = after;
  while (last < until) {
    const answer = await longPoll(node, last);
    if (answer.status === 200) {
      seen.push(answer.revision);
      last = answer.revision;
    }
  }
  return seen;
}

const nodes = Array.from({ length: count }, (_, i) => `node-${first + i}`);
process.on('message', async (message) => {
  if (message.type === 'poll') {
    const answers = await Promise.all(nodes.map((node) => longPoll(node, message.after)));
    process.send({
      type: 'answered',
      times: answers.map((a) => a.at),
      statuses: answers.map((a) => a.status),
      revisions: answers.map((a) => a.revision),
    });
  } else if (message.type === 'follow') {
    const seen = await Promise.all(nodes.map((node) => follow(node, message.after, message.until)));
    process.send({ type: 'followed', seen });
  } else if (message.type === 'stop') {
    if (agent) agent.destroy();
    process.exit(0);
  }
});
// As an agent starts: one request for the current config (answered at once), then the long-polls.
const initial = await Promise.all(nodes.map((node) => longPoll(node, null)));
if (!initial.every((answer) => answer.status === 200))
  throw new Error(`client ${first}..${first + count - 1}: a first config request was not answered 200`);
process.send({ type: 'ready' });
