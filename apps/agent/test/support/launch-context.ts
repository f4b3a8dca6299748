import type { LaunchContext } from '../../src/index.js';

/** A launch context for rendering program configs in tests: paths only, nothing is started. */
export const TEST_LAUNCH_CONTEXT: LaunchContext = {
  node: 'a',
  host: 'host',
  stateDir: '/tmp/celeriac-agent-state',
  workDir: '/srv/app',
  celeriacBin: '/srv/celeriac/apps/cli/bin/celeriac.js',
  nodePath: process.execPath,
  pythonPath: '/usr/bin/python3',
};
