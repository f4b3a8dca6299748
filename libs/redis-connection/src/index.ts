export { ioredisTargetOptions, nodeTlsOptions } from './ioredis-options.js';
export { closeRedisConnection, createRedisConnection } from './redis-connection.js';
export { tlsProblem } from './tls-problem.js';
export * from './url.js';
