import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/index.js';
import { tempDir } from '../helpers/env.js';

// evaluated in the page, where the DOM exists (the test project compiles without the DOM library)
declare function getComputedStyle(e: unknown): { backgroundColor: string; stroke: string };

// A real headless Chromium (Debian's package), driven by playwright-core, looking at the HTML report as a person would.
const CHROMIUM = process.env.COT_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(
    `[cot tests] ${CHROMIUM} is absent: the HTML report browser test is skipped (.ci/run installs chromium)`,
  );

describe.skipIf(!HAVE_CHROMIUM)('the HTML report in Chromium', () => {
  let browser: Browser;
  let d: string;
  beforeAll(async () => {
    d = await tempDir();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('a verified chain: green header, one node per link, details on click, no network', async () => {
    const demo = await runDemo({ out: join(d, 'ok'), now: new Date('2026-11-25T12:00:00Z') });
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(demo.reportHtml).href);
    await expect(page.locator('header h1').textContent()).resolves.toMatch(/VERIFIED/);
    expect(await page.locator('header h1').textContent()).not.toMatch(/NOT VERIFIED/);
    expect(await page.locator('g.node').count()).toBe(6);
    expect(await page.locator('g.node.fail').count()).toBe(0);
    const bg = await page.locator('header').evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(bg).toBe('rgb(31, 122, 58)');
    await page.locator(`g.node[data-task="${demo.tasks.signing}"]`).click();
    await expect(page.locator('#panel').textContent()).resolves.toMatch(/certified by .*demo releng root/);
    expect(await page.locator(`g.node[data-task="${demo.tasks.signing}"]`).getAttribute('class')).toContain(
      'selected',
    );
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    await page.screenshot({ path: join(d, 'ok.png'), fullPage: true });
    await page.close();
  });

  it('a failed chain: red header, the failing link in red with its error code', async () => {
    const demo = await runDemo({ out: join(d, 'bad'), tamper: true, now: new Date('2026-11-25T12:00:00Z') });
    const page = await browser.newPage();
    await page.goto(pathToFileURL(demo.reportHtml).href);
    expect(await page.locator('header h1').textContent()).toMatch(/NOT VERIFIED/);
    expect(await page.locator('header').evaluate((e) => getComputedStyle(e).backgroundColor)).toBe(
      'rgb(179, 38, 30)',
    );
    const failing = page.locator('g.node.fail');
    expect(await failing.count()).toBe(1);
    expect(await failing.getAttribute('data-task')).toBe(demo.tasks.signing);
    expect(await failing.locator('rect').evaluate((e) => getComputedStyle(e).stroke)).toBe(
      'rgb(179, 38, 30)',
    );
    await failing.click();
    await expect(page.locator('#panel').textContent()).resolves.toMatch(/HASH_MISMATCH/);
    await page.screenshot({ path: join(d, 'bad.png'), fullPage: true });
    await page.close();
  });
});
