import { type BrokerTransport, brokerTransportOf } from './broker-transport.js';
import { isCeleriacSetting } from './celeriac-settings.js';
import { CELERY_SETTING_CHECKS } from './celery-settings-schema.js';
import { canonicalJson } from './content-hash.js';
import { closestName } from './edit-distance.js';
import { formatPath } from './format-path.js';
import { isPlainObject } from './merge-layers.js';
import { normalizeCelerySettingsWithWarnings } from './normalize-celery-settings.js';
import { KNOWN_SETTING_NAMES, settingStatus } from './setting-status.js';

/** One problem: where and what (validate.ts's SettingIssue). */
export interface SettingIssue {
  path: string;
  message: string;
}

/**
 * One setting a client or worker does not act on: `unsupported` (known, not implemented; see
 * SETTING_STATUS) or `unknown` (neither Celery nor Celeriac knows the name, usually a typo: `hint`
 * names the closest known setting).
 */
export interface SettingNotice {
  setting: string;
  kind: 'unsupported' | 'unknown';
  reason: string;
  hint?: string;
}

/** What a client or worker finds in its settings. */
export interface SettingsReport {
  /** Values a known setting cannot take, with the path and what to do. */
  issues: SettingIssue[];
  /** One notice per setting given that is not acted on (sorted by name). */
  notices: SettingNotice[];
  /** `celeriac_strict_settings`: notices are refused instead of warned about. */
  strict: boolean;
}

function harmless(value: unknown, values: readonly unknown[] | undefined): boolean {
  if (!values || values.length === 0) return false;
  const text = canonicalJson(value);
  return values.some((v) => canonicalJson(v) === text);
}

/**
 * The notice for one given setting, or undefined when it is honoured, meaningless or harmless;
 * `transport` is the broker's (`brokerTransportOf`): a setting honoured on Redis only is
 * reported with a RabbitMQ broker.
 */
export function settingNotice(
  name: string,
  value: unknown,
  transport: BrokerTransport = 'redis',
): SettingNotice | undefined {
  const entry = settingStatus(name);
  if (entry !== undefined) {
    const rabbit = entry.onRabbitMq;
    if (transport === 'amqp' && rabbit !== undefined && !harmless(value, rabbit.harmless)) {
      return { setting: name, kind: 'unsupported', reason: `with a RabbitMQ broker it is ${rabbit.instead}` };
    }
    if (entry.status !== 'unsupported' || harmless(value, entry.harmless)) return undefined;
    return { setting: name, kind: 'unsupported', reason: entry.reason };
  }
  const hint = closestName(name, KNOWN_SETTING_NAMES);
  const what = isCeleriacSetting(name) ? 'not a Celeriac setting' : 'not a Celery setting';
  const notice: SettingNotice = {
    setting: name,
    kind: 'unknown',
    reason: `${what}; nothing reads it${hint ? ` (did you mean ${hint}?)` : ''}`,
  };
  if (hint) notice.hint = hint;
  return notice;
}

/**
 * Checks Celery settings as a client or worker gets them (old upper-case names are renamed first):
 * every value of a known setting against the same checks the config center runs (null and
 * undefined mean "not set" and are skipped), and every name against SETTING_STATUS. Pure.
 */
export function reportCelerySettings(input: Record<string, unknown>): SettingsReport {
  if (!isPlainObject(input)) {
    return {
      issues: [{ path: '', message: 'settings must be an object of Celery setting names' }],
      notices: [],
      strict: false,
    };
  }
  const { settings } = normalizeCelerySettingsWithWarnings(input);
  const issues: SettingIssue[] = [];
  const notices: SettingNotice[] = [];
  const transport = brokerTransportOf(settings);
  for (const name of Object.keys(settings).sort()) {
    const value = settings[name];
    if (value === undefined || value === null) continue;
    CELERY_SETTING_CHECKS[name]?.(
      value,
      (path, message) => issues.push({ path: formatPath([name, ...path]), message }),
      false,
    );
    const notice = settingNotice(name, value, transport);
    if (notice) notices.push(notice);
  }
  return { issues, notices, strict: settings.celeriac_strict_settings === true };
}

/** One line per notice: `task_always_eager is not supported: <reason>` / `celery_foo is not a Celery setting...`. */
export function formatSettingNotice(notice: SettingNotice): string {
  return notice.kind === 'unsupported'
    ? `${notice.setting} is not supported: ${notice.reason}`
    : `${notice.setting} is ${notice.reason}`;
}
