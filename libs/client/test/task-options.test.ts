import { describe, expect, it } from 'vitest';
import { Celeriac } from '../src/celeriac.js';

// Nothing here connects: registering tasks and resolving options is local.
function app(settings: Record<string, unknown> = {}): Celeriac {
  return new Celeriac('opts', { broker_url: 'redis://127.0.0.1:1/0', ...settings });
}

const EVERY_OPTION = {
  rate_limit: '10/m',
  acks_late: true,
  ignore_result: false,
  track_started: true,
  max_retries: null,
  default_retry_delay: 5,
  time_limit: 30,
  soft_time_limit: 20,
  serializer: 'msgpack',
  queue: 'q',
  priority: 3,
  params: ['a'],
  bind: true,
  autoretry_for: ['ValueError'],
  retry_backoff: 2,
  retry_backoff_max: 60,
  retry_jitter: false,
} as const;

describe('task options: honoured or refused, never dropped', () => {
  it('accepts every option the client or the worker honours', () => {
    const a = app();
    a.task('t.all', () => 1, { ...EVERY_OPTION, params: ['a'], autoretry_for: ['ValueError'] });
    expect(a.taskOptions('t.all')).toEqual(EVERY_OPTION);
  });

  it.each([
    { options: { retry_backof: true }, mentions: ['retry_backof', 'retry_backoff'] },
    { options: { expires: 60 }, mentions: ['expires', 'applyAsync'] },
    { options: { retry_backoff: 'yes' }, mentions: ['retry_backoff', 'true, false or a number'] },
    { options: { rate_limit: '10/x' }, mentions: ['rate_limit', '"10/x"'] },
    { options: { max_retries: -1 }, mentions: ['max_retries'] },
    { options: { serializer: 'pickle' }, mentions: ['serializer', '"json" or "msgpack"'] },
    { options: { params: 'a,b' }, mentions: ['params', 'list of strings'] },
    { options: { priority: 300 }, mentions: ['priority'] },
  ])('app.task() refuses $options with CLIENT_TASK_DEFINITION_INVALID', ({ options, mentions }) => {
    const register = () => app().task('t.bad', () => 1, options as Record<string, unknown>);
    expect(register).toThrow(expect.objectContaining({ code: 'CLIENT_TASK_DEFINITION_INVALID' }));
    const message = (() => {
      try {
        register();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toContain('t.bad');
    for (const text of mentions) expect(message).toContain(text);
  });

  it('refuses a bad name or function with CLIENT_TASK_DEFINITION_INVALID', () => {
    expect(() => app().task('', () => 1)).toThrow(expect.objectContaining({ code: 'CLIENT_TASK_DEFINITION_INVALID' }));
    expect(() => app().task('t.x', 3 as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'CLIENT_TASK_DEFINITION_INVALID' }),
    );
  });

  it('task_annotations with an option Celeriac does not honour are refused when the task is resolved', () => {
    const a = app({ task_annotations: { '*': { reject_on_worker_lost: true } } });
    a.task('t.a', () => 1);
    expect(() => a.taskOptions('t.a')).toThrow(
      expect.objectContaining({
        code: 'CLIENT_CONFIG_INVALID',
        message: expect.stringMatching(/task_annotations.*"\*".*reject_on_worker_lost/),
      }),
    );
  });

  it('task_annotations with a value of the wrong type are refused', () => {
    const a = app({ task_annotations: { 't.a': { acks_late: 'yes' } } });
    a.task('t.a', () => 1);
    expect(() => a.taskOptions('t.a')).toThrow(
      expect.objectContaining({ code: 'CLIENT_CONFIG_INVALID', message: expect.stringContaining('acks_late') }),
    );
  });

  it.each([
    { annotations: { 't.a': 3 }, mentions: 'task_annotations["t.a"] must be an object' },
    { annotations: ['proj.annotations:MyAnnotation'], mentions: 'task_annotations[0] must be a map' },
  ])('task_annotations that are not maps of options are refused: $annotations', ({ annotations, mentions }) => {
    const a = app({ task_annotations: annotations });
    a.task('t.a', () => 1);
    expect(() => a.taskOptions('t.a')).toThrow(
      expect.objectContaining({ code: 'CLIENT_CONFIG_INVALID', message: expect.stringContaining(mentions) }),
    );
  });
});
