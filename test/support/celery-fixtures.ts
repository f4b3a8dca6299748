import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Messages and results captured from a real Celery 5.2 on Redis (copied from the shared
 * `celery-fixtures/`, with its PROTOCOL.md), kept in the repository so a clone anywhere can test.
 */
export const CELERY_FIXTURES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/celery');
