// 1,000 long-polling clients in one process (one keep-alive socket each), driven over IPC:
// { type: 'poll', after } opens every long-poll; when all have answered it reports their arrival
// times (epoch ms, sub-ms precision) with { type: 'answered', times, statuses }.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [url, token, countText, waitText] = process.argv.slice(2);
const count = Number(countText);
const waitSec = Number(waitText);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
const now = () => performance.timeOrigin + performance.now();

function longPoll(node, after) {
  return new Promise((resolve, reject) => {
    const request = http.get(
      `${url}/v1/nodes/${node}/config?after=${after}&wait=${waitSec}`,
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
    request.on('error', reject);
  });
}

process.on('message', async (message) => {
  if (message.type === 'poll') {
    const answers = await Promise.all(Array.from({ length: count }, (_, i) => longPoll(`node-${i}`, message.after)));
    process.send({
      type: 'answered',
      times: answers.map((a) => a.at),
      statuses: answers.map((a) => a.status),
      revisions: answers.map((a) => a.revision),
    });
  } else if (message.type === 'stop') {
    agent.destroy();
    process.exit(0);
  }
});
process.send({ type: 'ready' });
