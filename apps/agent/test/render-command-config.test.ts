import { describe, expect, it } from 'vitest';
import { ConfigRenderError } from '../src/errors.js';
import { renderArgv, renderTemplate } from '../src/render-command-config.js';

describe('renderTemplate', () => {
  const context = {
    node: 'web-1',
    celery: { broker_url: 'redis://h:6379/0', worker_concurrency: 4, task_routes: { 'tasks.add': { queue: 'q' } } },
    program: { name: 'nginx', replicas: 2 },
  };

  it('substitutes dotted paths; numbers as text, objects as JSON, spaces inside braces allowed', () => {
    const out = renderTemplate(
      'server {{node}};\nbroker {{ celery.broker_url }};\nworkers {{celery.worker_concurrency}};\nroutes {{celery.task_routes}};\n',
      context,
    );
    expect(out).toBe('server web-1;\nbroker redis://h:6379/0;\nworkers 4;\nroutes {"tasks.add":{"queue":"q"}};\n');
  });

  it('refuses a template naming settings that do not exist, listing each', () => {
    expect(() => renderTemplate('{{celery.nope}} {{program.name}} {{x.y}}', context)).toThrow(ConfigRenderError);
    expect(() => renderTemplate('{{celery.nope}} {{x.y}}', context)).toThrow(/celery\.nope, x\.y/);
  });

  it('renders argv element by element', () => {
    expect(renderArgv(['run', '--name={{program.name}}', '{{program.replicas}}'], context)).toEqual([
      'run',
      '--name=nginx',
      '2',
    ]);
  });
});
