import { createServer, type Server } from 'node:http';
import { layerResponseSchema } from '@celeriac/config-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterClient, CenterRequestError } from '../src/ops/center-client.js';
import { CliError, CliUsageError, EXIT } from '../src/ops/cli-errors.js';
import { parseArgs } from '../src/ops/parse-args.js';
import { reportError } from '../src/ops/report-error.js';

/** A stand-in HTTP server answering every request with `status` and `body`. */
let server: Server;
let answer: { status: number; body: unknown } = { status: 200, body: {} };
let base: string;

beforeAll(async () => {
  server = createServer((_request, response) => {
    response.writeHead(answer.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function reported(error: unknown): { code: number; text: string } {
  let text = '';
  const code = reportError('celeriac config', error, {
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
  } as NodeJS.WritableStream);
  return { code, text };
}

describe('CLI error codes', () => {
  it('gives every error a CLI_ code listed on its class', () => {
    expect(CliError.codes.every((code) => code.startsWith('CLI_'))).toBe(true);
    expect(CliUsageError.codes).toEqual(['CLI_USAGE']);
    expect(CenterRequestError.codes).toEqual(['CLI_CENTER_REFUSED']);
    for (const codes of [CliUsageError.codes, CenterRequestError.codes]) {
      for (const code of codes) expect(CliError.codes).toContain(code);
    }
  });

  it('makes a bad flag a usage error (exit 2, CLI_USAGE), never an HTTP code', () => {
    const error = (() => {
      try {
        parseArgs(['--bogus'], []);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(CliUsageError);
    expect(error).toMatchObject({ code: 'CLI_USAGE', exitCode: EXIT.usage });
    expect(reported(error)).toEqual({ code: 2, text: 'celeriac config: unknown option --bogus\n' });
  });

  it("prints the center's own code for a refused request, and CLI_ codes for the rest", async () => {
    answer = {
      status: 400,
      body: { error: { code: 'CENTER_VALIDATION_FAILED', message: 'defaults was not changed', issues: [] } },
    };
    const refused = await new CenterClient({ url: base }).request('GET', '/v1/layers/defaults').catch((e) => e);
    expect(refused).toBeInstanceOf(CenterRequestError);
    expect(refused).toMatchObject({ code: 'CLI_CENTER_REFUSED', centerCode: 'CENTER_VALIDATION_FAILED', status: 400 });
    expect(reported(refused)).toEqual({
      code: EXIT.validation,
      text: 'celeriac config: defaults was not changed [CENTER_VALIDATION_FAILED]\n',
    });

    answer = { status: 502, body: 'not json from a proxy' };
    const proxy = await new CenterClient({ url: base }).request('GET', '/v1/nodes').catch((e) => e);
    expect(proxy).toMatchObject({ code: 'CLI_CENTER_REFUSED', centerCode: undefined, status: 502 });
    expect(reported(proxy).text).toBe('celeriac config: GET /v1/nodes failed with HTTP 502 [CLI_CENTER_REFUSED]\n');
  });

  it('refuses an answer that does not match its schema in config-schema (CLI_BAD_ANSWER)', async () => {
    answer = { status: 200, body: { layer: 'defaults', revision: 'three', document: {} } };
    const client = new CenterClient({ url: base });
    const bad = await client.request('GET', '/v1/layers/defaults', { schema: layerResponseSchema }).catch((e) => e);
    expect(bad).toMatchObject({ code: 'CLI_BAD_ANSWER', exitCode: EXIT.other });
    expect(bad.message).toContain('revision:');
    answer = { status: 200, body: { layer: 'defaults', revision: 3, document: { a: 1 }, added_later: true } };
    const good = await client.request('GET', '/v1/layers/defaults', { schema: layerResponseSchema });
    expect(good.body).toEqual({ layer: 'defaults', revision: 3, document: { a: 1 } });
  });
});
