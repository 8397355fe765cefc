// The plugin in a real Strapi 5 (SQLite, users-permissions) against the
// real sessionmanager binary: sign-ins through Strapi become sessions of
// the service, a force logout there is refused by Strapi within a second,
// refresh and logout go through, errors keep Strapi's shape.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { skipOrFail, startMailbox, startService, waitFor } from "../../sdk/test/harness.mjs";
import { jwtHeader, jwtPayload, startStrapi } from "./strapi.mjs";

const chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const password = "correct horse battery staple";

const vpnIP = "45.83.220.7"; // in SM_VPN_RANGES below

let svc, strapi, admin, smtp, scratch;

/**
 * An Advanced licence for a build with -tags licensetest (ci-test.sh
 * builds one), which trusts SM_LICENSE_PUBLIC_KEY: a vendor key made here
 * signs it. Empty without SM_BINARY (the challenge test then skips).
 */
async function advancedLicence() {
  const bin = process.env.SM_BINARY;
  if (!bin) return {};
  const run = promisify(execFile);
  const key = join(scratch, "vendor.key");
  const { stdout: pub } = await run(bin, ["license", "keygen", "--out", key]);
  const expires = new Date(Date.now() + 2 * 86400_000).toISOString().slice(0, 10);
  const { stdout: lic } = await run(bin, ["license", "issue", "--key", key, "--licensee", "Strapi plugin tests", "--edition", "advanced", "--expires", expires]);
  return { SM_LICENSE_PUBLIC_KEY: pub.trim(), LICENSE_KEY: lic.trim() };
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), "msm-strapi-test-"));
  writeFileSync(join(scratch, "vpn.txt"), "45.83.220.0/22\n");
  smtp = await startMailbox();
  svc = await startService({
    // Strapi (127.0.0.1) passes the end user's address on in X-Forwarded-For.
    SM_TRUSTED_PROXIES: "127.0.0.1",
    SM_VPN_RANGES: join(scratch, "vpn.txt"),
    SMTP_URL: smtp.url,
    ...(await advancedLicence()),
  });
  const service = await svc.token("service");
  admin = await svc.token("write");
  // Koa believes X-Forwarded-For (proxy.koa): as behind a proxy.
  strapi = await startStrapi(svc, service, { STRAPI_TRUST_PROXY: "true" });
});

after(async () => {
  await strapi?.stop();
  await svc?.close();
  await smtp?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
/** Registers a user through Strapi; returns Strapi's answer. */
async function register(prefix = "ada") {
  const username = `${prefix}${++n}`;
  const r = await strapi.call("POST", "/api/auth/local/register", {
    body: { username, email: `${username}@example.com`, password },
    headers: { "User-Agent": chrome, "X-Forwarded-For": "203.0.113.7" },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { username, ...r.body };
}

async function signIn(identifier, headers = {}) {
  return strapi.call("POST", "/api/auth/local", { body: { identifier, password }, headers: { "User-Agent": chrome, ...headers } });
}

/** The challenge code last emailed to `to` (the service's mail says "code is: 123456"). */
async function emailedCode(to) {
  let code;
  await waitFor(`a code emailed to ${to}`, () => {
    const mails = smtp.messages.filter((m) => m.to.includes(to));
    code = mails.at(-1)?.raw.replace(/=\r?\n/g, "").match(/code is:\s+(\d{6})/)?.[1];
    return code !== undefined;
  });
  return code;
}

/** Polls until Strapi refuses token; returns the refusal and how long it took after `since`. */
async function refusedAfter(token, since) {
  for (;;) {
    const r = await strapi.call("GET", "/api/users/me", { token });
    if (r.status !== 200) return { r, ms: performance.now() - since };
    if (performance.now() - since > 10_000) throw new Error("Strapi still accepts the token after 10s");
  }
}

describe("Strapi 5 with the plugin", () => {
  test("a Strapi sign-in is a session of the service, with Strapi's answer shape and the end user's address and browser", async () => {
    const reg = await register();
    assert.equal(jwtHeader(reg.jwt).alg, "EdDSA", "register answers the service's access token, not Strapi's");
    assert.equal(typeof reg.refreshToken, "string");
    assert.equal(reg.user.username, reg.username);
    assert.equal(typeof reg.user.id, "number", "the user is Strapi's");
    assert.equal(reg.user.password, undefined, "sanitized as Strapi does");

    const login = await signIn(reg.user.email, { "X-Forwarded-For": "198.51.100.23" });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.deepEqual(Object.keys(login.body).sort(), ["jwt", "refreshToken", "user"]);
    assert.equal(login.body.user.documentId, reg.user.documentId);
    const { sub, sid } = jwtPayload(login.body.jwt);

    const me = await strapi.call("GET", "/api/users/me", { token: login.body.jwt });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.id, reg.user.id, "the token maps to the Strapi user");

    const session = await svc.call("GET", `/api/admin/sessions/${sid}`, { token: admin });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    const s = session.body.data ?? session.body;
    assert.equal(s.userId, sub);
    assert.equal(s.ip, "198.51.100.23", "the address Strapi saw (X-Forwarded-For under proxy.koa)");
    assert.equal(s.authMethod, "external");
    assert.match(JSON.stringify(s.device), /Chrome/);

    const user = await svc.call("GET", `/api/admin/users/${sub}`, { token: admin });
    assert.equal(user.status, 200, JSON.stringify(user.body));
    const u = user.body.data ?? user.body;
    assert.equal(u.externalId, `strapi:${reg.user.documentId}`);
    assert.equal(u.email, reg.user.email);
  });

  test("a force logout in the service is refused by Strapi within a second, with the reason", async () => {
    const reg = await register();
    const { sid } = jwtPayload(reg.jwt);
    assert.equal((await strapi.call("GET", "/api/users/me", { token: reg.jwt })).status, 200);

    const since = performance.now();
    const end = await svc.call("POST", `/api/admin/sessions/${sid}/terminate`, { token: admin });
    assert.equal(end.status, 200, JSON.stringify(end.body));
    const { r, ms } = await refusedAfter(reg.jwt, since);
    console.log(`# force logout refused by Strapi ${ms.toFixed(1)} ms after the admin call started`);
    assert.ok(ms < 1000, `refused after ${ms} ms`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("x-session-terminated-reason"), "manual");
    assert.equal(r.body.data, null);
    assert.equal(r.body.error.name, "UnauthorizedError");

    const refresh = await strapi.call("POST", "/api/auth/refresh", { body: { refreshToken: reg.refreshToken } });
    assert.equal(refresh.status, 401, "the refresh token died with the session");
    assert.equal(refresh.body.error.status, 401);
  });

  test("refresh and logout go through Strapi's routes to the service", async () => {
    const reg = await register();
    const refreshed = await strapi.call("POST", "/api/auth/refresh", { body: { refreshToken: reg.refreshToken } });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.deepEqual(Object.keys(refreshed.body).sort(), ["jwt", "refreshToken"]);
    assert.notEqual(refreshed.body.refreshToken, reg.refreshToken, "rotated");
    assert.equal(jwtPayload(refreshed.body.jwt).sid, jwtPayload(reg.jwt).sid);
    assert.equal((await strapi.call("GET", "/api/users/me", { token: refreshed.body.jwt })).status, 200);

    const since = performance.now();
    const out = await strapi.call("POST", "/api/auth/logout", { token: refreshed.body.jwt });
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.deepEqual(out.body, { ok: true });
    const { r } = await refusedAfter(refreshed.body.jwt, since);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("x-session-terminated-reason"), "logout");
    const s = await svc.call("GET", `/api/admin/sessions/${jwtPayload(reg.jwt).sid}`, { token: admin });
    assert.equal((s.body.data ?? s.body).status, "ended");
  });

  test("the refresh token can live in Strapi's httpOnly cookie instead of the body", async () => {
    const reg = await register();
    // Production cookies are Secure: Koa sets them on HTTPS only, here the
    // TLS-terminating proxy's X-Forwarded-Proto (proxy.koa).
    const tls = { "X-Forwarded-Proto": "https", "x-strapi-refresh-cookie": "httpOnly" };
    const login = await signIn(reg.user.email, tls);
    assert.equal(login.status, 200);
    assert.equal(login.body.refreshToken, undefined);
    const cookie = login.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^strapi_up_refresh=[^;]+;.*secure;.*httponly/i);
    const r = await strapi.call("POST", "/api/auth/refresh", { headers: { Cookie: cookie.split(";")[0], ...tls } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body), ["jwt"]);
    assert.notEqual(r.headers.get("set-cookie")?.split(";")[0], cookie.split(";")[0], "the cookie carries the rotated token");
  });

  test("a login the service refuses keeps Strapi's error shape (403 user_blocked)", async () => {
    const reg = await register();
    const { sub } = jwtPayload(reg.jwt);
    const block = await svc.call("POST", `/api/admin/users/${sub}/block`, { token: admin });
    assert.equal(block.status, 200, JSON.stringify(block.body));
    const r = await signIn(reg.user.email);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.data, null);
    assert.equal(r.body.error.status, 403);
    assert.equal(r.body.error.name, "ForbiddenError");
    assert.equal(r.body.error.details.reason, "user_blocked");
    assert.equal((await strapi.call("GET", "/api/users/me", { token: reg.jwt })).status, 401, "blocking ended the session too");
  });

  test("concurrent sign-ins of one user all work and share one service user", async () => {
    const reg = await register();
    const logins = await Promise.all(Array.from({ length: 8 }, () => signIn(reg.user.email)));
    assert.deepEqual(logins.map((r) => r.status), Array(8).fill(200));
    const subs = new Set(logins.map((r) => jwtPayload(r.body.jwt).sub));
    assert.deepEqual([...subs], [jwtPayload(reg.jwt).sub]);
    const sids = new Set(logins.map((r) => jwtPayload(r.body.jwt).sid));
    assert.equal(sids.size, 8, "eight sessions");
    for (const r of logins) assert.equal((await strapi.call("GET", "/api/users/me", { token: r.body.jwt })).body.id, reg.user.id);
  });

  test("a live token of a user Strapi never handed over is refused", async () => {
    const direct = await svc.register(`direct${++n}`);
    assert.equal((await svc.call("GET", "/api/users/me", { token: direct.jwt })).status, 200, "live at the service");
    assert.equal((await strapi.call("GET", "/api/users/me", { token: direct.jwt })).status, 401);
  });

  test("Strapi's own JWTs no longer authenticate; a wrong password is still Strapi's 400", async () => {
    const reg = await register();
    const h = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const p = Buffer.from(JSON.stringify({ id: reg.user.id, iat: now, exp: now + 3600 })).toString("base64url");
    const sig = createHmac("sha256", strapi.jwtSecret).update(`${h}.${p}`).digest("base64url");
    const r = await strapi.call("GET", "/api/users/me", { token: `${h}.${p}.${sig}` });
    assert.equal(r.status, 401, "a users-permissions JWT signed with Strapi's own secret is refused");

    const bad = await strapi.call("POST", "/api/auth/local", { body: { identifier: reg.user.email, password: "wrong" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.message, "Invalid identifier or password");
  });

  test("with the service down a sign-in is 503 in Strapi's shape; after its restart the feed resumes and a force logout is refused", async () => {
    const reg = await register();
    await svc.stop();
    try {
      const r = await signIn(reg.user.email);
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.data, null);
      assert.equal(r.body.error.details.reason, "session_service_unavailable");
    } finally {
      await svc.start();
    }
    const login = await signIn(reg.user.email);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const { sid } = jwtPayload(login.body.jwt);
    assert.equal((await svc.call("POST", `/api/admin/sessions/${sid}/terminate`, { token: admin })).status, 200);
    // The feed reconnects with backoff: wait for it (a hang guard, not a speed assertion).
    await waitFor("Strapi refuses the ended session", async () => (await strapi.call("GET", "/api/users/me", { token: login.body.jwt })).status === 401);
  });
  test("the admin panel's page reads the dashboard link from the plugin's admin route (Strapi admins only)", async () => {
    assert.equal((await strapi.call("GET", "/magic-sessionmanager/config")).status, 401);
    // The admin panel's own sign-in is Strapi's, untouched by the plugin.
    const reg = await strapi.call("POST", "/admin/register-admin", {
      body: { email: "owner@example.com", firstname: "Ada", lastname: "Owner", password: "Admin password 1" },
    });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    const r = await strapi.call("GET", "/magic-sessionmanager/config", { token: reg.body.data.token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { data: { dashboardUrl: `${svc.base}/admin/`, feedLive: true } });
  });

  test("GET and DELETE /api/auth/sessions through Strapi are the service's Strapi-shaped session routes", async (t) => {
    if ((await svc.call("GET", "/api/auth/sessions")).status === 404) return skipOrFail(t, "this service has no Strapi 5 session routes (issue 22, parity)");
    const reg = await register();
    const other = await signIn(reg.user.email);
    assert.equal(other.status, 200);
    const list = await strapi.call("GET", "/api/auth/sessions", { token: reg.jwt });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(list.body.data.length, 2);
    assert.deepEqual(list.body.data.filter((x) => x.current).map((x) => x.id), [jwtPayload(reg.jwt).sid]);

    const otherSid = jwtPayload(other.body.jwt).sid;
    const since = performance.now();
    const del = await strapi.call("DELETE", `/api/auth/sessions/${otherSid}`, { token: reg.jwt });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.deepEqual(del.body, { data: {} });
    const { r } = await refusedAfter(other.body.jwt, since);
    assert.equal(r.status, 401);
    const again = await strapi.call("DELETE", `/api/auth/sessions/${otherSid}`, { token: reg.jwt });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.name, "NotFoundError");
  });

  test("a challenged sign-in is passed on (401 challenge_required); the email code verified through Strapi signs in the Strapi user", async (t) => {
    if ((await svc.call("POST", "/api/auth/challenge/verify", { body: {} })).status === 404) return skipOrFail(t, "this service has no challenge flow (issue 17)");
    const before = await svc.call("GET", "/api/admin/settings", { token: admin });
    const set = await svc.call("PUT", "/api/admin/settings", { token: admin, body: { actions: { vpn: "challenge" } } });
    if (set.status !== 200) return skipOrFail(t, `the challenge action needs the Advanced edition (a licensetest build, SM_BINARY): ${JSON.stringify(set.body)}`);
    const fromVPN = { "User-Agent": chrome, "X-Forwarded-For": vpnIP };
    /** Has Strapi send the challenge's email code; returns the code. */
    async function emailCode(challenge, email) {
      const sent = await strapi.call("POST", "/api/auth/challenge/send", { body: { challengeId: challenge.id, method: "email" }, headers: fromVPN });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      return emailedCode(email);
    }
    const verify = (challenge, code) =>
      strapi.call("POST", "/api/auth/challenge/verify", { body: { challengeId: challenge.id, method: "email", code }, headers: fromVPN });
    try {
      // A sign-up from the VPN: the very first session of the user is challenged.
      const first = await strapi.call("POST", "/api/auth/local/register", {
        body: { username: `vpn${++n}`, email: `vpn${n}@example.com`, password },
        headers: fromVPN,
      });
      assert.equal(first.status, 401, JSON.stringify(first.body));
      assert.equal(first.body.error.details.reason, "challenge_required");
      const firstChallenge = first.body.error.details.challenge;
      const firstOK = await verify(firstChallenge, await emailCode(firstChallenge, `vpn${n}@example.com`));
      assert.equal(firstOK.status, 200, JSON.stringify(firstOK.body));
      assert.equal(firstOK.body.user.username, `vpn${n}`, "the Strapi user of the challenged sign-up");
      assert.equal((await strapi.call("GET", "/api/users/me", { token: firstOK.body.jwt })).body.id, firstOK.body.user.id);

      const reg = await register("vera");
      const r = await signIn(reg.user.email, fromVPN);
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.data, null);
      assert.equal(r.body.error.name, "UnauthorizedError");
      assert.equal(r.body.error.details.reason, "challenge_required");
      const challenge = r.body.error.details.challenge;
      assert.ok(challenge.methods.includes("email"), JSON.stringify(challenge));

      const code = await emailCode(challenge, reg.user.email);
      const wrong = await verify(challenge, code === "000000" ? "111111" : "000000");
      assert.equal(wrong.status, 400, "a wrong code keeps the service's answer");
      assert.equal(wrong.body.error.details.reason, "invalid_code");

      const ok = await verify(challenge, code);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(Object.keys(ok.body).sort(), ["jwt", "refreshToken", "user"]);
      assert.equal(ok.body.user.id, reg.user.id, "the Strapi user, not the service's");
      assert.equal(ok.body.user.password, undefined);
      const me = await strapi.call("GET", "/api/users/me", { token: ok.body.jwt });
      assert.equal(me.status, 200);
      assert.equal(me.body.id, reg.user.id);
    } finally {
      const vpn = (before.body.data ?? before.body).actions?.vpn ?? "";
      await svc.call("PUT", "/api/admin/settings", { token: admin, body: { actions: { vpn } } });
    }
  });
});

describe("Strapi 5 in jwtManagement refresh mode with the plugin", () => {
  let refreshStrapi;
  before(async () => {
    refreshStrapi = await startStrapi(svc, await svc.token("service"), { UP_JWT_MANAGEMENT: "refresh" });
  });
  after(async () => {
    await refreshStrapi?.stop();
  });

  test("sign-in, refresh and a force logout work as in legacy mode", async () => {
    const username = `rita${++n}`;
    const reg = await refreshStrapi.call("POST", "/api/auth/local/register", { body: { username, email: `${username}@example.com`, password } });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    assert.equal(jwtHeader(reg.body.jwt).alg, "EdDSA");
    const { sid } = jwtPayload(reg.body.jwt);
    const me = await refreshStrapi.call("GET", "/api/users/me", { token: reg.body.jwt });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.id, reg.body.user.id);

    const refreshed = await refreshStrapi.call("POST", "/api/auth/refresh", { body: { refreshToken: reg.body.refreshToken } });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(jwtPayload(refreshed.body.jwt).sid, sid, "the service's session, not a Strapi one");

    assert.equal((await svc.call("POST", `/api/admin/sessions/${sid}/terminate`, { token: admin })).status, 200);
    await waitFor("Strapi refuses the ended session", async () => (await refreshStrapi.call("GET", "/api/users/me", { token: refreshed.body.jwt })).status === 401);
  });
});

describe("Strapi 5 with a bad plugin configuration", () => {
  test("refuses to start, naming each bad key", async () => {
    await assert.rejects(startStrapi(svc, "not-a-token", { MSM_URL: "sessionmanager:8080" }), (err) => {
      assert.match(err.message, /exited before it was up/);
      assert.match(err.message, /magic-sessionmanager: url must be/);
      assert.match(err.message, /serviceToken must be/);
      return true;
    });
  });
});
