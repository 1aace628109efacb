// Shared by widget.test.mjs and bench.mjs: a static server for the built site (plus test
// fixtures and a metrics sink), the Chromium launch, and helpers that talk to the widget.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');

// --site DIR (or QBENCH_SITE), default build-wasm/site; --out FILE for the bench.
export function cliArg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith('--' + name + '='));
  if (eq) return eq.slice(name.length + 3);
  return fallback;
}
export function siteDir() {
  return path.resolve(cliArg('site', process.env.QBENCH_SITE || path.join(REPO, 'build-wasm', 'site')));
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ttf': 'font/ttf', '.txt': 'text/plain; charset=utf-8',
};

// Fixtures served under /fixtures/: a truncated (malformed) catalog file.
export const FIXTURES = {
  '/fixtures/bad.json': '{"schema": "qbench.hardware", "version": 1, "hardware": [',
};

// Serves `dir` on 127.0.0.1 at a random port. POST /events records {url, body, headers}.
// isolate: send COOP/COEP so the page is cross-origin isolated (finer performance.now()).
export async function startServer(dir, { isolate = false } = {}) {
  if (!fs.existsSync(path.join(dir, 'index.html'))) throw new Error(`no index.html in ${dir}: build the site first`);
  const events = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const extra = isolate ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
    if (url.pathname === '/events') {
      if (req.method !== 'POST') { res.writeHead(405, extra); res.end(); return; }
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        events.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        res.writeHead(204, extra);
        res.end();
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, extra); res.end(); return; }
    if (FIXTURES[url.pathname] !== undefined) {
      res.writeHead(200, { 'Content-Type': TYPES['.json'], 'Cache-Control': 'no-store', ...extra });
      res.end(req.method === 'HEAD' ? undefined : FIXTURES[url.pathname]);
      return;
    }
    let rel;
    try { rel = decodeURIComponent(url.pathname); } catch { res.writeHead(400, extra); res.end(); return; }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.join(dir, path.normalize(rel));
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...extra });
      res.end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
      'Content-Length': body.length, 'Cache-Control': 'no-cache', ...extra,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve); });
  const base = `http://127.0.0.1:${server.address().port}/`;
  return { server, base, events, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) };
}

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const LAUNCH_ARGS = ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true });
}

// The viewport fits the whole docs-page widget (canvas 780 px tall starting ~200 px down).
export const VIEWPORT = { width: 1280, height: 1100 };

// Widget helpers, all on the first .qbench of the page.
export const W = {
  state: (page) => page.evaluate(() => document.querySelector('.qbench').qbench.getState()),
  perf: (page) => page.evaluate(() => document.querySelector('.qbench').qbench.perf()),
  // Waits until the widget has drawn at least n more frames (so layout/state reflect recent input).
  async frames(page, n = 2, timeout = 15000) {
    const f0 = (await W.perf(page)).frames;
    await page.waitForFunction((f) => document.querySelector('.qbench').qbench.perf().frames >= f, f0 + n, { timeout, polling: 20 });
  },
  async ready(page, timeout = 30000) {
    await page.waitForSelector('.qbench[data-ready="true"]', { state: 'attached', timeout });
    await page.waitForFunction(() => !!document.querySelector('.qbench').qbench.getState, null, { timeout });
    // data-ready comes with the first frame, whose tab bar still has zero-size tabs (ImGui sizes
    // tabs a frame late): wait for a laid-out frame before anyone clicks by layout.
    await page.waitForFunction(() => {
      const r = document.querySelector('.qbench').qbench.getState().layout.tab_Plots;
      return r && r[2] > 0 && r[3] > 0;
    }, null, { timeout, polling: 20 });
    await W.frames(page, 1);
  },
  // Polls getState() until pred(state) is truthy; returns that state.
  async until(page, pred, what, timeout = 10000) {
    const t0 = Date.now();
    let st;
    while (Date.now() - t0 < timeout) {
      st = await W.state(page);
      if (pred(st)) return st;
      await page.waitForTimeout(40);
    }
    const perf = await W.perf(page).catch(() => null);
    const focus = await page.evaluate(() => ({ hasFocus: document.hasFocus(), visibility: document.visibilityState, active: document.activeElement && document.activeElement.tagName, events: window.__qbEvents, now: performance.now() })).catch(() => null);
    throw new Error(`timed out after ${timeout} ms waiting for ${what}; perf ${JSON.stringify(perf)}, page ${JSON.stringify(focus)}; last state: tab ${st && st.tab}, ` +
      `layout [${st && Object.keys(st.layout).join(' ')}], selections ${JSON.stringify(st && st.metrics && st.metrics.user_selections)}`);
  },
  // Viewport coordinates of the centre of a layout rectangle (layout and canvas box read together;
  // waits for the item to be drawn with a non-zero size).
  async centre(page, name, timeout = 10000) {
    const t0 = Date.now();
    for (;;) {
      const { r, box, names } = await page.evaluate((name) => {
        const el = document.querySelector('.qbench');
        const layout = el.qbench.getState().layout;
        const b = el.querySelector('canvas').getBoundingClientRect();
        return { r: layout[name], box: { x: b.x, y: b.y, width: b.width, height: b.height }, names: Object.keys(layout) };
      }, name);
      if (r && r[2] > 0 && r[3] > 0) return { x: box.x + r[0] + r[2] / 2, y: box.y + r[1] + r[3] / 2, rect: r, box };
      if (Date.now() - t0 > timeout) throw new Error(`layout has no drawn "${name}" (${JSON.stringify(r)}; has: ${names.join(', ')})`);
      await page.waitForTimeout(40);
    }
  },
  // A click as a person makes it: the pointer arrives, a frame later the button goes down, a
  // frame later it comes up (ImGui sees hover, press and release in separate frames).
  async click(page, name, { modifiers = [] } = {}) {
    let c = await W.centre(page, name);
    await page.mouse.move(c.x, c.y);
    await W.frames(page, 1);
    c = await W.centre(page, name);   // unchanged unless the layout moved
    await page.mouse.move(c.x, c.y);
    for (const k of modifiers) await page.keyboard.down(k);
    await page.mouse.down();
    await W.frames(page, 1);
    await page.mouse.up();
    for (const k of modifiers) await page.keyboard.up(k);
    return c;
  },
  // An element's box in viewport coordinates (for page.screenshot({clip}), much faster here than
  // an element screenshot, which waits for the always-animating canvas to be "stable").
  box: (page, selector) => page.evaluate((s) => {
    const b = document.querySelector(s).getBoundingClientRect();
    return { x: b.x, y: b.y, width: b.width, height: b.height };
  }, selector),
};
