// Browser tests of the qbench widget (WebAssembly + WebGL in headless Chromium, SwiftShader).
//
//   node tests/web/widget.test.mjs [--site build-wasm/site]      (or: node --test tests/web/)
//
// Starts its own static server on 127.0.0.1 (the built site, /fixtures/bad.json, POST /events),
// drives the widget through its JS API, the mouse and the keyboard, and writes screenshots to
// tests/artifacts/. Exits non-zero on any failure.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { REPO, siteDir, startServer, launch, VIEWPORT, W } from './harness.mjs';

const SITE = siteDir();
const ARTIFACTS = path.join(REPO, 'tests', 'artifacts');
const T = { timeout: 60000 };   // per test; SwiftShader frames take ~50-80 ms

let srv, browser;
before(async () => {
  srv = await startServer(SITE);
  browser = await launch();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  console.log(`# site ${SITE} at ${srv.base}; Chromium ${browser.version()}`);
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

// A fresh context and page; records console errors/warnings and page errors. `ready` waits for
// data-ready="true" and the JS API.
async function open(url, { ready = true, permissions } = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  if (permissions) await context.grantPermissions(permissions, { origin: srv.base.replace(/\/$/, '') });
  const page = await context.newPage();
  // Diagnostics: window focus changes and mouse buttons as the page saw them (shown on failures).
  await page.addInitScript(() => {
    const ev = (window.__qbEvents = []);
    for (const t of ['focus', 'blur', 'mousedown', 'mouseup'])
      window.addEventListener(t, (e) => {
        if (t === 'focus' || t === 'blur') { if (e.target !== window) return; }
        ev.push(`${t}@${performance.now().toFixed(0)}${e.clientX !== undefined ? `(${e.clientX},${e.clientY} on ${e.target.tagName})` : ''}`);
      }, true);
  });
  const log = { errors: [], warnings: [], pageErrors: [], failed: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(m.text() + (m.location().url ? ` [${m.location().url}]` : ''));
    else if (m.type() === 'warning') log.warnings.push(m.text());
  });
  page.on('pageerror', (e) => log.pageErrors.push(String(e && e.stack || e)));
  page.on('requestfailed', (r) => log.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) log.failed.push(`${r.url()}: HTTP ${r.status()}`); });
  await page.goto(new URL(url, srv.base).href, { waitUntil: 'load' });
  if (ready) await W.ready(page);
  return { page, context, log, close: () => context.close() };
}

// Decodes an element screenshot of the canvas: distinct colours, the share of pixels unlike the
// most common (background) colour, and the mean luminance.
async function canvasStats(page, file) {
  await W.frames(page, 1);
  const buf = await page.screenshot({ clip: await W.box(page, '.qbench canvas'), ...(file ? { path: file } : {}) });
  const png = PNG.sync.read(buf);
  const counts = new Map();
  let lum = 0;
  const n = png.width * png.height;
  for (let i = 0; i < n; ++i) {
    const r = png.data[4 * i], g = png.data[4 * i + 1], b = png.data[4 * i + 2];
    const k = (r << 16) | (g << 8) | b;
    counts.set(k, (counts.get(k) || 0) + 1);
    lum += 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  const top = Math.max(...counts.values());
  return { width: png.width, height: png.height, distinct: counts.size, nonBackground: 1 - top / n, meanLum: lum / n };
}

function assertDrawn(stats, what) {
  assert.ok(stats.distinct >= 64 && stats.nonBackground >= 0.05,
    `${what}: the canvas looks blank: ${stats.distinct} distinct colours, ${(100 * stats.nonBackground).toFixed(1)}% non-background pixels (${stats.width}x${stats.height})`);
}

const sel = (st) => st.metrics.user_selections;
let DEFAULTS = null;   // user_selections of a plain load (test a), reused by test f

// Calls setSelections and resolves with {ret, event, subscribed}: the first qbench:metrics event
// and subscribe() callback whose user_selections match `expect` (a subset).
function setAndCapture(page, obj, expect, timeout = 10000) {
  return page.evaluate(({ obj, expect, timeout }) => new Promise((resolve, reject) => {
    const el = document.querySelector('.qbench');
    const q = el.qbench;
    const match = (d) => d && d.user_selections && Object.entries(expect).every(([k, v]) => d.user_selections[k] === v);
    const out = { ret: null, event: null, subscribed: null };
    const done = () => { if (out.event && out.subscribed) { clearTimeout(timer); el.removeEventListener('qbench:metrics', onEvent); unsub(); resolve(out); } };
    const onEvent = (e) => { if (!out.event && match(e.detail)) { out.event = e.detail; done(); } };
    el.addEventListener('qbench:metrics', onEvent);
    const unsub = q.subscribe((d) => { if (!out.subscribed && match(d)) { out.subscribed = d; done(); } });
    const timer = setTimeout(() => reject(new Error('no matching qbench:metrics event/subscribe callback within ' + timeout + ' ms; got ' + JSON.stringify(out))), timeout);
    out.ret = q.setSelections(obj);
    if (!out.ret.ok) { clearTimeout(timer); reject(new Error('setSelections failed: ' + JSON.stringify(out.ret))); }
  }), { obj, expect, timeout });
}

test('a. index.html loads without console or page errors and draws the canvas', T, async () => {
  const w = await open('index.html');
  try {
    const st = await W.state(w.page);
    assert.equal(await w.page.getAttribute('.qbench', 'data-ready'), 'true');
    assert.ok(st.metrics && sel(st).model, 'getState().metrics.user_selections is missing');
    assert.deepEqual(st.link_problems, []);
    assert.deepEqual(st.data_messages, []);
    DEFAULTS = sel(st);
    await W.frames(w.page, 3);   // a few frames after ready: anything that fails late shows up too
    const stats = await canvasStats(w.page);
    assertDrawn(stats, 'index.html');
    assert.equal(await w.page.locator('.qbench-status').isVisible(), false, 'an unexpected status message is shown');
    assert.deepEqual(w.log.pageErrors, [], 'page errors');
    assert.deepEqual(w.log.errors, [], 'console errors');
    assert.deepEqual(w.log.failed, [], 'failed requests');
    if (w.log.warnings.length) console.log('# console warnings: ' + JSON.stringify(w.log.warnings));
    console.log(`# canvas ${stats.width}x${stats.height}: ${stats.distinct} colours, ${(100 * stats.nonBackground).toFixed(1)}% non-background`);
  } finally { await w.close(); }
});

test('b. setSelections through the JS API: summary, qbench:metrics event, subscribe(), errors', T, async () => {
  const w = await open('index.html');
  try {
    const { page } = w;
    const summary0 = await page.locator('.qbench-summary').textContent();
    const r = await setAndCapture(page, { method: 'awq', hardware: 'a100-80gb', batch: 8 }, { method: 'awq', hardware: 'a100-80gb', batch: 8 });
    assert.deepEqual(r.ret, { ok: true, errors: [] });
    for (const [name, d] of [['event', r.event], ['subscribe', r.subscribed]]) {
      assert.equal(d.user_selections.method, 'awq', name);
      assert.equal(d.user_selections.hardware, 'a100-80gb', name);
      assert.equal(d.user_selections.batch, 8, name);
      assert.ok(d.calculated_monthly_cost.usd > 0, `${name}: calculated_monthly_cost.usd = ${d.calculated_monthly_cost.usd}`);
      assert.ok(d.comparison_delta.vs_fp16 && typeof d.comparison_delta.vs_fp16.tpot_ms === 'number', `${name}: comparison_delta.vs_fp16`);
      assert.ok(d.comparison_delta.vs_api['claude-3-5-sonnet'], `${name}: comparison_delta.vs_api['claude-3-5-sonnet']`);
    }
    assert.deepEqual(r.subscribed, r.event, 'subscribe() got a different object from the event');
    await page.waitForFunction((s0) => {
      const t = document.querySelector('.qbench-summary').textContent;
      return t !== s0 && /A100/.test(t);
    }, summary0, { timeout: 10000 });
    const st = await W.state(page);
    assert.equal(sel(st).method, 'awq');
    assert.deepEqual(sel(st), r.event.user_selections, 'getState() and the event disagree');

    // FP8 on an A100 (no FP8 tensor cores): refused, state unchanged.
    const bad = await page.evaluate(() => document.querySelector('.qbench').qbench.setSelections({ method: 'fp8', hardware: 'a100-80gb' }));
    assert.equal(bad.ok, false);
    assert.ok(bad.errors.length > 0 && bad.errors.some((e) => /fp8/i.test(JSON.stringify(e))), 'error does not mention fp8: ' + JSON.stringify(bad.errors));
    await W.frames(page, 2);
    assert.deepEqual(sel(await W.state(page)), sel(st), 'a refused setSelections changed the state');

    // Junk.
    for (const junk of [{ batch: -1 }, { batch: 'x' }, { model: 'no-such-model' }, { bits: 5 }]) {
      const j = await page.evaluate((o) => document.querySelector('.qbench').qbench.setSelections(o), junk);
      assert.equal(j.ok, false, `setSelections(${JSON.stringify(junk)}) was accepted`);
      assert.ok(j.errors.length > 0, `setSelections(${JSON.stringify(junk)}) gave no error`);
    }
    await W.frames(page, 2);
    assert.deepEqual(sel(await W.state(page)), sel(st), 'junk changed the state');
    assert.deepEqual(w.log.pageErrors, []);
  } finally { await w.close(); }
});

test('c. a click on a Pareto point changes the selection', T, async () => {
  const w = await open('index.html');
  try {
    const { page } = w;
    await W.click(page, 'tab_Plots');
    await W.until(page, (s) => s.tab === 1 && s.layout.pareto_point_0, 'the Plots tab with pareto_point_0');
    await W.frames(page, 2);   // layout from a settled frame
    const before = sel(await W.state(page));
    const pt = await W.centre(page, 'pareto_point_0');
    await page.mouse.move(pt.x, pt.y);
    await W.frames(page, 1);
    await page.mouse.click(pt.x, pt.y);
    const st = await W.until(page, (s) => {
      const u = sel(s);
      return u.method !== before.method || u.bits !== before.bits || u.group_size !== before.group_size;
    }, 'the selection to change after clicking pareto_point_0');
    const u = sel(st);
    console.log(`# clicked point: ${before.method} W${before.bits} g${before.group_size} -> ${u.method} W${u.bits} g${u.group_size}`);
    assert.equal(u.model, before.model);
    assert.equal(u.batch, before.batch);
  } finally { await w.close(); }
});

test('d. keyboard: a click focuses the canvas; Ctrl+click the batch slider, type 16, Enter', T, async () => {
  const w = await open('index.html');
  try {
    const { page } = w;
    assert.notEqual(sel(await W.state(page)).batch, 16);
    // Keys reach the widget only while its canvas has focus: a click must give it focus (the
    // active tab, so the click changes nothing else).
    await W.click(page, 'tab_Results');
    await W.frames(page, 1);
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.tagName), 'CANVAS',
      'a click on the widget did not give its canvas keyboard focus');
    const b = await W.centre(page, 'batch');
    await page.keyboard.down('Control');
    await W.frames(page, 1);
    await page.mouse.click(b.x, b.y);
    await W.frames(page, 1);
    await page.keyboard.up('Control');
    await W.frames(page, 2);
    await page.keyboard.press('Control+A');
    await W.frames(page, 1);
    await page.keyboard.type('16', { delay: 20 });
    await page.keyboard.press('Enter');
    const st = await W.until(page, (s) => sel(s).batch === 16, 'batch === 16');
    assert.equal(sel(st).batch, 16);
    // The document's text was not selected by Ctrl+A (the canvas kept the keys).
    assert.equal(await page.evaluate(() => String(getSelection())), '');
  } finally { await w.close(); }
});

test('e. share link: a fresh page opened at the link restores every selection', T, async () => {
  const w = await open('index.html');
  let original, hash;
  try {
    const { page } = w;
    await setAndCapture(page, { model: 'llama-2-13b', method: 'gptq', bits: 3, group_size: 64, hardware: 'l40s', batch: 24, kv_cache: 'fp8', prompt_tokens: 1000, output_tokens: 300, compare_api: ['gpt-4o'] },
      { model: 'llama-2-13b', batch: 24 });
    await W.frames(page, 2);
    original = sel(await W.state(page));
    hash = await page.evaluate(() => location.hash);
    const attr = await page.getAttribute('.qbench', 'data-current-link');
    assert.ok(hash.startsWith('#v=1'), `location.hash = ${hash}`);
    assert.equal(attr, hash, 'data-current-link differs from location.hash');
  } finally { await w.close(); }
  const f = await open('index.html' + hash);
  try {
    const st = await W.state(f.page);
    assert.deepEqual(st.link_problems, []);
    assert.deepEqual(sel(st), original);
    assert.equal(await f.page.locator('.qbench-status').isVisible(), false);
    console.log(`# link ${hash}`);
  } finally { await f.close(); }
});

test('f. a broken share link shows a message and falls back to defaults', T, async () => {
  const defaults = DEFAULTS || await (async () => { const d = await open('index.html'); try { return sel(await W.state(d.page)); } finally { await d.close(); } })();
  const w = await open('index.html#v=1&b=four&m=nope&zz=1');
  try {
    const { page } = w;
    const status = page.locator('.qbench-status');
    await status.waitFor({ state: 'visible', timeout: 10000 });
    const text = await status.textContent();
    assert.match(text, /link/i, `status text: ${text}`);
    assert.equal(await status.getAttribute('role'), 'alert');
    const st = await W.state(page);
    assert.ok(st.link_problems.length > 0, 'link_problems is empty');
    const problems = st.link_problems.join(' | ');
    assert.match(problems, /bits/, `link_problems: ${problems}`);
    assert.match(problems, /model/, `link_problems: ${problems}`);
    assert.equal(sel(st).model, 'llama-2-7b');
    assert.deepEqual(sel(st), defaults, 'the broken fields did not fall back to the defaults');
    assertDrawn(await canvasStats(page), 'broken link');
    console.log(`# link_problems: ${problems}`);
  } finally { await w.close(); }
});

for (const [name, query, pattern] of [
  ['missing', '?qb-hardware=/does-not-exist.json', /does-not-exist\.json/],
  ['malformed', '?qb-accuracy=/fixtures/bad.json', /bad\.json/],
]) {
  test(`g. a ${name} data file shows a message and the built-in data is used`, T, async () => {
    const w = await open('index.html' + query);
    try {
      const { page } = w;
      const status = page.locator('.qbench-status');
      await status.waitFor({ state: 'visible', timeout: 10000 });
      const text = await status.textContent();
      assert.match(text, pattern, `status text: ${text}`);
      const st = await W.until(page, (s) => s.data_messages.length > 0, 'data_messages');
      assert.match(st.data_messages.join(' | '), pattern);
      assert.ok(st.metrics && st.metrics.calculated_monthly_cost.usd > 0, 'no metrics with the built-in data');
      await W.frames(page, 3);
      assertDrawn(await canvasStats(page), `${name} data`);
      assert.deepEqual(w.log.pageErrors, []);
      console.log(`# ${name}: ${st.data_messages.join(' | ')}`);
    } finally { await w.close(); }
  });
}

test('h. metrics endpoint receives POSTed JSON arrays', T, async () => {
  const run = Math.random().toString(36).slice(2);
  const w = await open(`index.html?qb-endpoint=${encodeURIComponent('/events?run=' + run)}`);
  try {
    const { page } = w;
    const t0 = Date.now();
    await setAndCapture(page, { method: 'awq', hardware: 'a100-80gb', batch: 8 }, { method: 'awq', batch: 8 });
    let hit = null;
    while (!hit && Date.now() - t0 < 8000) {
      for (const e of srv.events.filter((e) => e.url.includes(run))) {
        const body = JSON.parse(e.body);
        assert.ok(Array.isArray(body), 'POST body is not a JSON array: ' + e.body.slice(0, 200));
        for (const m of body) {
          assert.equal(m.type, 'qbench.metrics');
          assert.ok(m.user_selections && m.calculated_monthly_cost && m.comparison_delta, 'not a metrics object: ' + JSON.stringify(m).slice(0, 200));
        }
        if (body.some((m) => m.user_selections.method === 'awq' && m.user_selections.batch === 8)) hit = e;
      }
      if (!hit) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(hit, `no POST to /events with the new selection within 8 s (got ${srv.events.filter((e) => e.url.includes(run)).length} POSTs)`);
    assert.match(hit.headers['content-type'] || '', /application\/json/);
    console.log(`# POST /events after ${hit.at - t0} ms, ${JSON.parse(hit.body).length} metrics object(s)`);
  } finally { await w.close(); }
});

test('i. the Copy link button copies a #v=1 link', T, async () => {
  const w = await open('index.html', { permissions: ['clipboard-read', 'clipboard-write'] });
  try {
    const { page } = w;
    await setAndCapture(page, { batch: 32 }, { batch: 32 });
    await W.frames(page, 2);
    const evt = page.evaluate(() => new Promise((r) => document.querySelector('.qbench').addEventListener('qbench:copy', (e) => r(e.detail.url), { once: true })));
    await W.click(page, 'copy_link');
    await page.waitForSelector('.qbench[data-copied-link]', { state: 'attached', timeout: 10000 });
    const link = await page.getAttribute('.qbench', 'data-copied-link');
    assert.match(link, /#v=1/);
    assert.ok(link.startsWith(srv.base + 'index.html'), `copied link: ${link}`);
    assert.equal(await evt, link, 'the qbench:copy event carries another URL');
    assert.equal(link.slice(link.indexOf('#')), await page.evaluate(() => location.hash));
    const clip = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => 'unreadable: ' + e.message);
    assert.equal(clip, link, 'the clipboard does not hold the link');
    console.log(`# copied ${link}`);
  } finally { await w.close(); }
});

// The committed report index.html loads (data-quantize); its figures are what the widget must show.
const REPORT = JSON.parse(fs.readFileSync(path.join(REPO, 'data', 'quantize', 'synthetic-llama2-7b.json'), 'utf8'));

test('k. quantize report: measured layer errors beside the published perplexity; a bad report changes nothing', T, async () => {
  const w = await open('index.html');
  try {
    const { page } = w;
    let st = await W.until(page, (s) => s.quantize !== null, 'the quantize report to load');
    const q = st.quantize;
    assert.equal(q.origin, 'data/quantize/synthetic-llama2-7b.json');
    assert.equal(q.model, 'llama-2-7b');
    assert.equal(q.input_kind, 'synthetic');
    assert.equal(q.layers, REPORT.layers.length);
    assert.equal(q.rows.length, REPORT.layers.reduce((n, l) => n + l.results.length, 0));
    assert.equal(q.calibration_tokens, REPORT.layers[0].calibration.tokens);
    assert.equal(q.eval_tokens, REPORT.layers[0].calibration.eval_tokens);
    assert.match(q.source, /synthetic layers shaped as llama-2-7b/);
    // The default selection (llama-2-7b, GPTQ W4 g128) has one row per layer, with the report's figures.
    await setAndCapture(page, { model: 'llama-2-7b', method: 'gptq', bits: 4, group_size: 128 }, { model: 'llama-2-7b', method: 'gptq', bits: 4 });
    st = await W.until(page, (s) => s.quantize && s.quantize.model_matches && s.quantize.selected.length === REPORT.layers.length, 'GPTQ rows selected');
    for (const r of st.quantize.selected) {
      const layer = REPORT.layers.find((l) => l.name === r.layer);
      const want = layer.results.find((x) => x.method === 'gptq');
      assert.equal(r.method, 'gptq');
      assert.equal(r.output_rel_err, want.output_rel_err, r.layer);
      assert.equal(r.output_sqnr_db, want.output_sqnr_db, r.layer);
      assert.equal(r.time_s, want.time_s, r.layer);
      assert.ok(r.output_rel_err > 0 && r.output_rel_err < 1);
    }
    assert.equal(st.quantize.rows.filter((r) => r.selected).length, REPORT.layers.length);
    assert.ok(st.prediction.accuracy.provenance, 'the published/estimated perplexity is still there');
    await page.waitForFunction(() => /Measured layer output error/.test(document.querySelector('.qbench-summary').textContent), null, { timeout: 10000 });
    await W.until(page, (s) => s.layout.quantize_table && s.layout.quantize_table[3] > 0, 'the quantize table to be drawn');
    // Another method: AWQ rows selected. QuIP in the calculator is QuIP# (per-channel, lattice), which
    // the report's QuIP-style g128 rows are not: nothing is highlighted rather than a wrong row.
    await setAndCapture(page, { method: 'awq', bits: 4, group_size: 128 }, { method: 'awq' });
    st = await W.until(page, (s) => s.quantize.selected.length === REPORT.layers.length && s.quantize.selected.every((r) => r.method === 'awq'), 'AWQ rows');
    await setAndCapture(page, { method: 'quip' }, { method: 'quip' });
    st = await W.until(page, (s) => s.quantize.selected.length === 0, 'no row for QuIP# per-channel');
    // A model the report is not for: all rows stay listed, model_matches false.
    await setAndCapture(page, { model: 'llama-3.1-8b', method: 'awq', bits: 4, group_size: 128 }, { model: 'llama-3.1-8b', method: 'awq' });
    st = await W.until(page, (s) => !s.quantize.model_matches && s.quantize.selected_model === 'llama-3.1-8b', 'a model the report is not for');
    assert.equal(st.quantize.rows.length, q.rows.length, 'all rows are still listed');
    await setAndCapture(page, { method: 'rtn', bits: 3 }, { method: 'rtn', bits: 3 });
    st = await W.until(page, (s) => s.quantize.selected.length === 0, 'no 3-bit row');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await setAndCapture(page, { model: 'llama-2-7b', method: 'gptq', bits: 4, group_size: 128 }, { model: 'llama-2-7b', method: 'gptq' });
    await W.frames(page, 3);
    await page.screenshot({ path: path.join(ARTIFACTS, 'widget-quantize.png'), clip: await W.box(page, '.qbench') });

    // A bad report: refused with a message naming the field; the loaded report and the selections stay.
    const before = await W.state(page);
    for (const [text, pattern] of [
      ['{"schema": "qbench.quantize", "version": 1, "layers": "x"', /malformed JSON/],
      [JSON.stringify({ ...REPORT, schema: 'qbench.results' }), /\/schema/],
      [JSON.stringify({ ...REPORT, layers: [{ ...REPORT.layers[0], rows: 'many' }] }), /\/layers\/0\/rows: must be an integer/],
    ]) {
      const r = await page.evaluate((t) => document.querySelector('.qbench').qbench.loadQuantize(t, 'bad-report.json'), text);
      assert.equal(r.ok, false);
      assert.match(r.error, /quantize report bad-report\.json not loaded \(the previous one is kept\)/);
      assert.match(r.error, pattern);
    }
    const after = await W.state(page);
    assert.deepEqual(after.quantize, before.quantize, 'the loaded report changed');
    assert.deepEqual(sel(after), sel(before), 'the selections changed');
    assert.equal(after.data_messages.length, before.data_messages.length + 3);
    await page.locator('.qbench-status').waitFor({ state: 'visible', timeout: 10000 });
    assert.match(await page.locator('.qbench-status').textContent(), /bad-report\.json/);
    assertDrawn(await canvasStats(page), 'after a bad report');
    // A good one through the same API replaces it.
    const one = { ...REPORT, layers: [REPORT.layers[0]] };
    const ok = await page.evaluate((t) => document.querySelector('.qbench').qbench.loadQuantize(t, 'one-layer.json'), JSON.stringify(one));
    assert.deepEqual(ok, { ok: true, error: null });
    st = await W.until(page, (s) => s.quantize.origin === 'one-layer.json', 'the replacement report');
    assert.equal(st.quantize.layers, 1);
    assert.deepEqual(w.log.pageErrors, []);
    console.log(`# quantize: ${q.layers} layers, ${q.rows.length} rows; GPTQ output error ${REPORT.layers.map((l) => l.results.find((x) => x.method === 'gptq').output_rel_err.toFixed(4)).join(', ')}`);
  } finally { await w.close(); }
});

for (const [name, query, pattern] of [
  ['missing', '?qb-quantize=/does-not-exist.json', /quantize report \/does-not-exist\.json \(HTTP 404\)/],
  ['malformed', '?qb-quantize=/fixtures/bad.json', /quantize report \/fixtures\/bad\.json not loaded: .*malformed JSON/],
]) {
  test(`l. a ${name} quantize report URL shows a message and nothing else is lost`, T, async () => {
    const w = await open('index.html' + query);
    try {
      const { page } = w;
      const st = await W.until(page, (s) => s.data_messages.length > 0, 'data_messages');
      assert.match(st.data_messages.join(' | '), pattern);
      assert.equal(st.quantize, null);
      assert.ok(st.metrics && st.metrics.calculated_monthly_cost.usd > 0, 'no metrics');
      assert.ok(st.prediction.accuracy.provenance !== 'none', 'the published perplexity is gone');
      await page.locator('.qbench-status').waitFor({ state: 'visible', timeout: 10000 });
      assertDrawn(await canvasStats(page), `${name} quantize report`);
      assert.deepEqual(w.log.pageErrors, []);
      console.log(`# ${name} quantize report: ${st.data_messages.join(' | ')}`);
    } finally { await w.close(); }
  });
}

test('j. screenshots: default view, Plots tab, dark theme', T, async () => {
  const files = [];
  let light;
  const w = await open('index.html');
  try {
    const { page } = w;
    await W.frames(page, 3);
    const f1 = path.join(ARTIFACTS, 'widget-default.png');
    await page.screenshot({ path: f1, clip: await W.box(page, '.qbench') });
    files.push(f1);
    light = await canvasStats(page);
    assertDrawn(light, 'default view');
    await W.click(page, 'tab_Plots');
    await W.until(page, (s) => s.tab === 1 && s.layout.plot_pareto && s.layout.plot_batch && s.layout.plot_cost, 'the Plots tab');
    await page.mouse.move(1, 1);   // no tooltip in the picture
    await W.frames(page, 3);
    const f2 = path.join(ARTIFACTS, 'widget-plots.png');
    await page.screenshot({ path: f2, clip: await W.box(page, '.qbench') });
    files.push(f2);
    assertDrawn(await canvasStats(page), 'Plots tab');
  } finally { await w.close(); }
  const d = await open('index.html?qb-theme=dark');   // one page at a time: SwiftShader shares the CPUs
  try {
    await W.frames(d.page, 3);
    const f3 = path.join(ARTIFACTS, 'widget-dark.png');
    await d.page.screenshot({ path: f3, clip: await W.box(d.page, '.qbench') });
    files.push(f3);
    const dark = await canvasStats(d.page);
    assertDrawn(dark, 'dark theme');
    assert.ok(dark.meanLum < 100 && light.meanLum > 150, `theme luminance: light ${light.meanLum.toFixed(0)}, dark ${dark.meanLum.toFixed(0)}`);
    assert.ok(await d.page.evaluate(() => document.querySelector('.qbench').classList.contains('qbench-dark')));
  } finally { await d.close(); }
  for (const f of files) assert.ok(fs.statSync(f).size > 10000, `${f} is suspiciously small`);
  for (const f of files) console.log(`# screenshot ${f}`);
});
