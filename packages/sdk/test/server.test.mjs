// The server side against the real binary: offline verification with the
// JWKS, the revocation feed (force logout refused by a real Express app,
// reconnection and resume after a restart), the Fetch-API wrapper,
// introspection and key rotation.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import express from "express";
import { requireSession } from "@magic-sessionmanager/sdk/express";
import {
  ServiceUnavailableError,
  SessionTerminatedError,
  SessionVerifier,
  UnauthorizedError,
  createVerifier,
  withSession,
} from "@magic-sessionmanager/sdk/server";
import { quietLogger, startService, waitFor } from "./harness.mjs";

let svc, serviceToken, writeToken;
before(async () => {
  svc = await startService();
  serviceToken = await svc.token("service");
  writeToken = await svc.token("write");
});
after(() => svc?.close());

/** A real Express app whose /private route needs a session. */
async function expressApp(verifier) {
  const app = express();
  app.get("/private", requireSession(verifier), (req, res) => res.json({ sub: req.auth.sub, sid: req.auth.sid }));
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${server.address().port}/private`;
  return {
    get: async (jwt) => {
      const r = await fetch(url, { headers: jwt ? { Authorization: "Bearer " + jwt } : {} });
      return { status: r.status, headers: r.headers, body: await r.json() };
    },
    close: () => new Promise((ok) => server.close(ok)),
  };
}

async function following(t, options = {}) {
  const log = quietLogger();
  const v = createVerifier({ baseUrl: svc.base, serviceToken, logger: log, ...options });
  t.after(() => v.close());
  await v.waitUntilLive();
  return v;
}

const terminate = (sid) => svc.call("POST", `/api/admin/sessions/${sid}/terminate`, { token: writeToken });

describe("server", () => {
  test("a force logout from the admin API is refused by an Express app within the feed's latency", async (t) => {
    const verifier = await following(t);
    const offline = new SessionVerifier({ baseUrl: svc.base }); // no feed: the control
    const app = await expressApp(verifier);
    t.after(app.close);

    const latencies = [];
    for (let i = 0; i < 3; i++) {
      const reg = await svc.register(`erin${i}`);
      const sid = reg.session.id;
      const ok = await app.get(reg.jwt);
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, { sub: reg.user.id, sid });
      const claims = await verifier.verify(reg.jwt);
      assert.ok(claims.exp * 1000 - Date.now() > 10 * 60_000, "the access token lives long enough that only the feed can refuse it");

      const started = performance.now();
      const r = await terminate(sid);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      let refused;
      await waitFor("the Express app refuses the force-logged-out session", async () => {
        refused = await app.get(reg.jwt);
        return refused.status !== 200;
      });
      latencies.push(performance.now() - started);
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("x-session-terminated-reason"), "manual");
      assert.deepEqual(refused.body, {
        data: null,
        error: { status: 401, name: "UnauthorizedError", message: "Session terminated", details: { reason: "manual" } },
      });
      await assert.rejects(verifier.verify(reg.jwt), (e) => e instanceof SessionTerminatedError && e.endReason === "manual");
      // Without the feed the same token still verifies: the refusal was the feed's.
      assert.equal((await offline.verify(reg.jwt)).sid, sid);
    }
    t.diagnostic(`force logout -> refused by Express: ${latencies.map((ms) => ms.toFixed(1) + "ms").join(", ")}`);
  });

  test("bad tokens and missing headers get the service's 401 in its error shape", async (t) => {
    const verifier = await following(t);
    const app = await expressApp(verifier);
    t.after(app.close);
    const reg = await svc.register("frank");
    const [head, payload, sig] = reg.jwt.split(".");
    const tampered = `${head}.${payload}.${sig.slice(0, -4)}${sig.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const forgedClaims = `${head}.${Buffer.from(JSON.stringify({ sub: "someone-else", sid: "x", exp: 9999999999, iss: "sessionmanager", aud: "sessionmanager" })).toString("base64url")}.${sig}`;
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${payload}.`;
    for (const [name, jwt] of [["garbage", "not-a-jwt"], ["tampered signature", tampered], ["forged claims", forgedClaims], ["alg none", none], ["refresh token", reg.refreshToken], ["too long", "a".repeat(9000)]]) {
      const r = await app.get(jwt);
      assert.equal(r.status, 401, name);
      assert.equal(r.body.error.details.reason, "invalid_token", name);
      assert.equal(r.headers.get("x-session-terminated-reason"), null, name);
    }
    const missing = await app.get("");
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.details.reason, "missing_token");
    // optional: no header passes without claims; a bad token is still refused.
    const opt = express();
    opt.get("/", requireSession(verifier, { optional: true }), (req, res) => res.json({ auth: req.auth?.sub ?? null }));
    const optServer = opt.listen(0, "127.0.0.1");
    await once(optServer, "listening");
    t.after(() => new Promise((ok) => optServer.close(ok)));
    const optURL = `http://127.0.0.1:${optServer.address().port}/`;
    assert.deepEqual(await (await fetch(optURL)).json(), { auth: null });
    assert.deepEqual(await (await fetch(optURL, { headers: { Authorization: `Bearer ${reg.jwt}` } })).json(), { auth: reg.user.id });
    assert.equal((await fetch(optURL, { headers: { Authorization: "Bearer nope" } })).status, 401);
    // A token for another audience is not ours.
    const other = new SessionVerifier({ baseUrl: svc.base, audience: "another-app" });
    await assert.rejects(other.verify(reg.jwt), (e) => e instanceof UnauthorizedError && e.reason === "invalid_token");
  });

  test("withSession wraps a Fetch-API handler", async (t) => {
    const verifier = await following(t);
    const handler = withSession(verifier, (req, { claims }, extra) => Response.json({ sub: claims.sub, path: new URL(req.url).pathname, extra }));
    const reg = await svc.register("gina");
    const req = (jwt) => new Request("http://app.local/api/me", { headers: jwt ? { Authorization: `Bearer ${jwt}` } : {} });

    const ok = await handler(req(reg.jwt), "ctx");
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { sub: reg.user.id, path: "/api/me", extra: "ctx" });

    const missing = await handler(req(""));
    assert.equal(missing.status, 401);
    assert.equal((await missing.json()).error.details.reason, "missing_token");
    assert.match(missing.headers.get("www-authenticate"), /invalid_token/);

    assert.equal((await terminate(reg.session.id)).status, 200);
    await waitFor("the feed announces the end", () => verifier.revoked(reg.session.id) !== undefined);
    const ended = await handler(req(reg.jwt));
    assert.equal(ended.status, 401);
    assert.equal(ended.headers.get("x-session-terminated-reason"), "manual");
    assert.equal((await ended.json()).error.message, "Session terminated");
  });

  test("introspection: directly, and as the fallback while the feed is down", async (t) => {
    const log = quietLogger();
    const verifier = new SessionVerifier({ baseUrl: svc.base, serviceToken, followFeed: false, whenFeedDown: "introspect", logger: log });
    assert.equal(verifier.live, false);
    const reg = await svc.register("hugo");
    const live = await verifier.introspect(reg.jwt);
    assert.equal(live.active, true);
    assert.equal(live.sid, reg.session.id);
    assert.equal(live.username, "hugo");
    assert.equal((await verifier.verify(reg.jwt)).sid, reg.session.id);

    assert.equal((await terminate(reg.session.id)).status, 200);
    assert.deepEqual(await verifier.introspect(reg.jwt), { active: false });
    // No feed, but every verification asks: refused at once.
    await assert.rejects(verifier.verify(reg.jwt), (e) => e.status === 401 && e.reason === "invalid_token");

    // Fail closed instead: 503 while the feed is down.
    const closed = new SessionVerifier({ baseUrl: svc.base, serviceToken, followFeed: false, whenFeedDown: "reject" });
    const other = await svc.register("hugo2");
    await assert.rejects(closed.verify(other.jwt), (e) => e.status === 503 && e.retryAfter === 2);
  });

  test("a refused service token never connects the feed, and says why", async (t) => {
    const log = quietLogger();
    const v = createVerifier({ baseUrl: svc.base, serviceToken: "msm_not-a-real-token", logger: log, backoffInitial: 50, backoffMax: 100 });
    t.after(() => v.close());
    await waitFor("a disconnect is logged", () => log.lines.length > 0);
    assert.equal(v.live, false);
    assert.match(log.lines[0], /status 401/);
    assert.throws(() => new SessionVerifier({ baseUrl: svc.base, followFeed: true }), /serviceToken/);
    assert.throws(() => new SessionVerifier({ baseUrl: "not a url" }), /absolute http/);
  });

  test("the feed reconnects after the service restarts and resumes without replaying what it saw", async (t) => {
    const verifier = await following(t, { backoffMax: 1000 });
    const app = await expressApp(verifier);
    t.after(app.close);
    const before = await svc.register("ivan");
    assert.equal((await terminate(before.session.id)).status, 200);
    await waitFor("the first end arrives", () => verifier.revoked(before.session.id) !== undefined);
    const cursor = verifier.cursor;
    assert.ok(cursor > 0);
    const seen = [];
    verifier.onRevoked((r) => seen.push(r));

    const survivor = await svc.register("judy");
    assert.equal((await app.get(survivor.jwt)).status, 200); // the keys are cached now
    await svc.stop();
    await waitFor("the verifier notices the service is gone", () => !verifier.live);
    // While the feed is down the verifier decides as the Go client: offline.
    assert.equal((await app.get(survivor.jwt)).status, 200);
    await svc.start();
    await verifier.waitUntilLive(15_000);

    assert.equal((await terminate(survivor.session.id)).status, 200);
    await waitFor("the Express app refuses the session ended after the restart", async () => (await app.get(survivor.jwt)).status === 401);
    assert.ok(verifier.cursor > cursor);
    // Resumed with Last-Event-ID: the end seen before the restart is not sent again.
    assert.deepEqual(seen.map((r) => r.sid), [survivor.session.id]);
    assert.equal(seen[0].reason, "manual");
    assert.equal(seen[0].sub, survivor.user.id);
    // And the old revocation is still remembered.
    assert.equal(verifier.revoked(before.session.id), "manual");
  });

  test("while the service is down, known keys keep verifying and the JWKS is retried at most once per cooldown", async (t) => {
    let jwksFetches = 0;
    const counting = (input, init) => {
      if (String(input).endsWith("/.well-known/jwks.json")) jwksFetches++;
      return fetch(input, init);
    };
    const verifier = new SessionVerifier({ baseUrl: svc.base, jwksMaxAge: 1, jwksCooldown: 60_000, fetch: counting });
    const reg = await svc.register("lars");
    const other = await svc.register("lars2");
    assert.equal((await verifier.verify(reg.jwt)).sid, reg.session.id);
    assert.equal(jwksFetches, 1);
    await svc.stop();
    t.after(() => svc.start());
    await new Promise((r) => setTimeout(r, 5)); // the set is stale now (1 ms)
    for (let i = 0; i < 10; i++) {
      assert.equal((await verifier.verify(reg.jwt)).sid, reg.session.id);
      assert.equal((await verifier.verify(other.jwt)).sid, other.session.id);
    }
    assert.equal(jwksFetches, 2, "one failed refetch, then the known keys until the cooldown passes");
    // With no key known at all, there is nothing to fall back on: 503.
    const cold = new SessionVerifier({ baseUrl: svc.base });
    await assert.rejects(cold.verify(reg.jwt), (e) => e instanceof ServiceUnavailableError && e.status === 503);
  });

  test("key rotation: a new key is fetched on its first unknown kid; a withdrawn key is refused, cached tokens included", async (t) => {
    const verifier = new SessionVerifier({ baseUrl: svc.base, jwksCooldown: 0 });
    const strict = new SessionVerifier({ baseUrl: svc.base, jwksMaxAge: 0 }); // refetches the JWKS every time
    const old = await svc.register("kate");
    const oldKid = (await verifier.verify(old.jwt)).kid;
    assert.equal((await strict.verify(old.jwt)).kid, oldKid); // now in its verified-token cache
    await svc.stop();
    await svc.cli("keys", "rotate", "--now");
    await svc.start();
    const fresh = await svc.register("kate2");
    const claims = await verifier.verify(fresh.jwt);
    assert.notEqual(claims.kid, oldKid);
    assert.equal((await verifier.verify(old.jwt)).kid, oldKid, "the retired key still verifies its tokens");

    await svc.stop();
    await svc.cli("keys", "withdraw", oldKid);
    await svc.start();
    await assert.rejects(strict.verify(old.jwt), (e) => e instanceof UnauthorizedError && e.reason === "invalid_token");
    assert.equal((await strict.verify(fresh.jwt)).kid, claims.kid);
  });
});
