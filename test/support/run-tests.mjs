// Runs the whole vitest suite with a JSON report and ends with the plain line "N passed, N failed".
// A run that passes its deadline is cut off: the files still running are named and count as failed.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const report = '.vitest-report.json';
const progress = '.vitest-progress.json';
const deadlineMin = Number(process.env.CELERIAC_TEST_DEADLINE_MIN ?? 45);
rmSync(report, { force: true });
rmSync(progress, { force: true });

const vitest = spawn(
  'npx',
  [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    '--reporter=./test/support/progress-reporter.ts',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', detached: true },
);
let cutOff = false;
const deadline = setTimeout(() => {
  cutOff = true;
  process.kill(-vitest.pid, 'SIGKILL');
}, deadlineMin * 60_000);
const status = await new Promise((resolve) => vitest.on('exit', (code) => resolve(code)));
clearTimeout(deadline);

let passed = 0;
let failed = 0;
const state = existsSync(progress)
  ? JSON.parse(readFileSync(progress, 'utf8'))
  : { passed: 0, failed: 0, running: [], unhandled: [], reason: null };
if (cutOff) {
  console.log(`\nThe test run was cut off after ${deadlineMin} min. Files still running:`);
  for (const { file, startedAt, test } of state.running) {
    console.log(`  ${file} (for ${Math.round((Date.now() - startedAt) / 60_000)} min, at: ${test})`);
  }
  passed = state.passed;
  failed = state.failed + Math.max(1, state.running.length);
} else if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests ?? 0;
  // A file that fails to load has no failed assertions of its own: count it as one failure.
  const brokenFiles = (json.testResults ?? []).filter(
    (file) => file.status === 'failed' && !file.assertionResults.some((a) => a.status === 'failed'),
  ).length;
  failed = (json.numFailedTests ?? 0) + brokenFiles;
  // The failures again at the end, where a log cut to its tail still shows them.
  const failures = (json.testResults ?? []).flatMap((file) =>
    file.status !== 'failed'
      ? []
      : file.assertionResults.some((a) => a.status === 'failed')
        ? file.assertionResults
            .filter((a) => a.status === 'failed')
            .map((a) => `${relative(file.name)} > ${a.fullName}: ${firstLine(a.failureMessages?.[0])}`)
        : [`${relative(file.name)}: ${firstLine(file.message) || 'the file failed to run'}`],
  );
  if (failures.length > 0) console.log(`\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}`);
}
// vitest fails a run for errors outside any test (an unhandled rejection, say) with every test
// passed: name them, and count them, so the summary line does not read "0 failed".
const unhandled = state.unhandled ?? [];
if (!cutOff && status !== 0 && failed === 0) {
  console.log(`\nvitest exited with status ${status} and no test failed: errors outside any test fail the run.`);
  failed = Math.max(1, unhandled.length);
}
if (unhandled.length > 0) console.log(`\nErrors outside any test:\n${unhandled.map((e) => `  ${e}`).join('\n')}`);
rmSync(progress, { force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 && passed > 0 ? 0 : 1);

function relative(file) {
  return path.relative(process.cwd(), file);
}

function firstLine(text) {
  return (
    String(text ?? '')
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim()
      .slice(0, 300) ?? ''
  );
}
