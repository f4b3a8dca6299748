// A center with the file store in its own process, for crash tests: the test kills it with SIGKILL.
// Uses the built package (npx tsc -b config-center), as a real deployment would.
import { createLogger } from '@celeriac/logger';
import { startCenter } from '../../dist/index.js';

const [dataDir] = process.argv.slice(2);
const logger = createLogger({ level: 'warn', pretty: false });
const center = await startCenter({
  dataDir,
  listen: '127.0.0.1:0',
  store: 'file',
  adminToken: process.env.CELERIAC_ADMIN_TOKEN,
  logger,
});
process.stdout.write(`LISTENING ${center.url}\n`);
process.on('SIGTERM', () => {
  center.close().then(() => process.exit(0));
});
