import { execFile } from 'node:child_process';
import path from 'node:path';
import { PYTASKS_DIR, PYTHON, pytasksEnv } from './celery-worker.js';

/** One operation for `test/interop/py/client.py` (see its doc string). */
export type PythonClientOp =
  | {
      op: 'send';
      ref?: string;
      name: string;
      args?: unknown[];
      kwargs?: Record<string, unknown>;
      options?: PyOptions;
      wait?: number;
      propagate?: boolean;
    }
  | { op: 'chain'; ref?: string; steps: PySignature[]; options?: PyOptions; wait?: number; propagate?: boolean }
  | { op: 'get'; ref?: string; id: string; wait?: number; propagate?: boolean }
  | {
      op: 'send_many';
      ref?: string;
      name: string;
      count: number;
      args?: unknown[];
      kwargs?: Record<string, unknown>;
      options?: PyOptions;
    };

export interface PySignature {
  name: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: Record<string, unknown>;
}

/** apply_async options, plus `eta_in` / `expires_in` (seconds from now) and `link` as a signature spec. */
export type PyOptions = Record<string, unknown> & { link?: PySignature; link_error?: PySignature };

/** What client.py prints for one operation. */
export interface PythonClientLine {
  ref: string | null;
  op: string;
  id?: string;
  ids?: string[];
  sent_at?: number;
  sent_ms?: number;
  state?: string;
  ok?: boolean;
  result?: unknown;
  exc_type?: string;
  exc_module?: string;
  exc_args?: unknown[];
  exc_repr?: string;
  traceback?: string | null;
}

/** Runs the Python Celery client with `ops` against `config` and returns its JSON lines, one per op. */
export function runPythonClient(
  ops: PythonClientOp[],
  config: Record<string, unknown>,
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<PythonClientLine[]> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [path.join(PYTASKS_DIR, 'client.py'), JSON.stringify(ops)],
      {
        cwd: PYTASKS_DIR,
        env: { ...process.env, ...pytasksEnv(config, options.env) },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`python client failed (${err.message}); stderr:\n${stderr}\nstdout:\n${stdout}`));
          return;
        }
        try {
          const lines = stdout
            .split('\n')
            .filter((line) => line.trim() !== '')
            .map((line) => JSON.parse(line) as PythonClientLine);
          resolve(lines);
        } catch (parseErr) {
          reject(new Error(`python client printed something that is not JSON lines: ${String(parseErr)}\n${stdout}`));
        }
      },
    );
  });
}

/** Runs the Python Celery client as runPythonClient does; its lines by the `ref` of their op. */
export async function runPythonClientByRef(
  ops: PythonClientOp[],
  config: Record<string, unknown>,
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<Map<string | null, PythonClientLine>> {
  const lines = await runPythonClient(ops, config, options);
  return new Map(lines.map((line): [string | null, PythonClientLine] => [line.ref, line]));
}
