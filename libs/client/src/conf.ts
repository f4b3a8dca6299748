import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { normalizeCelerySettings } from '@celeriac/config-schema/normalize';
import {
  formatSettingNotice,
  reportCelerySettings,
  type SettingIssue,
  type SettingNotice,
  type SettingsReport,
} from '@celeriac/config-schema/settings-report';
import { CELERY_DEFAULTS } from './defaults.js';
import { ConfigError } from './errors.js';

/**
 * The app's settings: Celery's lowercase names over Celery's defaults. Old upper-case names of a
 * celeryconfig.py (`BROKER_URL`, `CELERY_ROUTES`, ...) are normalised on the way in.
 */
export class CeleriacConf {
  private values: Record<string, unknown>;
  private readonly onChange: () => void;
  private checked: SettingsReport | undefined;
  /** Notices and issues already reported (by the client's first send or the worker's start). */
  private readonly reported = new Set<string>();

  constructor(initial: Record<string, unknown> = {}, onChange: () => void = () => {}) {
    this.values = { ...CELERY_DEFAULTS };
    this.onChange = onChange;
    this.update(initial);
  }

  /** The effective, normalised settings (defaults included). */
  get settings(): Readonly<Record<string, unknown>> {
    return this.values;
  }

  /** One setting by its Celery name; an old upper-case name is accepted too. */
  get<T = unknown>(name: string): T {
    if (Object.hasOwn(this.values, name)) return this.values[name] as T;
    const normalised = Object.keys(normalizeCelerySettings({ [name]: null }));
    const key = normalised[0];
    return (key === undefined ? undefined : this.values[key]) as T;
  }

  /** Sets settings, key by key (as Celery's `conf.update`); `undefined` values are ignored. */
  update(settings: Record<string, unknown>): this {
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
      throw new ConfigError(`settings must be an object of Celery setting names, got ${describe(settings)}`);
    }
    const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
    const normalised = normalizeCelerySettings(defined);
    const values = { ...this.values, ...normalised };
    const report = reportCelerySettings(values);
    if (report.strict && (report.issues.length > 0 || report.notices.length > 0)) {
      throw new ConfigError(
        `settings refused (celeriac_strict_settings is on):\n${strictLines(report)
          .map((l) => `- ${l}`)
          .join('\n')}`,
      );
    }
    this.values = values;
    this.checked = report;
    this.onChange();
    return this;
  }

  /**
   * What the settings hold that is not acted on or cannot be used: bad values (`issues`, checked as
   * the config center checks them), unsupported and unknown names (`notices`), and whether
   * `celeriac_strict_settings` is on. See docs/settings.md.
   */
  report(): SettingsReport {
    this.checked ??= reportCelerySettings(this.values);
    return this.checked;
  }

  /**
   * The issues and notices not handed out before, marked as reported: whoever reports them first
   * (the client's first send, or the worker at start) logs each once, so one program warns once per name.
   */
  takeUnreported(): { issues: SettingIssue[]; notices: SettingNotice[] } {
    const { issues, notices } = this.report();
    const fresh = <T>(items: T[], key: (item: T) => string): T[] =>
      items.filter((item) => {
        const k = key(item);
        if (this.reported.has(k)) return false;
        this.reported.add(k);
        return true;
      });
    return {
      issues: fresh(issues, (i) => `issue:${i.path}:${i.message}`),
      notices: fresh(notices, (n) => `notice:${n.setting}:${n.reason}`),
    };
  }

  /**
   * Loads settings from a file: JSON (`.json`), or a JS/TS module whose default export (or whose
   * named exports) are the settings. Relative paths resolve against the current directory.
   */
  async loadFile(file: string): Promise<this> {
    const absolute = path.resolve(file);
    const ext = path.extname(absolute).toLowerCase();
    let loaded: unknown;
    if (ext === '.json') {
      let text: string;
      try {
        text = await readFile(absolute, 'utf8');
      } catch (error) {
        throw new ConfigError(`cannot read config file ${absolute}: ${(error as Error).message}`, { cause: error });
      }
      try {
        loaded = JSON.parse(text);
      } catch (error) {
        throw new ConfigError(`config file ${absolute} is not valid JSON: ${(error as Error).message}`, {
          cause: error,
        });
      }
    } else {
      loaded = await importSettingsModule(absolute);
    }
    if (loaded === null || typeof loaded !== 'object' || Array.isArray(loaded)) {
      throw new ConfigError(`config file ${absolute} must hold an object of Celery settings, got ${describe(loaded)}`);
    }
    return this.update(loaded as Record<string, unknown>);
  }
}

/** One line per refused setting, as strict mode names them. */
function strictLines(report: SettingsReport): string[] {
  return [...report.issues.map((i) => `${i.path}: ${i.message}`), ...report.notices.map(formatSettingNotice)];
}

async function importSettingsModule(absolute: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const hint =
      code === 'ERR_UNKNOWN_FILE_EXTENSION'
        ? '; run TypeScript config files under tsx (node --import tsx) or use a .json/.mjs file'
        : '';
    throw new ConfigError(`cannot load config module ${absolute}: ${(error as Error).message}${hint}`, {
      cause: error,
    });
  }
  if (mod.default !== undefined) return mod.default;
  return Object.fromEntries(Object.entries(mod).filter(([k]) => k !== 'default'));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
