import { OLD_CELERY_SETTING_NAMES } from './celery-setting-names.js';
import { SETTING_STATUS, type SettingStatus } from './setting-status.js';

const BY: Record<string, string> = {
  routing: 'routing work',
  urls: 'URL/TLS/Sentinel work',
  canvas: 'canvas work',
  fleet: 'fleet-limits work',
};

const HEADER = `# Settings

Every Celery 5.2 setting and every Celeriac setting, with what Celeriac does with it. Generated from
\`libs/config-schema/src/setting-status.ts\` by \`npx tsx libs/config-schema/scripts/settings-doc.ts\`;
\`libs/config-schema/test/setting-status-doc.test.ts\` fails when this page and the table differ.

- **honoured**: the client and/or the worker act on it as Celery does.
- **meaningless**: accepted and ignored, because it means nothing here (the reason says why).
- **unsupported**: not acted on although it would change behaviour. The client (on its first send)
  and the worker (at start) log one warning per such setting, \`{ event: 'client.setting_not_honoured'
  | 'worker.setting_not_honoured', setting, reason }\`, unless its value is one that behaves as
  Celeriac does anyway (listed). With \`celeriac_strict_settings: true\` (or \`celeriac worker
  --strict-settings\`) they are refused instead: \`conf.update\` throws \`ConfigError\`, the worker
  does not start.
- A name neither Celery nor Celeriac knows is warned about (or refused in strict mode) the same way,
  with a "did you mean" hint when a known name is close.
- Values are checked wherever settings enter (\`new Celeriac(name, conf)\`, \`app.conf.update\`,
  \`celeriac worker --config\`, the config center) by the same checks; a worker refuses to start on a
  bad value (\`WORKER_BAD_SETTING\`), a client warns once (\`client.setting_invalid\`) and refuses in
  strict mode.

Old upper-case names (\`CELERY_ROUTES\`, \`BROKER_URL\`, ...) are renamed to the lowercase ones; each is
listed beside its setting.

`;

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** The text of docs/settings.md, from SETTING_STATUS. */
export function renderSettingsDoc(): string {
  const oldNames = new Map<string, string[]>();
  for (const [old, name] of Object.entries(OLD_CELERY_SETTING_NAMES)) {
    oldNames.set(name, [...(oldNames.get(name) ?? []), old]);
  }
  const counts: Record<SettingStatus, number> = { honoured: 0, meaningless: 0, unsupported: 0 };
  const rows: string[] = [];
  for (const name of Object.keys(SETTING_STATUS).sort()) {
    const entry = SETTING_STATUS[name];
    if (!entry) continue;
    counts[entry.status] += 1;
    const old = (oldNames.get(name) ?? []).sort().map((n) => `\`${n}\``);
    let reason = entry.reason;
    if (entry.by) reason += ` (implemented by the ${BY[entry.by]})`;
    const harmless = (entry.harmless ?? []).filter((v) => v !== null);
    if (entry.status === 'unsupported' && harmless.length > 0) {
      reason += `; no warning for ${harmless.map((v) => `\`${JSON.stringify(v)}\``).join(', ')}`;
    }
    rows.push(`| \`${name}\` | ${old.join(' ')} | ${entry.status} | ${cell(reason)} |`);
  }
  const summary = `${rows.length} settings: ${counts.honoured} honoured, ${counts.meaningless} meaningless, ${counts.unsupported} unsupported.\n\n`;
  return `${HEADER}${summary}| setting | old names | status | what Celeriac does |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`;
}
