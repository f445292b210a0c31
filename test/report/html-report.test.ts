import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderChainHtml } from '../../src/index.js';
import { type DemoResult, runDemo } from '../../src/testing.js';
import { tempDir } from '../helpers/env.js';
import { decodePng } from '../helpers/png.js';

// evaluated in the page, where the DOM exists (the test project compiles without the DOM library)
declare function getComputedStyle(e: unknown): {
  backgroundColor: string;
  stroke: string;
  overflowX: string;
  display: string;
  visibility: string;
};
declare const document: {
  documentElement: { scrollWidth: number };
  querySelectorAll(s: string): ArrayLike<DomElement>;
  querySelector(s: string): DomElement | null;
};
declare const window: { innerWidth: number; scrollX: number; scrollY: number };
interface DomElement {
  getBoundingClientRect(): { left: number; right: number; top: number; bottom: number; width: number };
  getAttribute(n: string): string | null;
  parentElement: DomElement | null;
  tagName: string;
  id: string;
  className: unknown;
}

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

  let tampered: DemoResult | undefined;
  const tamperedDemo = async () => {
    tampered ??= await runDemo({ out: join(d, 'bad2'), tamper: true, now: new Date('2026-11-25T12:00:00Z') });
    return tampered;
  };

  it('a failed chain: the failures summarised at the top, the producer of the changed artifact marked too', async () => {
    const demo = await tamperedDemo();
    const page = await browser.newPage();
    await page.goto(pathToFileURL(demo.reportHtml).href);
    const items = page.locator('#failures li.failure');
    expect(await items.count()).toBe(demo.report.errors.length);
    expect(await page.locator('#failures h2').textContent()).toMatch(/^1 failure$/);
    const hash = page.locator('#failures li.failure[data-code="HASH_MISMATCH"]');
    expect(await hash.getAttribute('data-task')).toBe(demo.tasks.signing);
    expect(await hash.getAttribute('data-producer')).toBe(demo.tasks['build-linux64']);
    expect(await hash.textContent()).toMatch(/public\/build\/target\.tar\.gz/);
    // above the graph, in the first screen
    const failuresBox = (await page.locator('#failures').boundingBox())!;
    const graphBox = (await page.locator('#graph').boundingBox())!;
    expect(failuresBox.y).toBeLessThan(graphBox.y);
    expect(failuresBox.y).toBeLessThan(400);
    // the consumer fails; the producer, whose signed document still verifies, is outlined
    expect(await page.locator('g.node.fail').getAttribute('data-task')).toBe(demo.tasks.signing);
    const producer = page.locator('g.node.implicated');
    expect(await producer.count()).toBe(1);
    expect(await producer.getAttribute('data-task')).toBe(demo.tasks['build-linux64']);
    const mark = producer.locator('rect.mark');
    expect(await mark.evaluate((e) => getComputedStyle(e).stroke)).toBe('rgb(178, 106, 0)');
    expect((await mark.boundingBox())!.width).toBeGreaterThan(200);
    expect(await producer.getAttribute('aria-label')).toMatch(/produced an artifact that failed/);
    await producer.click();
    await expect(page.locator('#panel').textContent()).resolves.toMatch(
      /produced public\/build\/target\.tar\.gz, which failed a check of task .*HASH_MISMATCH/,
    );
    // the edge that carried the changed artifact is drawn as failed
    const edge = page.locator(
      `.edge.failed[data-from="${demo.tasks.signing}"][data-to="${demo.tasks['build-linux64']}"]`,
    );
    expect(await edge.count()).toBe(1);
    await page.close();
  });

  it('every arrowhead is painted, beside the box it points at', async () => {
    const demo = await runDemo({ out: join(d, 'arrows'), now: new Date('2026-11-25T12:00:00Z') });
    const page = await browser.newPage({ viewport: { width: 1700, height: 1100 }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(demo.reportHtml).href);
    const geometry = await page.evaluate(() => {
      const svg = document.querySelector('#graph svg')!;
      const box = svg.getBoundingClientRect();
      const marker = document.querySelector('marker#arrow path');
      return {
        left: box.left + window.scrollX,
        top: box.top + window.scrollY,
        fill: marker?.getAttribute('fill') ?? '',
        // a straight <line>, or a <path> whose last segment comes from data-towards to its tip, data-tip
        edges: Array.from(document.querySelectorAll('.edge')).map((l) =>
          l.tagName.toLowerCase() === 'line'
            ? ['x1', 'y1', 'x2', 'y2'].map((a) => Number(l.getAttribute(a)))
            : `${l.getAttribute('data-towards')},${l.getAttribute('data-tip')}`.split(',').map(Number),
        ),
      };
    });
    expect(geometry.edges.length).toBeGreaterThanOrEqual(7);
    const hex = geometry.fill.match(/^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i)!;
    const want = [1, 2, 3].map((i) => Number.parseInt(hex[i]!, 16));
    const shot = decodePng(await page.screenshot({ fullPage: true }));
    const missing: string[] = [];
    for (const [x1, y1, x2, y2] of geometry.edges as [number, number, number, number][]) {
      const len = Math.hypot(x2 - x1, y2 - y1);
      const [ux, uy] = [(x2 - x1) / len, (y2 - y1) / len];
      // inside the arrowhead (darker than the line it ends), 6 px back from its tip
      const px = geometry.left + x2 - ux * 6;
      const py = geometry.top + y2 - uy * 6;
      const got = shot.at(px, py).slice(0, 3);
      if (got.some((c, i) => Math.abs(c - want[i]!) > 40))
        missing.push(
          `edge ${[x1, y1, x2, y2].join(',')}: rgb(${got.join(', ')}) at ${px.toFixed(0)},${py.toFixed(0)}`,
        );
    }
    expect(missing).toEqual([]);
    await page.close();
  });

  it('usable at 900 px wide: the page never scrolls sideways, the graph scrolls in its own box', async () => {
    const demo = await tamperedDemo();
    const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
    await page.goto(pathToFileURL(demo.reportHtml).href);
    const layout = await page.evaluate(() => {
      const width = window.innerWidth;
      const scrolls = (e: DomElement) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
      const escaping: string[] = [];
      for (const e of Array.from(document.querySelectorAll('body *'))) {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.right <= width + 0.5) continue;
        let a = e.parentElement;
        while (a && !scrolls(a)) a = a.parentElement;
        if (!a || a.getBoundingClientRect().right > width + 0.5)
          escaping.push(`${e.tagName}#${e.id}.${String(e.className)}`);
      }
      const panel = document.querySelector('#panel')!.getBoundingClientRect();
      const graph = document.querySelector('#graph')!.getBoundingClientRect();
      const svg = document.querySelector('#graph svg')!.getBoundingClientRect();
      return {
        scrollWidth: document.documentElement.scrollWidth,
        width,
        escaping,
        panelWidth: panel.width,
        graphWidth: graph.width,
        svgWidth: svg.width,
      };
    });
    expect(layout.scrollWidth).toBeLessThanOrEqual(layout.width);
    expect(layout.escaping).toEqual([]);
    expect(layout.panelWidth).toBeGreaterThanOrEqual(300);
    // the demo's graph (three tasks wide) is seen whole, not through a slot beside the panel
    expect(layout.svgWidth).toBeLessThan(layout.width);
    expect(layout.graphWidth).toBeGreaterThanOrEqual(layout.svgWidth);
    await page.screenshot({ path: join(d, 'narrow.png'), fullPage: true });
    // a chain eight tasks wide: the graph scrolls inside its own box, the page still does not
    const wide = structuredClone(demo.report);
    const build = wide.links.find((l) => l.taskId === demo.tasks['build-linux64'])!;
    for (let i = 0; i < 6; i++) wide.links.push({ ...build, taskId: `${build.taskId.slice(0, 20)}w${i}` });
    await writeFile(join(d, 'wide.html'), renderChainHtml(wide));
    await page.goto(pathToFileURL(join(d, 'wide.html')).href);
    const scroll = await page.evaluate(() => {
      const graph = document.querySelector('#graph')! as DomElement & {
        scrollWidth: number;
        clientWidth: number;
      };
      return {
        page: document.documentElement.scrollWidth,
        width: window.innerWidth,
        graphScrolls: graph.scrollWidth > graph.clientWidth,
        overflowX: getComputedStyle(graph).overflowX,
      };
    });
    expect(scroll.page).toBeLessThanOrEqual(scroll.width);
    expect(scroll).toMatchObject({ graphScrolls: true, overflowX: 'auto' });
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
