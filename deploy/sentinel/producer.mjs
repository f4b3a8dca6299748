// Sends tasks.add every half second through the Sentinel example and prints each result: run it
// while you kill the master (see README.md). `node deploy/sentinel/producer.mjs [count]`.
import { readFileSync } from 'node:fs';
import { Celeriac } from 'celeriac';

const settings = JSON.parse(readFileSync(new URL('./celeriac-worker.json', import.meta.url), 'utf8'));
const app = new Celeriac('producer', settings);
const count = Number(process.argv[2] ?? 60);
for (let i = 0; i < count; i++) {
  const started = Date.now();
  try {
    const result = await app.sendTask('tasks.add', [i, i]);
    console.log(`${i} + ${i} = ${await result.get({ timeout: 30_000 })} (${Date.now() - started} ms)`);
  } catch (error) {
    console.log(`${i}: ${error.message}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}
await app.close();
