// A minimal SMTP server on loopback (no TLS: the service's
// `smtp://...?tls=none`) that keeps every message, for the challenge's
// email codes.
import { createServer } from "node:net";

/** Starts the sink; returns {url, messages, waitFor(to, pattern), close()}. */
export async function startSMTP() {
  const messages = [];
  const waiters = new Set();
  const server = createServer((sock) => {
    sock.setEncoding("utf8");
    let buf = "";
    let inData = false;
    let data = "";
    let to = [];
    const reply = (line) => sock.write(line + "\r\n");
    reply("220 sink ESMTP");
    sock.on("data", (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\r\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            messages.push({ to, data });
            for (const w of waiters) w();
            data = "";
            to = [];
            reply("250 queued");
          } else data += (line.startsWith("..") ? line.slice(1) : line) + "\n";
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO" || verb === "HELO") reply("250 sink");
        else if (verb === "MAIL") reply("250 ok");
        else if (verb === "RCPT") (to.push(line.replace(/^RCPT TO:\s*<?([^>]*)>?.*$/i, "$1")), reply("250 ok"));
        else if (verb === "DATA") (inData = true, reply("354 go on"));
        else if (verb === "QUIT") (reply("221 bye"), sock.end());
        else if (verb === "RSET" || verb === "NOOP") reply("250 ok");
        else reply("502 not implemented");
      }
    });
    sock.on("error", () => {});
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: `smtp://127.0.0.1:${port}?tls=none`,
    messages,
    /** The first match of pattern in a message to `to` (waits up to 10 s). */
    async waitFor(to, pattern) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        for (const m of messages) {
          const hit = m.to.includes(to) && m.data.replace(/=\r?\n/g, "").match(pattern);
          if (hit) return hit;
        }
        if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${pattern}`);
        await new Promise((ok) => {
          waiters.add(ok);
          setTimeout(ok, 50);
        });
      }
    },
    close: () => new Promise((ok) => server.close(ok)),
  };
}
