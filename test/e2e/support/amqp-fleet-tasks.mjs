// Tasks of the AMQP fleet end-to-end test (test/e2e/amqp-fleet.test.ts, support/fleet-task-app.mjs).
// The broker is RabbitMQ, so completion is recorded on the Redis of the result backend.
import { fleetTaskApp } from './fleet-task-app.mjs';

export const app = fleetTaskApp('amqp-fleet', 'result_backend');
