/* qbench embed script.
 *
 * One line on any page:
 *   <div class="qbench" data-height="760"></div><script src="https://your.host/qbench/embed.js" async></script>
 *
 * Options (attributes on the div, or ?qb-<name>= in the page URL, which wins):
 *   data-height            canvas height in CSS px (default 760); the width follows the container
 *   data-theme             light | dark | auto (default: auto, follows prefers-color-scheme)
 *   data-link              initial settings ("v=1&m=..."); the page's #v=1&... hash wins
 *   data-model-catalog, data-hardware, data-efficiency, data-accuracy
 *                          URLs of the catalog files (default: data/*.json next to this script;
 *                          the widget also carries a built-in copy, so it works offline)
 *   data-results           URL of a benchmark results index (default data/results/index.json next to
 *                          this script; "none" to skip): its runs are drawn as measured vs predicted
 *   data-quantize          URL of a quantize report (qbench-native quantize --json, "qbench.quantize");
 *                          its measured layer errors are shown next to the published perplexity
 *                          (default: none)
 *   data-endpoint          URL that receives the metrics events (batched POSTs of JSON arrays)
 *
 * JS API: element.qbench (also window.qbench.instances[i]; window.qbench.ready is a Promise of the first):
 *   getState()             -> {metrics, prediction, summary, link_problems, data_messages, layout, ...}
 *   setSelections(obj)     -> {ok, errors}; obj uses the keys of user_selections (model, method, bits, ...)
 *   applyLink(hash)        -> restores a share link
 *   subscribe(fn)          -> unsubscribe function; fn(metrics) on every change
 *   loadQuantize(text, origin) -> {ok, error}: replaces the quantize report; a bad one is refused
 *                          with a message (shown in the widget too) and the previous state is kept
 *   perf()                 -> frame-time statistics; timings: {wasmFetched, firstFrame} (performance.now() ms)
 * Events on the element: "qbench:metrics" (CustomEvent, detail = {type, user_selections,
 * calculated_monthly_cost, comparison_delta, share_link}); inside an iframe the same object is
 * posted to the parent with window.parent.postMessage.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(".", script && script.src ? script.src : location.href).href;
  var root = (window.qbench = window.qbench || {});
  root.instances = root.instances || [];
  var readyResolve;
  root.ready = root.ready || new Promise(function (r) { readyResolve = r; });
  var FILES = ["model-catalog", "hardware", "efficiency", "accuracy"];
  var loader = null;

  function loadModuleFactory() {
    if (window.createQbench) return Promise.resolve(window.createQbench);
    if (!loader) {
      loader = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = base + "qbench.js";
        s.async = true;
        s.onload = function () { window.createQbench ? resolve(window.createQbench) : reject(new Error("qbench.js loaded but defined nothing")); };
        s.onerror = function () { reject(new Error("could not load " + s.src)); };
        document.head.appendChild(s);
      });
    }
    return loader;
  }

  function option(el, name, fallback) {
    var q = new URLSearchParams(location.search).get("qb-" + name);
    if (q !== null && q !== "") return q;
    var a = el.getAttribute("data-" + name);
    return a !== null && a !== "" ? a : fallback;
  }

  function mount(el, index) {
    if (el.qbench) return;
    var height = parseInt(option(el, "height", "760"), 10) || 760;
    el.classList.add("qbench-root");
    var canvas = document.createElement("canvas");
    canvas.id = "qbench-canvas-" + index;
    canvas.tabIndex = 0;
    canvas.setAttribute("aria-label", "qbench: quantization latency, accuracy and cost calculator");
    canvas.style.cssText = "display:block;width:100%;height:" + height + "px;outline:none;touch-action:none";
    canvas.oncontextmenu = function (e) { e.preventDefault(); };
    // SDL cancels mousedown (preventDefault), which also cancels the browser's focus-on-click: focus
    // the canvas ourselves, or keys (text fields, Ctrl+click, navigation) never reach the widget.
    canvas.addEventListener("pointerdown", function () { if (document.activeElement !== canvas) canvas.focus({ preventScroll: true }); });
    var status = document.createElement("div");
    status.className = "qbench-status";
    status.setAttribute("role", "alert");
    status.hidden = true;
    var summary = document.createElement("div");
    summary.className = "qbench-summary";
    summary.setAttribute("aria-live", "polite");
    el.appendChild(status);
    el.appendChild(canvas);
    el.appendChild(summary);

    var subscribers = [];
    var owner = index === 0;   // the first widget owns the page's #hash
    var lastHash = "";
    var endpoint = option(el, "endpoint", "");
    var queue = [], flushTimer = null;
    var api = { element: el, timings: {}, module: null, errors: [] };
    el.qbench = api;
    root.instances.push(api);

    function showStatus(text, isError) {
      status.textContent = text;
      status.hidden = !text;
      status.classList.toggle("qbench-error", !!isError);
      if (isError) api.errors.push(text);
    }
    function flush(beacon) {
      flushTimer = null;
      if (!endpoint || !queue.length) return;
      var body = JSON.stringify(queue.splice(0, queue.length));
      if (beacon && navigator.sendBeacon) { navigator.sendBeacon(endpoint, new Blob([body], { type: "application/json" })); return; }
      fetch(endpoint, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "application/json" } })
        .catch(function (e) { console.warn("qbench: metrics endpoint unreachable: " + e.message); });
    }
    addEventListener("pagehide", function () { flush(true); });

    var hooks = {
      setHash: function (h) {
        lastHash = h;
        el.setAttribute("data-current-link", h);
        if (owner && location.hash !== h) history.replaceState(null, "", location.pathname + location.search + h);
      },
      copy: function (text) {
        var url = location.origin + location.pathname + location.search + text;
        el.setAttribute("data-copied-link", url);
        var fallback = function () {
          var t = document.createElement("textarea");
          t.value = url; t.style.position = "fixed"; t.style.opacity = "0";
          document.body.appendChild(t); t.select();
          try { document.execCommand("copy"); } catch (e) { /* the link is still in data-copied-link */ }
          t.remove();
        };
        if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(url).catch(fallback);
        else fallback();
        el.dispatchEvent(new CustomEvent("qbench:copy", { detail: { url: url }, bubbles: true }));
      },
      emit: function (json) {
        var detail;
        try { detail = JSON.parse(json); } catch (e) { return; }
        el.dispatchEvent(new CustomEvent("qbench:metrics", { detail: detail, bubbles: true }));
        if (window.parent && window.parent !== window) window.parent.postMessage(detail, "*");
        subscribers.slice().forEach(function (fn) { try { fn(detail); } catch (e) { console.error(e); } });
        if (endpoint) { queue.push(detail); if (queue.length > 200) queue.shift(); if (!flushTimer) flushTimer = setTimeout(flush, 2000); }
      },
      summary: function (text) { summary.textContent = text; },
      status: function (text, isError) { showStatus(text, isError); },
      firstFrame: function () {
        api.timings.firstFrame = performance.now();
        el.setAttribute("data-ready", "true");
        if (readyResolve && index === 0) readyResolve(api);
      }
    };

    var link = (owner && location.hash.indexOf("#v=") === 0) ? location.hash : option(el, "link", "");
    var width = Math.max(320, Math.round(el.clientWidth || 960));
    loadModuleFactory().then(function (factory) {
      return factory({
        canvas: canvas,
        arguments: [String(width), String(height), link],
        locateFile: function (p) { return base + p; },
        qb: hooks,
        print: function (t) { console.log("qbench: " + t); },
        printErr: function (t) { console.warn("qbench: " + t); }
      });
    }).then(function (Module) {
      api.module = Module;
      var wasm = performance.getEntriesByName(base + "qbench.wasm")[0];
      if (wasm) api.timings.wasmFetched = wasm.responseEnd;
      var call = function (name, ret, types, args) { return Module.ccall(name, ret, types, args); };
      api.getState = function () { return JSON.parse(call("qb_state", "string", [], [])); };
      api.setSelections = function (obj) {
        var r = call("qb_set_selections", "string", ["string"], [JSON.stringify(obj || {})]);
        return r ? { ok: false, errors: JSON.parse(r).errors } : { ok: true, errors: [] };
      };
      api.applyLink = function (h) { return call("qb_apply_link", "number", ["string"], [String(h)]) === 1; };
      api.subscribe = function (fn) { subscribers.push(fn); return function () { subscribers = subscribers.filter(function (f) { return f !== fn; }); }; };
      api.loadQuantize = function (text, origin) {
        var ok = call("qb_load_quantize", "number", ["string", "string"], [String(text), String(origin || "loadQuantize()")]) === 1;
        if (ok) return { ok: true, error: null };
        var msgs = api.getState().data_messages;
        return { ok: false, error: msgs.length ? msgs[msgs.length - 1] : "not loaded" };
      };
      api.perf = function () { return JSON.parse(call("qb_perf", "string", [], [])); };
      api.resetPerf = function () { call("qb_reset_perf", null, [], []); };

      var dark = option(el, "theme", "auto");
      var mq = window.matchMedia ? matchMedia("(prefers-color-scheme: dark)") : null;
      var applyTheme = function () {
        var d = dark === "dark" || (dark === "auto" && ((mq && mq.matches) || document.documentElement.getAttribute("data-theme") === "dark"));
        call("qb_set_theme", null, ["number"], [d ? 1 : 0]);
        el.classList.toggle("qbench-dark", d);
      };
      applyTheme();
      if (mq && mq.addEventListener) mq.addEventListener("change", applyTheme);
      if (window.ResizeObserver) new ResizeObserver(function () {
        call("qb_resize", null, ["number", "number"], [Math.round(el.clientWidth), height]);
      }).observe(el);
      if (owner) addEventListener("hashchange", function () {
        if (location.hash.indexOf("#v=") === 0 && location.hash !== lastHash) api.applyLink(location.hash);
      });

      // A text file, any HTTP error status a failure.
      var fetchText = function (url) {
        return fetch(url, { cache: "no-cache" }).then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        });
      };
      // A failed load: shown under the widget and reported to it; what it had stays.
      var loadFailed = function (msg) {
        showStatus(msg, true);
        call("qb_data_error", null, ["string"], [msg]);
      };

      // Catalog files: fetched from the embedder's URLs; the built-in copy stays if one fails.
      FILES.forEach(function (name, i) {
        var url = option(el, name, base + "data/" + name + ".json");
        fetchText(url).then(function (text) {
          call("qb_load_data", "number", ["number", "string", "string"], [i, text, url]);
        }).catch(function (e) {
          loadFailed("Could not load " + url + " (" + e.message + "); using the built-in " + name + ".json");
        });
      });
      // A quantize report: measured layer errors, shown beside the published perplexity.
      var quantize = option(el, "quantize", "none");
      if (quantize !== "none") fetchText(quantize).then(function (text) {
        call("qb_load_quantize", "number", ["string", "string"], [text, quantize]);
      }).catch(function (e) {
        loadFailed("Could not load the quantize report " + quantize + " (" + e.message + ")");
      });
      // Benchmark results (qbench-native publish writes the index): newest runs first, at most 6.
      var index = option(el, "results", base + "data/results/index.json");
      if (index !== "none") fetch(index, { cache: "no-cache" }).then(function (r) {
        if (r.status === 404) return null;   // nothing published yet: not an error
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      }).then(function (idx) {
        if (!idx) return;
        if (!idx.runs || !idx.runs.forEach) throw new Error("not a results index");
        idx.runs.slice(-6).forEach(function (run) {
          var url = new URL(run.file, new URL(index, location.href)).href;
          fetchText(url).then(function (text) {
            call("qb_load_results", "number", ["string", "string"], [text, url]);
          }).catch(function (e) {
            loadFailed("Could not load benchmark results " + url + " (" + e.message + ")");
          });
        });
      }).catch(function (e) {
        loadFailed("Could not load the results index " + index + " (" + e.message + ")");
      });
    }).catch(function (e) {
      showStatus("qbench could not start: " + e.message, true);
      var ctx = canvas.getContext("2d");
      if (ctx) { ctx.font = "16px sans-serif"; ctx.fillText("qbench could not start: " + e.message, 16, 32); }
    });
  }

  function scan() {
    var els = document.querySelectorAll(".qbench, [data-qbench]");
    for (var i = 0; i < els.length; ++i) mount(els[i], root.instances.length);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
