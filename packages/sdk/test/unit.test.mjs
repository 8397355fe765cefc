// Pure logic: typed errors from the error shape, the event-stream reader,
// and the client's side of the second-factor challenge (issue 17) against
// a local server answering the contract's shapes, until the service has
// the challenge flow (then client.test.mjs can use the real one).
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { test } from "node:test";
import {
  ChallengeRequiredError,
  RateLimitError,
  SessionClient,
  SessionTerminatedError,
  ServiceUnavailableError,
  ValidationError,
  errorFromResponse,
  memoryStorage,
} from "@magic-sessionmanager/sdk";
import { readEvents } from "../dist/esm/sse.js";

const challengeBody = {
  data: null,
  error: {
    status: 401,
    name: "UnauthorizedError",
    message: "Additional verification required",
    details: { reason: "challenge_required", challenge: { id: "ch_1", methods: ["webauthn", "totp", "email"], expiresAt: "2030-01-01T00:00:00Z" } },
  },
};

test("errorFromResponse types every answer", () => {
  const ch = errorFromResponse(401, challengeBody, new Headers());
  assert.ok(ch instanceof ChallengeRequiredError);
  assert.deepEqual(ch.challenge, { id: "ch_1", methods: ["webauthn", "totp", "email"], expiresAt: "2030-01-01T00:00:00Z" });
  assert.equal(ch.reason, "challenge_required");

  const ended = errorFromResponse(401, { data: null, error: { status: 401, name: "UnauthorizedError", message: "Session terminated", details: { reason: "manual" } } }, new Headers({ "X-Session-Terminated-Reason": "manual" }));
  assert.ok(ended instanceof SessionTerminatedError);
  assert.equal(ended.endReason, "manual");

  const limited = errorFromResponse(429, { data: null, error: { status: 429, name: "RateLimitError", message: "Too many", details: { reason: "too_many_attempts" } } }, new Headers({ "Retry-After": "7" }));
  assert.ok(limited instanceof RateLimitError);
  assert.equal(limited.retryAfter, 7);

  const bad = errorFromResponse(400, { data: null, error: { status: 400, name: "ValidationError", message: "invalid input", details: { fields: { email: "is required" } } } });
  assert.ok(bad instanceof ValidationError);
  assert.deepEqual(bad.fields, { email: "is required" });

  // Not the error shape at all (a proxy's HTML page): still typed, by status.
  const proxy = errorFromResponse(503, "<html>bad gateway</html>");
  assert.ok(proxy instanceof ServiceUnavailableError);
  assert.equal(proxy.message, "HTTP 503");
  // A challenge without a usable challenge object is a plain 401.
  assert.ok(!(errorFromResponse(401, { error: { details: { reason: "challenge_required", challenge: "x" } } }) instanceof ChallengeRequiredError));
});

test("readEvents: split chunks, CRLF, multi-line data, comments", async () => {
  const text = "retry: 2000\r\n\r\n: heartbeat\n\nid: 7\nevent: revoked\ndata: {\"sid\":\"a\",\ndata: \"x\":1}\r\n\r\nid: 8\revent: revoked\rdata: {}\r\r";
  const bytes = new TextEncoder().encode(text);
  for (const size of [1, 2, 3, 5, 64]) {
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
        c.close();
      },
    });
    const events = [];
    let lines = 0;
    await readEvents(body, (e) => events.push(e), () => lines++);
    assert.deepEqual(events, [
      { id: "7", event: "revoked", data: '{"sid":"a",\n"x":1}' },
      { id: "8", event: "revoked", data: "{}" },
    ], `chunk size ${size}`);
    assert.ok(lines >= 10);
  }
});

test("challenge flow: challenge_required, send the email code, verify, remember the device", async (t) => {
  const seen = [];
  const server = createServer(async (req, res) => {
    let raw = "";
    for await (const c of req) raw += c;
    const body = raw ? JSON.parse(raw) : undefined;
    seen.push({ path: req.url, body });
    const json = (status, v) => res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(v));
    const login = { jwt: "a.b.c", refreshToken: "r1", expiresAt: "2030-01-01T00:00:00Z", user: { id: "u1", username: "sam" }, session: { id: "s1" } };
    switch (req.url) {
      case "/api/auth/local":
        return body.deviceToken === "dev-1" ? json(200, login) : json(401, challengeBody);
      case "/api/auth/challenge/send":
        return json(200, { ok: true });
      case "/api/auth/challenge/verify":
        return body.code === "123456" ? json(200, { ...login, deviceToken: "dev-1" }) : json(400, { data: null, error: { status: 400, name: "ValidationError", message: "Invalid code", details: { reason: "invalid_code" } } });
    }
    json(404, { data: null, error: { status: 404, name: "NotFoundError", message: "no route", details: {} } });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => new Promise((ok) => server.close(ok)));
  const storage = memoryStorage();
  const c = new SessionClient({ baseUrl: `http://127.0.0.1:${server.address().port}`, storage, broadcast: false });

  const err = await c.login({ identifier: "sam", password: "pw" }).catch((e) => e);
  assert.ok(err instanceof ChallengeRequiredError);
  assert.equal(await c.session(), null, "a challenged login creates no session");
  await c.sendChallengeCode(err.challenge.id);
  await assert.rejects(c.verifyChallenge({ challengeId: err.challenge.id, method: "email", code: "000000" }), (e) => e instanceof ValidationError && e.reason === "invalid_code");
  const ok = await c.verifyChallenge({ challengeId: err.challenge.id, method: "email", code: "123456", rememberDevice: true });
  assert.equal(ok.session.id, "s1");
  assert.equal((await c.session()).sessionId, "s1");
  // The trusted-device token goes with the next login, which is not challenged.
  await c.login({ identifier: "sam", password: "pw" });
  assert.deepEqual(seen.map((s) => s.path), ["/api/auth/local", "/api/auth/challenge/send", "/api/auth/challenge/verify", "/api/auth/challenge/verify", "/api/auth/local"]);
  assert.deepEqual(seen[1].body, { challengeId: "ch_1", method: "email" });
  assert.deepEqual(seen[3].body, { challengeId: "ch_1", method: "email", code: "123456", rememberDevice: true });
  assert.equal(seen[4].body.deviceToken, "dev-1");
});
