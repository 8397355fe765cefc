// Two real tabs of Debian's headless Chromium share one session through the
// SDK's defaults (localStorage, navigator.locks, BroadcastChannel): their
// concurrent refreshes rotate the refresh token once, and a force logout
// reaches both tabs as a "terminated" event. The page and the SDK (dist/esm)
// are served by a local server that also proxies /api to the real service,
// so the page, the SDK and the service share one origin.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, normalize, resolve } from "node:path";
import { after, before, test } from "node:test";
import CDP from "chrome-remote-interface";
import { startService, waitFor } from "./harness.mjs";

const chromium = process.env.SM_CHROMIUM ?? "/usr/bin/chromium";
const required = process.env.SM_REQUIRE_SERVICES === "1";
const missing = !existsSync(chromium);
if (missing && required) throw new Error(`${chromium} is missing and services are required: apt-get install -y chromium`);
const dist = resolve(import.meta.dirname, "../dist/esm");

let svc, cookieSvc, dpopSvc, upstream, site, browser, profile, devtoolsPort, refreshes = 0;
before(async () => {
  if (missing) return;
  svc = await startService({ SM_REFRESH_GRACE: "1ms" });
  upstream = svc.base;
  site = createServer(async (req, res) => {
    try {
      if (req.url === "/") {
        res.setHeader("Content-Type", "text/html");
        return res.end("<!doctype html><title>app</title><p>app</p>");
      }
      if (req.url.startsWith("/sdk/")) {
        const file = normalize(join(dist, req.url.slice(5)));
        if (!file.startsWith(dist) || !existsSync(file)) return res.writeHead(404).end();
        res.setHeader("Content-Type", "text/javascript");
        return res.end(readFileSync(file));
      }
      if (req.url.startsWith("/api/")) {
        if (req.url === "/api/auth/refresh") refreshes++;
        const chunks = [];
        for await (const c of req) chunks.push(c);
        const headers = {};
        for (const h of ["authorization", "content-type", "accept", "cookie", "dpop"]) if (req.headers[h]) headers[h] = req.headers[h];
        const up = await fetch(upstream + req.url, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        const out = {};
        up.headers.forEach((v, k) => (out[k] = v));
        delete out["content-encoding"];
        delete out["content-length"];
        if (up.headers.getSetCookie().length) out["set-cookie"] = up.headers.getSetCookie();
        res.writeHead(up.status, out);
        return res.end(Buffer.from(await up.arrayBuffer()));
      }
      res.writeHead(404).end();
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  });
  site.listen(0, "127.0.0.1");
  await once(site, "listening");
  profile = mkdtempSync(join(tmpdir(), "msm-sdk-chromium-"));
  browser = spawn(chromium, [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-default-browser-check",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  devtoolsPort = await new Promise((ok, fail) => {
    browser.stderr.on("data", (d) => {
      stderr += d;
      const m = stderr.match(/DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) ok(Number(m[1]));
    });
    browser.once("exit", () => fail(new Error("chromium exited: " + stderr)));
  });
}, { timeout: 60_000 });
after(async () => {
  if (browser && browser.exitCode === null) {
    browser.kill();
    await once(browser, "exit");
  }
  // Chromium's helper processes may still write the profile for a moment
  // after the browser exits: removing the temporary profile is best effort.
  for (let i = 0; profile && i < 20; i++) {
    try { rmSync(profile, { recursive: true, force: true }); break; } catch { await new Promise((ok) => setTimeout(ok, 100)); }
  }
  site?.closeAllConnections();
  await new Promise((ok) => (site ? site.close(ok) : ok()));
  await svc?.close();
  await cookieSvc?.close();
  await dpopSvc?.close();
});

/** Opens a tab on the app's origin with the SDK loaded as window.client. */
async function openTab(clientOptions = {}) {
  const origin = `http://127.0.0.1:${site.address().port}`;
  const target = await CDP.New({ port: devtoolsPort, url: origin + "/" });
  const cdp = await CDP({ port: devtoolsPort, target });
  await cdp.Runtime.enable();
  const tab = {
    async eval(expression) {
      const r = await cdp.Runtime.evaluate({ expression: `(async () => { ${expression} })()`, awaitPromise: true, returnByValue: true });
      if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
      return r.result.value;
    },
    close: () => cdp.close(),
  };
  await waitFor("the page loads", async () => (await tab.eval("return location.origin + ' ' + document.readyState")) === origin + " complete");
  const locks = await tab.eval(`
    const sdk = await import("${origin}/sdk/index.js");
    window.sdk = sdk;
    window.client = new sdk.SessionClient(${JSON.stringify(clientOptions)});
    window.seen = [];
    for (const type of ["tokens", "terminated", "logout"]) client.on(type, (e) => seen.push({ type, reason: e.reason }));
    return typeof navigator.locks.request;`);
  assert.equal(locks, "function", "the tab has the Web Locks API the SDK uses by default");
  return tab;
}

test("two browser tabs: concurrent refreshes rotate once; a force logout reaches both", { skip: missing && `${chromium} is missing`, timeout: 90_000 }, async () => {
  const a = await openTab();
  const b = await openTab();
  try {
    const reg = await a.eval(`return await client.register({ username: "rita", email: "rita@example.com", password: "correct horse battery staple" })`);
    // Tab B sees the session through the default store (IndexedDB) and heard of it on the channel.
    assert.ok((await b.eval("return (await indexedDB.databases()).map((d) => d.name)")).includes("msm"));
    assert.equal(await b.eval("return (await client.session()).sessionId"), reg.session.id);
    await waitFor("tab B hears of the sign-in", async () => (await b.eval("return seen.length")) > 0);

    for (let round = 1; round <= 3; round++) {
      const burst = "const r = await Promise.all([...Array(5)].map(() => client.refresh())); return r.map((s) => s.refreshToken);";
      const [ra, rb] = await Promise.all([a.eval(burst), b.eval(burst)]);
      assert.equal(refreshes, round, `round ${round}: ten refreshes in two tabs, one rotation`);
      assert.equal(new Set([...ra, ...rb]).size, 1);
      await new Promise((r) => setTimeout(r, 5)); // past the 1ms grace
    }
    assert.equal(await a.eval("return (await client.me()).username"), "rita");
    assert.equal(await b.eval("return (await client.me()).username"), "rita");

    const write = await svc.token("write");
    assert.equal((await svc.call("POST", `/api/admin/sessions/${reg.session.id}/terminate`, { token: write })).status, 200);
    const err = await a.eval("try { await client.me(); return null } catch (e) { return { name: e.name, endReason: e.endReason, status: e.status } }");
    assert.deepEqual(err, { name: "SessionTerminatedError", endReason: "manual", status: 401 });
    await waitFor("tab B hears of the end", async () => (await b.eval("return seen.some((e) => e.type === 'terminated')")));
    assert.deepEqual(await b.eval("return seen.filter((e) => e.type === 'terminated')"), [{ type: "terminated", reason: "manual" }]);
    assert.equal(await b.eval("return await client.session()"), null);
  } finally {
    await a.close();
    await b.close();
  }
});

test("refresh token in an HttpOnly cookie (SM_REFRESH_COOKIE): never stored by the SDK", { skip: missing && `${chromium} is missing`, timeout: 90_000 }, async () => {
  cookieSvc = await startService({ SM_REFRESH_COOKIE: "msm_refresh" });
  upstream = cookieSvc.base;
  const tab = await openTab({ refreshCookie: true, storageKey: "msm.cookie" });
  try {
    const reg = await tab.eval(`return await client.register({ username: "sven", email: "sven@example.com", password: "correct horse battery staple" })`);
    assert.ok(reg.refreshToken, "the server still answers the token in the body");
    const stored = await tab.eval("return await client.session()");
    assert.equal(stored.sessionId, reg.session.id);
    assert.equal(stored.refreshToken, undefined);
    assert.equal(await tab.eval("return document.cookie"), "", "the cookie is HttpOnly");
    const before = refreshes;
    const next = await tab.eval("return await client.refresh()");
    assert.equal(refreshes, before + 1);
    assert.notEqual(next.jwt, reg.jwt);
    assert.equal(next.refreshToken, undefined);
    assert.equal(await tab.eval("return (await client.me()).username"), "sven");
    await tab.eval("await client.logout(); return 1");
    assert.equal(await tab.eval("return await client.session()"), null);
  } finally {
    await tab.close();
  }
});

test("DPoP in the browser: a non-extractable key in IndexedDB, shared by the tabs, signs every request", { skip: missing && `${chromium} is missing`, timeout: 90_000 }, async () => {
  // The proofs name the page's origin (this proxy): the service learns it from SM_PUBLIC_URL.
  dpopSvc = await startService({ SM_PUBLIC_URL: `http://127.0.0.1:${site.address().port}` });
  upstream = dpopSvc.base;
  const a = await openTab({ dpop: true, storageKey: "msm.dpop" });
  const b = await openTab({ dpop: true, storageKey: "msm.dpop" });
  try {
    // Both tabs start at once: the key is made once (a Web Lock), not once per tab.
    const [ta, tb] = await Promise.all([a.eval("return await client.dpopThumbprint()"), b.eval("return await client.dpopThumbprint()")]);
    assert.equal(ta, tb, "two tabs starting together share one key");
    const reg = await a.eval(`return await client.register({ username: "dora", email: "dora@example.com", password: "correct horse battery staple" })`);
    assert.equal(reg.token_type, "DPoP");
    const jkt = JSON.parse(Buffer.from(reg.jwt.split(".")[1], "base64url")).cnf?.jkt;
    assert.equal(await a.eval("return await client.dpopThumbprint()"), jkt);
    assert.equal(await b.eval("return await client.dpopThumbprint()"), jkt, "the other tab signs with the same key");
    assert.equal(await a.eval(`
      const db = await new Promise((ok, fail) => { const r = indexedDB.open("msm-dpop"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
      const pair = await new Promise((ok) => { const r = db.transaction("keys").objectStore("keys").get("msm.dpop"); r.onsuccess = () => ok(r.result); });
      return pair.privateKey.extractable;`), false, "the stored private key cannot be exported");
    assert.equal(await b.eval("return (await client.me()).username"), "dora");
    await a.eval("await client.refresh(); return 1");
    assert.equal(await b.eval("return (await client.me()).username"), "dora");
    // The tokens alone, from anywhere else, are refused.
    const stolen = await a.eval("return await client.session()");
    const me = await dpopSvc.call("GET", "/api/users/me", { token: stolen.jwt });
    assert.equal(me.status, 401);
    // Sent as a bearer token, a bound token is refused for its scheme
    // (RFC 9449 §7.1: no downgrade to Bearer) before any proof is read.
    assert.equal(me.body?.error?.details?.reason, "invalid_token");
  } finally {
    await a.close();
    await b.close();
  }
});
