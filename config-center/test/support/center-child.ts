// A center with the file store in its own process, for crash tests: the test kills it with SIGKILL.
// Runs the package's sources through tsx; its dependencies come from their builds.
import { createLogger } from '@celeriac/logger';
import { startCenter } from '../../src/index.js';

const [dataDir] = process.argv.slice(2);
const logger = createLogger({ level: 'warn', pretty: false });
const center = await startCenter({
  dataDir: dataDir as string,
  listen: '127.0.0.1:0',
  store: 'file',
  adminToken: process.env.CELERIAC_ADMIN_TOKEN as string,
  logger,
});
process.stdout.write(`LISTENING ${center.url}\n`);
process.on('SIGTERM', () => {
  center.close().then(() => process.exit(0));
});
