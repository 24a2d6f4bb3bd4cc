import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { TEST_OWNER } from './server.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(process.cwd(), 'test-output', 'dashboard');

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Builds the dashboard once: the server serves web/dist only if it exists when the app is built. */
export function ensureDashboardBuilt(): void {
  if (existsSync(join(process.cwd(), 'web', 'dist', 'index.html'))) return;
  execFileSync('npm', ['run', 'build:web'], { stdio: 'inherit' });
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Errors the page logged or threw (CSP violations included). */
  errors: string[];
  close(): Promise<void>;
}

/** A phone's screen in CSS pixels: drawn at twice that, touched, with a mobile viewport. */
export interface PhoneScreen {
  width: number;
  height: number;
}

/** A fresh Chromium profile (its own cookies), as issue 5 says to launch it; a desktop unless `phone`. */
export async function openBrowser(origin: string, phone?: PhoneScreen): Promise<Browser> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-dashboard-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: phone ?? { width: 1280, height: 800 },
    ...(phone && { deviceScaleFactor: 2, isMobile: true, hasTouch: true }),
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A browser test's `describe` options: skipped, saying why, where Chromium is not installed. */
export const NEEDS_CHROMIUM = {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
};

/** A fresh browser (see openBrowser) signed in as the test server's owner. */
export async function ownerBrowser(origin: string, phone?: PhoneScreen): Promise<Browser> {
  const browser = await openBrowser(origin, phone);
  await signInAsOwner(browser.page, origin);
  return browser;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Let toasts and chart animations settle.
  await page.waitForTimeout(400);
  // The viewport, as a user sees it (a full-page shot would paint the fixed header mid-page).
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** What the page's copy button put on the clipboard (evaluated in the page: no DOM types here). */
export async function readClipboard(page: Page): Promise<string> {
  return String(await page.evaluate('navigator.clipboard.readText()'));
}

/** Signs in on the dashboard at `origin` as the owner every test server is made with. */
export async function signInAsOwner(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByRole('textbox', { name: 'Email', exact: true }).fill(TEST_OWNER.email);
  await page.getByRole('textbox', { name: 'Password', exact: true }).fill(TEST_OWNER.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
}
