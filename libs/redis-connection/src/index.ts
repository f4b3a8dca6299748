export { closeRedisConnection, createRedisConnection } from './redis-connection.js';
