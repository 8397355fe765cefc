// Starts the real sessionmanager binary (SQLite in a temp dir) for the
// tests. SM_BINARY names a built binary (ci-test.sh builds one); without
// it the binary is built into the cache outside the repository.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { SMTPServer } from "smtp-server";

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "../../..");
let binary;

async function sessionmanagerBinary() {
  if (binary) return binary;
  if (process.env.SM_BINARY) return (binary = process.env.SM_BINARY);
  const out = join(process.env.SM_SDK_CACHE ?? join(homedir(), ".cache/sessionmanager/sdk"), "sessionmanager");
  await run("go", ["build", "-o", out, "./cmd/sessionmanager"], { cwd: repo });
  return (binary = out);
}

/** A free loopback port. */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/**
 * Starts a service. env adds or overrides variables. The returned object
 * can stop() and start() again on the same port and data dir (a restart).
 */
export async function startService(env = {}) {
  const bin = await sessionmanagerBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "msm-sdk-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const fullEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SM_DATA_DIR: dataDir,
    SM_ADDR: `127.0.0.1:${port}`,
    SM_ADMIN_PASSWORD: "admin password for tests",
    SM_THREAT_FEEDS: "off",
    SM_REGISTER_PER_IP: "0",
    SM_LOG_LEVEL: "warn",
    ...env,
  };
  let child;
  let exited;
  let stderr = "";
  const svc = {
    base,
    dataDir,
    env: fullEnv,
    async start() {
      stderr = "";
      child = spawn(bin, ["serve"], { env: fullEnv, stdio: ["ignore", "ignore", "pipe"] });
      child.stderr.on("data", (d) => (stderr += d));
      exited = new Promise((ok) => child.once("exit", ok));
      await waitUntilUp(base + "/readyz", 200, { child, what: "sessionmanager", timeoutMs: 30_000, output: () => stderr });
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
    async close() {
      await svc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    /** A new admin API token of scope read, write or service. */
    async token(scope) {
      const { stdout } = await run(bin, ["admin", "create-token", "--name", `sdk-${scope}-${Math.random().toString(36).slice(2)}`, "--scope", scope], { env: fullEnv });
      const tok = stdout.trim();
      if (!tok.startsWith("msm_")) throw new Error("create-token: " + stdout);
      return tok;
    },
    /** Runs a sessionmanager sub-command against this service's data. */
    async cli(...args) {
      return run(bin, args, { env: fullEnv });
    },
    /** Calls the API; returns {status, headers, body}. */
    call(method, path, opts) {
      return requestJSON(base, method, path, opts);
    },
    /** Registers a user; returns the login answer. */
    async register(username) {
      const r = await svc.call("POST", "/api/auth/local/register", {
        body: { username, email: `${username}@example.com`, password: "correct horse battery staple" },
      });
      if (r.status !== 200) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
  };
  await svc.start();
  return svc;
}

/**
 * Calls base+path with an optional bearer token, JSON body and headers;
 * returns {status, headers, body} (body parsed as JSON, else the text).
 */
export async function requestJSON(base, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = "Bearer " + token;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const r = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, headers: r.headers, body: json };
}

/**
 * Polls url until it answers status; fails when child exits first or after
 * timeoutMs, with output() (the process's logs) in the error.
 */
export async function waitUntilUp(url, status, { child, what, timeoutMs, output }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.status === status) return;
    } catch {}
    if (child.exitCode !== null) throw new Error(`${what} exited before it was up:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`${what} not up after ${timeoutMs / 1000}s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Polls cond every 5 ms until it holds; fails after 10 s (a hang guard, not a speed assertion). */
export async function waitFor(what, cond) {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("timed out waiting until " + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A logger that keeps what it is told, for assertions and quiet output. */
export function quietLogger() {
  const lines = [];
  return { lines, warn: (...a) => lines.push(a.map(String).join(" ")) };
}

/**
 * A real SMTP server on loopback (no TLS: the service's `?tls=none`) that
 * keeps every message: {url, messages: [{to, raw}], close()}.
 */
export async function startMailbox() {
  const messages = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, done) {
      let raw = "";
      stream.on("data", (d) => (raw += d));
      stream.on("end", () => {
        messages.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
        done();
      });
    },
  });
  const port = await freePort();
  smtp.listen(port, "127.0.0.1");
  await once(smtp.server, "listening");
  return {
    url: `smtp://127.0.0.1:${port}?tls=none`,
    messages,
    close: () => new Promise((ok) => smtp.close(ok)),
  };
}

/**
 * Skips test t for why, unless SM_REQUIRE_SERVICES=1 (CI, scripts/test.sh):
 * there the service has every feature a test needs, so a skip would hide a
 * regression and fails the test instead.
 */
export function skipOrFail(t, why) {
  if (process.env.SM_REQUIRE_SERVICES === "1") throw new Error(`${why} (SM_REQUIRE_SERVICES=1: this test may not skip)`);
  return t.skip(why);
}
