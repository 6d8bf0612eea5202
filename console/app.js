// The ihf-webhooks console: a client of /api/v2 and nothing more.
//
// Sign-in: the API key is sent once to GET /api/v2/me (to learn the consumer
// id) and once to POST /api/v2/token (client credentials); after that only the
// short-lived token is used, held in the `session` variable below. Nothing is
// written to localStorage, sessionStorage, cookies or the URL, so a reload or
// a closed tab signs out. A 401 or the token's expiry returns to sign-in.
//
// The page is built with DOM calls and textContent only (never innerHTML), so
// nothing the API returns can become markup; charts are SVG drawn here. The
// Content-Security-Policy allows no inline script or style and no eval.
"use strict";

(function () {
  const API = "/api/v2";
  const SVG = "http://www.w3.org/2000/svg";

  /** The signed-in session: { token, consumer, scopes, timer } or null. */
  let session = null;

  // CSP violations are bugs of this page: make them loud in the console.
  document.addEventListener("securitypolicyviolation", (e) => {
    console.error("CSP violation: " + e.violatedDirective + " blocked " + e.blockedURI);
  });

  // ---------------------------------------------------------------- helpers

  /** An element with attributes (on* never used) and children (strings become text). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function button(label, onClick, attrs) {
    const b = el("button", Object.assign({ type: "button" }, attrs || {}), label);
    b.addEventListener("click", onClick);
    return b;
  }

  const pad = (n) => String(n).padStart(2, "0");

  /** "2026-12-02 17:05:03 UTC": one unambiguous zone for everyone. */
  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  }

  const fmtNum = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en"));
  const fmtMs = (n) => (n === null || n === undefined ? "—" : `${Math.round(n)} ms`);

  function can(scope) {
    return !!session && session.scopes.has(scope);
  }

  /** A table: headers and rows of cells (nodes or text). With `stack`, each
   *  row becomes a card of labelled cells on a phone. */
  function table(caption, headers, rows, attrs, stack) {
    const t = el("table", Object.assign({ class: stack ? "stack" : "" }, attrs || {}),
      el("caption", { class: "sr-only" }, caption),
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows));
    if (stack) label(t.tBodies[0], headers);
    return el("div", { class: "table-wrap" }, t);
  }

  /** Gives each cell its column's name, which the phone layout shows. */
  function label(tbody, headers) {
    for (const row of tbody.rows) {
      [...row.cells].forEach((cell, i) => {
        if (!cell.colSpan || cell.colSpan === 1) cell.dataset.label = headers[i] || "";
      });
    }
  }

  function badge(text, kind) {
    return el("span", { class: `badge ${kind}` }, text);
  }

  function message(text, kind) {
    return el("p", { class: `message ${kind || ""}`, role: kind === "error" ? "alert" : "status" }, text);
  }

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  /** Calls the API with the session's token; a 401 ends the session. */
  async function api(method, path, body) {
    if (!session) throw new ApiError(401, "not signed in");
    const headers = { Authorization: `Bearer ${session.token}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(API + path, init);
    if (response.status === 401) {
      signOut("Your session has ended (the token expired or was revoked). Sign in again.");
      throw new ApiError(401, "signed out");
    }
    return readResponse(response);
  }

  async function readResponse(response) {
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const detail = (data && (data.detail || data.error_description)) || `HTTP ${response.status}`;
      throw new ApiError(response.status, detail);
    }
    return data;
  }

  /** Every page of a list endpoint (they are small: consumers' own things). */
  async function all(path, max) {
    const out = [];
    let cursor = null;
    const sep = path.includes("?") ? "&" : "?";
    do {
      const page = await api("GET", path + sep + "limit=100" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      out.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor && out.length < (max || 1000));
    return out;
  }

  // ---------------------------------------------------------------- sign-in

  const $ = (id) => document.getElementById(id);

  async function signIn(key) {
    const auth = { Authorization: `Bearer ${key}`, Accept: "application/json" };
    const meResponse = await fetch(API + "/me", { headers: auth, cache: "no-store", credentials: "omit" });
    if (meResponse.status === 401) {
      throw new ApiError(401, "That API key was not accepted: it is unknown, revoked or expired, or its consumer is inactive.");
    }
    const me = await readResponse(meResponse);
    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: me.consumer.id,
      client_secret: key,
    });
    const tokenResponse = await fetch(API + "/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: form,
      cache: "no-store",
      credentials: "omit",
    });
    const token = await readResponse(tokenResponse);
    const scopes = new Set((token.scope || "").split(" ").filter(Boolean));
    // Sign out a little before the token expires, rather than on a failed call.
    const ms = Math.max(1000, (token.expires_in - 5) * 1000);
    session = {
      token: token.access_token,
      consumer: me.consumer,
      scopes,
      timer: setTimeout(() => signOut("Your session expired. Sign in again."), ms),
    };
  }

  function signOut(why) {
    if (session) clearTimeout(session.timer);
    session = null;
    $("bar").hidden = true;
    $("view").hidden = true;
    $("view").replaceChildren();
    $("signin").hidden = false;
    $("signin-message").textContent = why || "";
    $("signin-message").className = why ? "message info" : "message";
    if (location.hash) history.replaceState(null, "", location.pathname);
    $("api-key").focus();
  }

  function showConsole() {
    $("signin").hidden = true;
    $("bar").hidden = false;
    $("view").hidden = false;
    const scopes = [...session.scopes].join(" ") || "no scopes";
    $("who").textContent = `${session.consumer.name} · ${scopes}`;
    for (const li of document.querySelectorAll("#nav li")) {
      const scope = li.dataset.scope;
      li.hidden = !!scope && !can(scope);
    }
  }

  function landingPage() {
    if (can("usage:read")) return "#/usage";
    if (can("webhooks:read")) return "#/subscriptions";
    return "#/keys";
  }

  // ---------------------------------------------------------------- router

  const pages = [
    [/^#\/usage$/, usagePage],
    [/^#\/keys$/, keysPage],
    [/^#\/subscriptions$/, subscriptionsPage],
    [/^#\/subscriptions\/([0-9a-f-]{36})$/, subscriptionPage],
    [/^#\/deliveries(?:\/([0-9a-f-]{36}))?$/, deliveriesPage],
    [/^#\/admin$/, adminPage],
  ];

  async function route() {
    if (!session) return;
    const hash = location.hash || landingPage();
    const match = pages.map(([re, page]) => [hash.match(re), page]).find(([m]) => m);
    for (const a of document.querySelectorAll("#nav a")) {
      const current = hash.startsWith(a.getAttribute("href"));
      if (current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const view = $("view");
    if (!match) {
      view.replaceChildren(el("h1", { tabindex: "-1" }, "Not found"), message("There is no such page.", "error"));
      return;
    }
    const [m, page] = match;
    const heading = el("h1", { tabindex: "-1" }, "…");
    const body = el("div", { class: "page" });
    view.replaceChildren(heading, body);
    try {
      await page(heading, body, ...m.slice(1));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      body.append(message(`Could not load this page: ${e.message}`, "error"));
    }
    if (view.contains(heading)) heading.focus({ preventScroll: true });
  }

  // ---------------------------------------------------------------- usage

  async function usagePage(h1, body) {
    h1.textContent = "Usage";
    const me = await api("GET", "/me");
    const q = me.quota;
    const r = me.rate_limit;
    const quota = el("section", { class: "card", "aria-labelledby": "quota-h" },
      el("h2", { id: "quota-h" }, "Today's quota"),
      el("p", { class: "big", id: "quota-used" }, `${fmtNum(q.used)} of ${fmtNum(q.limit)} requests`),
      el("progress", { max: q.limit, value: Math.min(q.used, q.limit), "aria-labelledby": "quota-h" }),
      el("p", {}, `${fmtNum(q.remaining)} left; resets at ${fmtTime(q.resets_at)}`));
    const rate = el("section", { class: "card", "aria-labelledby": "rate-h" },
      el("h2", { id: "rate-h" }, "Rate limit"),
      el("p", { class: "big" }, `${fmtNum(r.limit)} requests per minute`),
      el("p", {}, `${fmtNum(r.remaining)} left in the current minute`));
    const chooser = el("div", { class: "segmented", role: "group", "aria-label": "Bucket" });
    const charts = el("div", { class: "charts" });
    body.append(el("div", { class: "cards" }, quota, rate), chooser, charts);

    let bucket = "hour";
    const draw = async () => {
      chooser.replaceChildren(
        button("Last 48 hours", () => { bucket = "hour"; draw(); }, { "aria-pressed": String(bucket === "hour") }),
        button("Last 14 days", () => { bucket = "day"; draw(); }, { "aria-pressed": String(bucket === "day") }));
      const today = new Date();
      const days = bucket === "hour" ? 1 : 13;
      const since = new Date(today.getTime() - days * 86400000).toISOString().slice(0, 10);
      const usage = await api("GET", `/usage?bucket=${bucket}&since=${since}`);
      const render = () => charts.replaceChildren(...usageCharts(usage, bucket, charts.clientWidth));
      render();
      // Redrawn at the new width, so the axis text stays readable.
      onResize = () => { if (document.body.contains(charts)) render(); };
    };
    await draw();
  }

  /** What to redraw when the window is resized (the usage charts). */
  let onResize = null;
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (onResize) onResize(); }, 100);
  });

  /** The buckets from the first to the current one, filled from `totals`. */
  function series(usage, bucket) {
    const step = bucket === "hour" ? 3600000 : 86400000;
    const start = Date.parse(usage.since + "T00:00:00Z");
    const now = Date.now();
    const end = bucket === "hour" ? Math.floor(now / step) * step : Date.parse(usage.until + "T00:00:00Z");
    const byStart = new Map(usage.totals.map((t) => [Date.parse(t.start), t]));
    const out = [];
    for (let t = start; t <= end; t += step) {
      out.push(byStart.get(t) || { start: new Date(t).toISOString(), requests: 0, status_2xx: 0, status_3xx: 0, status_4xx: 0, status_5xx: 0, p50_ms: null, p95_ms: null });
    }
    return out;
  }

  function bucketLabel(iso, bucket) {
    const d = new Date(iso);
    return bucket === "hour"
      ? `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:00`
      : `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  }

  const CLASSES = [["status_2xx", "2xx"], ["status_3xx", "3xx"], ["status_4xx", "4xx"], ["status_5xx", "5xx"]];

  function usageCharts(usage, bucket, width) {
    // Side by side from 900 px; each chart drawn at its pixel width.
    const perChart = width >= 900 ? (width - 16) / 2 - 34 : width - 34;
    W = Math.max(280, Math.floor(perChart));
    const points = series(usage, bucket);
    const total = points.reduce((s, p) => s + p.requests, 0);
    const requests = el("section", { class: "card wide", "aria-labelledby": "req-h" },
      el("h2", { id: "req-h" }, `Requests by status class (${fmtNum(total)} in all, UTC ${bucket}s)`),
      barChart(points, bucket),
      legend(CLASSES.map(([, name]) => [name, `c${name}`])));
    const latency = el("section", { class: "card wide", "aria-labelledby": "lat-h" },
      el("h2", { id: "lat-h" }, "Latency across endpoints"),
      lineChart(points, bucket),
      legend([["p50", "cp50"], ["p95", "cp95"]]));
    const busy = points.filter((p) => p.requests > 0).reverse();
    const perBucket = el("details", { class: "card wide full" },
      el("summary", {}, "The same as a table"),
      table("Requests per bucket", ["Bucket (UTC)", "Requests", "2xx", "3xx", "4xx", "5xx", "p50", "p95"],
        busy.map((p) => el("tr", {},
          el("td", {}, bucketLabel(p.start, bucket)), el("td", { class: "num" }, fmtNum(p.requests)),
          CLASSES.map(([k]) => el("td", { class: "num" }, fmtNum(p[k]))),
          el("td", { class: "num" }, fmtMs(p.p50_ms)), el("td", { class: "num" }, fmtMs(p.p95_ms))))));
    const endpoints = new Map();
    for (const row of usage.data) {
      const key = `${row.method} ${row.endpoint}`;
      const e = endpoints.get(key) || { key, requests: 0, status_2xx: 0, status_3xx: 0, status_4xx: 0, status_5xx: 0, p95_ms: null };
      e.requests += row.requests;
      for (const [k] of CLASSES) e[k] += row[k];
      if (row.p95_ms !== null) e.p95_ms = Math.max(e.p95_ms || 0, row.p95_ms);
      endpoints.set(key, e);
    }
    const perEndpoint = el("section", { class: "card wide full", "aria-labelledby": "ep-h" },
      el("h2", { id: "ep-h" }, "By endpoint"),
      table("Requests by endpoint", ["Endpoint", "Requests", "2xx", "3xx", "4xx", "5xx", "worst p95"],
        [...endpoints.values()].sort((a, b) => b.requests - a.requests).map((e) => el("tr", {},
          el("td", {}, el("code", {}, e.key)), el("td", { class: "num" }, fmtNum(e.requests)),
          CLASSES.map(([k]) => el("td", { class: "num" }, fmtNum(e[k]))),
          el("td", { class: "num" }, fmtMs(e.p95_ms)))), { id: "endpoint-table" }));
    return [requests, latency, perBucket, perEndpoint];
  }

  function legend(items) {
    return el("ul", { class: "legend" }, items.map(([name, cls]) =>
      el("li", {}, el("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), name)));
  }

  /** Chart size in pixels: W is set to the space there is before drawing. */
  let W = 720;
  const H = 220, L = 44, B = 24, T = 10;

  function axes(max, n, points, bucket) {
    const g = svg("g", { class: "axes" });
    for (let i = 0; i <= 4; i++) {
      const y = T + (H - T - B) * (1 - i / 4);
      g.append(svg("line", { x1: L, x2: W, y1: y, y2: y, class: "grid" }));
      const label = svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" });
      label.textContent = fmtNum(Math.round((max * i) / 4 * 10) / 10);
      g.append(label);
    }
    const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor((W - L) / 80))));
    points.forEach((p, i) => {
      if (i % every !== 0) return;
      const x = L + ((W - L) * (i + 0.5)) / n;
      const label = svg("text", { x, y: H - 6, "text-anchor": "middle" });
      label.textContent = bucketLabel(p.start, bucket).slice(bucket === "hour" ? 6 : 5);
      g.append(label);
    });
    return g;
  }

  function niceMax(v) {
    if (v <= 4) return 4;
    const mag = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * mag) return m * mag;
    return v;
  }

  /** Stacked bars per bucket; each segment's <title> gives its number on hover. */
  function barChart(points, bucket) {
    const n = points.length;
    const max = niceMax(Math.max(...points.map((p) => p.requests), 1));
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", id: "requests-chart",
      "aria-label": `Requests per ${bucket}, stacked by status class` });
    chart.append(axes(max, n, points, bucket));
    const bw = Math.max(1, ((W - L) / n) * 0.7);
    points.forEach((p, i) => {
      let y = H - B;
      const x = L + ((W - L) * (i + 0.5)) / n - bw / 2;
      const g = svg("g", { class: "bar", "data-requests": p.requests });
      for (const [k, name] of CLASSES) {
        if (!p[k]) continue;
        const h = ((H - T - B) * p[k]) / max;
        y -= h;
        const rect = svg("rect", { x, y, width: bw, height: Math.max(h, 0.5), class: `c${name}` });
        rect.append(svg("title"));
        rect.lastChild.textContent = `${bucketLabel(p.start, bucket)} UTC: ${fmtNum(p[k])} ${name} of ${fmtNum(p.requests)}`;
        g.append(rect);
      }
      chart.append(g);
    });
    return chart;
  }

  /** p50 and p95 latency per bucket; points carry their numbers in <title>. */
  function lineChart(points, bucket) {
    const n = points.length;
    const max = niceMax(Math.max(...points.map((p) => p.p95_ms || 0), 1));
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", id: "latency-chart",
      "aria-label": `Latency per ${bucket}, median and 95th percentile` });
    chart.append(axes(max, n, points, bucket));
    for (const [k, cls] of [["p50_ms", "cp50"], ["p95_ms", "cp95"]]) {
      let d = "";
      points.forEach((p, i) => {
        if (p[k] === null) return;
        const x = L + ((W - L) * (i + 0.5)) / n;
        const y = H - B - ((H - T - B) * p[k]) / max;
        d += `${d ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
        const dot = svg("circle", { cx: x, cy: y, r: 3, class: cls });
        dot.append(svg("title"));
        dot.lastChild.textContent = `${bucketLabel(p.start, bucket)} UTC: ${k.slice(0, 3)} ${fmtMs(p[k])}`;
        chart.append(dot);
      });
      if (d) chart.insertBefore(svg("path", { d, class: `line ${cls}` }), chart.children[1] || null);
    }
    return chart;
  }

  // ---------------------------------------------------------------- keys

  async function keysPage(h1, body) {
    h1.textContent = "Keys";
    const showTokens = el("input", { type: "checkbox", id: "show-tokens" });
    const list = el("div");
    body.append(
      el("p", {}, "Your consumer's keys, by prefix only; the keys themselves are never shown again after they are issued. Ask an operator for a new key or to revoke one."),
      el("p", { class: "inline check" }, showTokens, el("label", { for: "show-tokens" }, "Also show tokens from the token endpoint (this console's sign-ins among them)")),
      list);
    const draw = async () => {
      const keys = await all("/keys" + (showTokens.checked ? "" : "?token_type=static"));
      const now = Date.now();
      list.replaceChildren(table("Keys", ["Prefix", "Type", "Scopes", "Created", "Last used", "Expires", "State"],
        keys.map((k) => {
          const state = k.revoked_at ? badge("revoked", "bad")
            : k.expires_at && Date.parse(k.expires_at) <= now ? badge("expired", "muted") : badge("active", "good");
          return el("tr", {},
            el("td", {}, el("code", {}, `ihf_${k.key_prefix}…`)), el("td", {}, k.token_type),
            el("td", {}, k.scopes || "—"), el("td", {}, fmtTime(k.created_at)),
            el("td", {}, fmtTime(k.last_used_at)), el("td", {}, k.expires_at ? fmtTime(k.expires_at) : "never"),
            el("td", {}, state, k.revoked_at ? ` ${fmtTime(k.revoked_at)}` : ""));
        }), { id: "keys-table" }, true));
    };
    showTokens.addEventListener("change", () => draw().catch(() => {}));
    await draw();
  }

  // ---------------------------------------------------------------- subscriptions

  function health(s) {
    if (s.disabled_reason) return badge(`disabled: ${s.disabled_reason}`, "bad");
    if (!s.is_active) return badge("paused", "muted");
    if (s.failing_since) return badge(`failing since ${fmtTime(s.failing_since)}`, "warn");
    return badge("active", "good");
  }

  async function subscriptionsPage(h1, body) {
    h1.textContent = "Subscriptions";
    const subs = await all("/webhooks");
    if (can("webhooks:write")) body.append(await createForm());
    body.append(subs.length === 0 ? el("p", {}, "No subscriptions yet.") :
      table("Subscriptions", ["Event type", "Target", "Health", "Created"], subs.map((s) => el("tr", {},
        el("td", {}, el("a", { href: `#/subscriptions/${s.id}` }, s.event_type)),
        el("td", { class: "url" }, s.target_url), el("td", {}, health(s)), el("td", {}, fmtTime(s.created_at)))),
      { id: "subscriptions-table" }, true));
  }

  /** Shows a secret once, with a copy button. */
  function secretBox(title, secret, note) {
    const input = el("input", { type: "text", readonly: true, value: secret, id: "new-secret", "aria-label": title, spellcheck: "false" });
    const status = el("span", { class: "copied", role: "status" });
    const copy = button("Copy", async () => {
      try {
        await navigator.clipboard.writeText(secret);
        status.textContent = "Copied.";
      } catch (_) {
        input.select();
        status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
    }, { id: "copy-secret" });
    return el("div", { class: "secret", role: "region", "aria-label": title },
      el("h3", {}, title), el("p", {}, note), el("div", { class: "inline" }, input, copy, status));
  }

  async function createForm() {
    const types = await api("GET", "/event-types");
    const list = Array.isArray(types) ? types : types.data || [];
    const select = el("select", { id: "new-event-type", required: true },
      list.map((t) => el("option", { value: t.name || t.event_type }, t.name || t.event_type)));
    const target = el("input", { id: "new-target", type: "url", required: true, placeholder: "https://example.com/hooks" });
    const out = el("div", { "aria-live": "polite" });
    const form = el("form", { class: "card", id: "create-form" },
      el("h2", {}, "New subscription"),
      el("div", { class: "fields" },
        el("div", {}, el("label", { for: "new-event-type" }, "Event type"), select),
        el("div", { class: "grow" }, el("label", { for: "new-target" }, "Target URL"), target),
        el("div", {}, el("button", { type: "submit" }, "Create"))),
      out);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const created = await api("POST", "/webhooks", { event_type: select.value, target_url: target.value });
        // The detail page shows the secret once.
        pendingSecret = { id: created.id, secret: created.secret, title: "Signing secret" };
        location.hash = `#/subscriptions/${created.id}`;
      } catch (err) {
        if (err.status !== 401) out.replaceChildren(message(err.message, "error"));
      }
    });
    return form;
  }

  /** A secret to show once on the next subscription page. */
  let pendingSecret = null;

  async function subscriptionPage(h1, body, id) {
    const s = await api("GET", `/webhooks/${id}`);
    h1.textContent = `Subscription: ${s.event_type}`;
    const out = el("div", { "aria-live": "polite", id: "action-result" });
    if (pendingSecret && pendingSecret.id === id) {
      out.append(secretBox(pendingSecret.title, pendingSecret.secret,
        "Shown once: store it where your receiver verifies signatures."));
      pendingSecret = null;
    }
    const rows = [
      ["Id", el("code", {}, s.id)],
      ["Event type", s.event_type],
      ["Target URL", el("span", { class: "url", id: "detail-target" }, s.target_url)],
      ["Health", health(s)],
      ["Active", s.is_active ? "yes" : "no"],
      ["Disabled reason", s.disabled_reason || "—"],
    ];
    // Health details appear when the API gives them.
    for (const [field, label] of [["failing_since", "Failing since"], ["last_success_at", "Last success"],
      ["last_failure_at", "Last failure"], ["next_attempt_at", "Next attempt"]]) {
      if (field in s) rows.push([label, fmtTime(s[field])]);
    }
    if ("last_error" in s) rows.push(["Last error", s.last_error || "—"]);
    rows.push(["Created", fmtTime(s.created_at)], ["Updated", fmtTime(s.updated_at)]);
    const dl = el("dl", { class: "props" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    const links = el("p", {}, can("deliveries:read") ? el("a", { href: `#/deliveries/${id}`, id: "to-deliveries" }, "Deliveries of this subscription →") : null);
    // Results (and a new secret) go at the top, where they are seen first.
    body.append(out, dl, links);
    if (can("webhooks:write")) body.append(actions(s, out));
  }

  function actions(s, out) {
    const show = (node) => out.replaceChildren(node);
    const guard = (fn) => async () => {
      try {
        await fn();
      } catch (err) {
        if (err.status !== 401) show(message(err.message, "error"));
      }
    };
    const target = el("input", { id: "edit-target", type: "url", value: s.target_url, required: true });
    const edit = el("form", { class: "fields", id: "edit-form" },
      el("div", { class: "grow" }, el("label", { for: "edit-target" }, "Target URL"), target),
      el("div", {}, el("button", { type: "submit" }, "Save")));
    edit.addEventListener("submit", (e) => {
      e.preventDefault();
      guard(async () => {
        await api("PATCH", `/webhooks/${s.id}`, { target_url: target.value });
        await route();
        $("action-result").replaceChildren(message("Saved.", "ok"));
      })();
    });
    const toggle = button(s.is_active ? "Pause" : "Resume", guard(async () => {
      await api("PATCH", `/webhooks/${s.id}`, { is_active: !s.is_active });
      await route();
    }), { id: "toggle-active" });
    const test = button("Send test event", guard(async () => {
      const r = await api("POST", `/webhooks/${s.id}/test`);
      show(message(r.delivered
        ? `Test event delivered: HTTP ${r.response_code} in ${r.latency_ms} ms.`
        : `Test event failed: ${r.error_message || "no answer"}.`, r.delivered ? "ok" : "error"));
    }), { id: "send-test" });
    const rotate = button("Rotate secret", guard(async () => {
      const r = await api("POST", `/webhooks/${s.id}/secret/rotate`);
      show(secretBox("New signing secret", r.secret,
        `Shown once. The old secret keeps signing alongside until ${fmtTime(r.previous_secret_expires_at)}.`));
      $("new-secret").focus();
      $("new-secret").select();
    }), { id: "rotate-secret" });
    const remove = button("Delete", () => {
      const really = button("Really delete this subscription", guard(async () => {
        await api("DELETE", `/webhooks/${s.id}`);
        location.hash = "#/subscriptions";
      }), { class: "danger", id: "confirm-delete" });
      show(el("p", { class: "inline" }, "Deliveries to it stop; its history is kept. ", really,
        button("Cancel", () => out.replaceChildren(), { class: "secondary" })));
      really.focus();
    }, { class: "danger", id: "delete" });
    return el("section", { class: "card", "aria-labelledby": "act-h", id: "actions" },
      el("h2", { id: "act-h" }, "Change"), edit, el("div", { class: "buttons" }, toggle, test, rotate, remove));
  }

  // ---------------------------------------------------------------- deliveries

  async function deliveriesPage(h1, body, id) {
    h1.textContent = "Deliveries";
    const subs = can("webhooks:read") ? await all("/webhooks") : [];
    const pick = el("select", { id: "delivery-subscription" },
      el("option", { value: "" }, "Choose a subscription"),
      subs.map((s) => el("option", { value: s.id, selected: s.id === id }, `${s.event_type} → ${s.target_url}`)));
    const status = el("select", { id: "delivery-status" },
      [["", "any status"], ["delivered", "delivered"], ["failed", "failed"], ["pending", "pending"]]
        .map(([v, t]) => el("option", { value: v }, t)));
    const since = el("input", { type: "datetime-local", id: "delivery-since", step: "1" });
    const filters = el("form", { class: "fields card", id: "delivery-filters" },
      el("div", { class: "grow" }, el("label", { for: "delivery-subscription" }, "Subscription"), pick),
      el("div", {}, el("label", { for: "delivery-status" }, "Status"), status),
      el("div", {}, el("label", { for: "delivery-since" }, "Since (UTC)"), since),
      el("div", {}, el("button", { type: "submit" }, "Show")));
    const out = el("div", { "aria-live": "polite", id: "delivery-result" });
    const list = el("div");
    body.append(filters, out, list);
    pick.addEventListener("change", () => { location.hash = pick.value ? `#/deliveries/${pick.value}` : "#/deliveries"; });
    filters.addEventListener("submit", (e) => { e.preventDefault(); load(null).catch(() => {}); });
    if (!id) {
      list.append(el("p", {}, subs.length ? "Choose a subscription to see its attempts." : "No subscriptions yet."));
      return;
    }
    const tbody = el("tbody");
    const more = el("div");
    const load = async (cursor) => {
      let q = `?limit=50`;
      if (status.value) q += `&status=${status.value}`;
      if (since.value) q += `&since=${encodeURIComponent(new Date(since.value + "Z").toISOString())}`;
      if (cursor) q += `&cursor=${encodeURIComponent(cursor)}`;
      const page = await api("GET", `/webhooks/${id}/deliveries${q}`);
      if (!cursor) tbody.replaceChildren();
      for (const d of page.data) tbody.append(...deliveryRows(d, id, out));
      label(tbody, HEADERS);
      more.replaceChildren(page.next_cursor ? button("Load older", () => load(page.next_cursor).catch(() => {}), { class: "secondary" }) : "");
      if (!cursor && page.data.length === 0) tbody.append(el("tr", {}, el("td", { colspan: 7 }, "No attempts match.")));
    };
    const HEADERS = ["Attempted (UTC)", "Event", "Status", "Code", "Latency", "Error", ""];
    list.append(el("div", { class: "table-wrap" }, el("table", { id: "deliveries-table", class: "stack" },
      el("caption", { class: "sr-only" }, "Attempts, newest first"),
      el("thead", {}, el("tr", {}, HEADERS.map((h) => el("th", { scope: "col" }, h)))),
      tbody)), more,
    button("Refresh", () => load(null).catch(() => {}), { class: "secondary", id: "refresh-deliveries" }));
    await load(null);
  }

  function deliveryRows(d, subscription, out) {
    const kind = { delivered: "good", failed: "bad", pending: "muted" }[d.status] || "muted";
    // A delivery's later rows are shown with its first row's body; once that
    // row is past the log's retention only the event's reference is left.
    const bodyGone = d.payload && typeof d.payload === "object" && !("data" in d.payload);
    const envelope = el("tr", { class: "envelope", hidden: true },
      el("td", { colspan: 7 },
        bodyGone && el("p", { class: "muted body-gone" },
          "The body is past the delivery log's retention; only the event's reference is left."),
        el("pre", {}, JSON.stringify(d.payload, null, 2))));
    const show = button("Envelope", () => {
      envelope.hidden = !envelope.hidden;
      show.setAttribute("aria-expanded", String(!envelope.hidden));
    }, { class: "secondary small", "aria-expanded": "false" });
    const cells = [show];
    if (can("webhooks:write") && d.event_id) {
      cells.push(button("Redeliver", async () => {
        try {
          await api("POST", `/webhooks/${subscription}/events/${d.event_id}/redeliver`);
          out.replaceChildren(message(`Event ${d.event_id} scheduled again; refresh to see the new attempt.`, "ok"));
        } catch (err) {
          if (err.status !== 401) out.replaceChildren(message(err.message, "error"));
        }
      }, { class: "small redeliver" }));
    }
    const row = el("tr", { class: `delivery ${d.status}`, "data-event": d.event_id || "" },
      el("td", {}, fmtTime(d.attempted_at)),
      el("td", {}, el("code", { title: d.event_id || "" }, (d.event_id || "—").slice(0, 8)), " ", d.event_type || ""),
      el("td", {}, badge(d.status, kind)),
      el("td", { class: "num code" }, d.response_code === null ? "—" : String(d.response_code)),
      el("td", { class: "num" }, fmtMs(d.latency_ms)),
      el("td", { class: "error" }, d.error_message || ""),
      el("td", { class: "buttons" }, cells));
    return [row, envelope];
  }

  // ---------------------------------------------------------------- admin

  async function adminPage(h1, body) {
    h1.textContent = "Admin: every consumer";
    const rows = await all("/admin/overview");
    body.append(table("Consumers", ["Consumer", "State", "Used today", "Quota per day", "Per minute", "Healthy", "Failing", "Paused", "Disabled"],
      rows.map(({ consumer: c, subscriptions: h }) => el("tr", {},
        el("td", {}, el("div", {}, c.name, el("br"), el("code", { class: "muted" }, c.id))),
        el("td", {}, c.is_active ? badge("active", "good") : badge("inactive", "muted")),
        el("td", {}, el("progress", { max: c.quota_per_day, value: Math.min(c.quota_used, c.quota_per_day), "aria-label": `${c.name}: quota used` }),
          " ", fmtNum(c.quota_used)),
        el("td", { class: "num" }, fmtNum(c.quota_per_day)),
        el("td", { class: "num" }, fmtNum(c.rate_limit_per_minute)),
        el("td", { class: "num" }, fmtNum(h.healthy)),
        el("td", { class: "num" }, h.failing ? badge(fmtNum(h.failing), "warn") : "0"),
        el("td", { class: "num" }, fmtNum(h.paused)),
        el("td", { class: "num" }, h.disabled ? badge(fmtNum(h.disabled), "bad") : "0"))),
      { id: "admin-table" }, true));
  }

  // ---------------------------------------------------------------- start

  function start() {
    $("signin-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const input = $("api-key");
      const key = input.value.trim();
      const msg = $("signin-message");
      msg.className = "message";
      msg.textContent = "Signing in…";
      $("signin-button").disabled = true;
      try {
        await signIn(key);
        input.value = "";
        msg.textContent = "";
        showConsole();
        if (location.hash) await route();
        else location.hash = landingPage();
      } catch (err) {
        msg.className = "message error";
        msg.textContent = err.message;
        input.focus();
        input.select();
      } finally {
        $("signin-button").disabled = false;
      }
    });
    $("sign-out").addEventListener("click", () => signOut("Signed out."));
    window.addEventListener("hashchange", () => { route(); });
    signOut("");
  }

  start();
})();
