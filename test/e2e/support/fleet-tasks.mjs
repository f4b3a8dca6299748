// Tasks of the fleet end-to-end tests on a Redis broker (support/fleet-task-app.mjs): completion is
// recorded on the broker's Redis.
import { fleetTaskApp } from './fleet-task-app.mjs';

export const app = fleetTaskApp('fleet', 'broker_url');
