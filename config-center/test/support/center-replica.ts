// A center replica on a Redis store in its own process, for the replica tests: the test kills it
// with SIGKILL mid-rollout (it never gives its rollout lease up). Runs the package's sources
// through tsx; its dependencies come from their builds. Argument: the Redis URL.
import { createLogger } from '@celeriac/logger';
import { RedisStore, startCenter } from '../../src/index.js';

const [url] = process.argv.slice(2);
const logger = createLogger({ level: 'info', pretty: false });
const center = await startCenter({
  listen: '127.0.0.1:0',
  store: new RedisStore({ url: url as string, logger }),
  adminToken: process.env.CELERIAC_ADMIN_TOKEN as string,
  logger,
  rolloutTickMs: Number(process.env.ROLLOUT_TICK_MS ?? 1000),
  rolloutLeaseMs: Number(process.env.ROLLOUT_LEASE_MS ?? 10_000),
});
process.stdout.write(`LISTENING ${center.url}\n`);
process.on('SIGTERM', () => {
  center.close().then(() => process.exit(0));
});
