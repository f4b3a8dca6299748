import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page, type Request } from 'playwright-core';

/** The flags every console test runs Debian's chromium with: headless, no sandbox, no network chatter. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

/** Debian's chromium (`/usr/bin/chromium`) in a profile of its own, as the console tests drive it. */
export class ConsoleBrowser {
  private constructor(
    readonly context: BrowserContext,
    private readonly profileDir: string,
  ) {}

  /**
   * Launches headless chromium in a fresh temporary profile named after `profilePrefix`, with
   * `extraArgs` after the common flags.
   */
  static async launch(
    profilePrefix: string,
    viewport: { width: number; height: number },
    extraArgs: string[] = [],
  ): Promise<ConsoleBrowser> {
    const profileDir = mkdtempSync(path.join(tmpdir(), profilePrefix));
    try {
      const context = await chromium.launchPersistentContext(profileDir, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: [...CHROMIUM_ARGS, ...extraArgs],
        viewport,
      });
      return new ConsoleBrowser(context, profileDir);
    } catch (error) {
      rmSync(profileDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** A new page with a 20 s default timeout whose uncaught errors are pushed to `pageErrors`. */
  async newPage(pageErrors: string[]): Promise<Page> {
    const page = await this.context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  }

  /** A new page (see newPage) on the console at `centerUrl`, signed in with `token`. */
  async openSignedIn(centerUrl: string, token: string, pageErrors: string[]): Promise<Page> {
    const page = await this.newPage(pageErrors);
    await page.goto(`${centerUrl}/`);
    await signIn(page, token);
    return page;
  }

  /** Closes chromium and removes its profile. */
  async close(): Promise<void> {
    try {
      await this.context.close();
    } finally {
      rmSync(this.profileDir, { recursive: true, force: true });
    }
  }
}

/** Signs in on the console's sign-in form with `token` and waits for the session bar. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#session').waitFor({ state: 'visible' });
}

/** Every request `page` makes from now on, as `METHOD path?query`, in order. */
export function recordRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request: Request) => {
    const url = new URL(request.url());
    seen.push(`${request.method()} ${url.pathname}${url.search}`);
  });
  return seen;
}

/**
 * Records every value the `data-stream` attribute of the element `elementId` (a live view's status
 * line) takes from now on; returns a function that reads the values so far, in order.
 */
export async function watchStreamStates(page: Page, elementId: string): Promise<() => Promise<string[]>> {
  // The page's own script: tests have no DOM types.
  await page.evaluate(`(() => {
    const element = document.getElementById(${JSON.stringify(elementId)});
    window.streamStates = [];
    new MutationObserver(() => window.streamStates.push(element.dataset.stream)).observe(element, {
      attributes: true,
      attributeFilter: ['data-stream'],
    });
  })()`);
  return async () => (await page.evaluate('window.streamStates')) as string[];
}
