import { z } from 'zod';
import { SUPPORTED_SERIALIZERS } from './celery-settings-schema.js';
import { PROGRAM_KINDS } from './program-schema.js';

/*
 * Plain zod shapes of the documents, used only to publish JSON Schemas (OpenAPI). The checking
 * schemas (layerSchema, effectiveConfigSchema, ...) run hand-written checks for precise messages,
 * which JSON Schema cannot express; these describe the same fields for API consumers.
 */

const duration = z.union([z.string(), z.number()]).describe('A duration: seconds, or "500ms", "30s", "2m", "1h"');
const rateLimit = z.union([z.string(), z.number()]).describe('A number per second, or "<n>/s", "<n>/m", "<n>/h"');
const serializer = z.enum(SUPPORTED_SERIALIZERS);
const route = z.union([
  z.string().describe('queue name'),
  z.looseObject({
    queue: z.string().optional(),
    routing_key: z.string().optional(),
    exchange: z.string().optional(),
    priority: z.number().int().optional(),
  }),
]);
const routeMap = z.record(z.string(), route);
const annotationMap = z.record(
  z.string(),
  z.looseObject({
    rate_limit: rateLimit.optional(),
    time_limit: z.number().optional(),
    soft_time_limit: z.number().optional(),
    acks_late: z.boolean().optional(),
  }),
);

export const celerySettingsDoc = z
  .looseObject({
    broker_url: z
      .string()
      .optional()
      .describe('a Redis URL: redis://, rediss://, redis+socket://, unix://, or sentinel://h1:p;sentinel://h2:p'),
    result_backend: z
      .string()
      .optional()
      .describe('a Redis URL: redis://, rediss://, redis+socket://, unix://, or sentinel://h1:p;sentinel://h2:p'),
    task_serializer: serializer.optional(),
    result_serializer: serializer.optional(),
    accept_content: z.array(z.string()).optional(),
    task_routes: z.union([routeMap, z.array(z.union([routeMap, z.tuple([z.string(), route])]))]).optional(),
    task_annotations: z.union([annotationMap, z.array(annotationMap)]).optional(),
    task_default_queue: z.string().optional(),
    task_default_rate_limit: rateLimit.optional(),
    task_acks_late: z.boolean().optional(),
    task_ignore_result: z.boolean().optional(),
    task_track_started: z.boolean().optional(),
    task_time_limit: z.number().optional(),
    task_soft_time_limit: z.number().optional(),
    worker_concurrency: z.number().int().min(1).max(1024).optional(),
    worker_prefetch_multiplier: z.number().int().min(0).optional(),
    result_expires: z.number().optional(),
    broker_transport_options: z.record(z.string(), z.unknown()).optional(),
    timezone: z.string().optional(),
    enable_utc: z.boolean().optional(),
  })
  .describe('Celery settings with lowercase names; old upper-case names are accepted and normalised');

export const programDoc = z
  .strictObject({
    kind: z.enum(PROGRAM_KINDS),
    app: z.string().optional(),
    queues: z.array(z.string()).min(1).optional(),
    replicas: z.number().int().min(0).max(64).default(1),
    concurrency: z.number().int().min(1).max(1024).optional(),
    env: z.record(z.string(), z.string()).optional(),
    stop_timeout: duration.default('30s'),
    ready_timeout: duration.default('30s'),
    command: z.array(z.string()).min(1).optional(),
    config_template: z.string().optional(),
    config_file: z.string().optional(),
    loglevel: z.string().optional(),
  })
  .describe('A program the agent runs');

export const layerDoc = z
  .strictObject({
    groups: z.array(z.string()).optional().describe('node layers only'),
    celery: celerySettingsDoc.optional(),
    programs: z.record(z.string(), programDoc.partial().nullable()).optional(),
    labels: z.record(z.string(), z.string().nullable()).optional().describe('node layers only: e.g. {"zone": "eu"}'),
  })
  .describe('One layer: defaults, groups/<group> or nodes/<node>; null deletes a key when layers merge');

export const effectiveConfigDoc = z
  .strictObject({
    groups: z.array(z.string()).optional(),
    celery: celerySettingsDoc,
    programs: z.record(z.string(), programDoc),
  })
  .describe('The merged config of a node');
