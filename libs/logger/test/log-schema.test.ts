import { describe, expect, it } from 'vitest';
import { logSchemaViolations } from '../src/index.js';
import { capturingLogger } from './support.js';

describe('logSchemaViolations', () => {
  it('accepts a line with a dotted event and snake_case fields, errors in err', () => {
    const { logger, lines } = capturingLogger();
    logger.info(
      { event: 'agent.apply_failed', retry_in_ms: 5, program: { name: 'w', held_tasks: 1 }, err: new Error('x') },
      'm',
    );
    expect(logSchemaViolations(lines()[0] as Record<string, unknown>)).toEqual([]);
  });

  it.each([
    [{ msg: 'x' }, ['no "event" field']],
    [{ event: 'ready' }, ['event "ready" is not dotted lower snake_case']],
    [{ event: 'Agent.Ready' }, ['event "Agent.Ready" is not dotted lower snake_case']],
    [{ event: 'agent.x', retryInMs: 1 }, ['field "retryInMs" is not snake_case']],
    [{ event: 'broker.x', owner: { deliveryTag: 't' } }, ['field "owner.deliveryTag" is not snake_case']],
  ])('reports %j', (line, problems) => {
    expect(logSchemaViolations(line as Record<string, unknown>)).toEqual(problems);
  });
});
