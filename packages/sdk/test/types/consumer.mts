// Compiled (not run) by ci-test.sh as an ES module consumer would: the
// exports map and the declarations must resolve and type-check.
import { SessionClient, ChallengeRequiredError, SessionTerminatedError, indexedDBStorage, type LoginResult } from "@magic-sessionmanager/sdk";
import { createVerifier, withSession, type SessionClaims } from "@magic-sessionmanager/sdk/server";
import { requireSession } from "@magic-sessionmanager/sdk/express";
import express from "express";

const auth = new SessionClient({ baseUrl: "https://auth.example.com", storage: indexedDBStorage() });
auth.on("terminated", ({ reason }) => reason.toUpperCase());
const r: Promise<LoginResult> = auth.login({ identifier: "a", password: "b" });
r.catch((e: unknown) => (e instanceof ChallengeRequiredError ? e.challenge.methods[0] : e instanceof SessionTerminatedError ? e.endReason : null));

const verifier = createVerifier({ baseUrl: "http://127.0.0.1:8080", serviceToken: "msm_x", whenFeedDown: "introspect" });
const app = express();
app.get("/", requireSession(verifier), (req, res) => {
  const claims: SessionClaims | undefined = req.auth;
  res.json({ sub: claims?.sub, amr: claims?.payload.amr });
});
export const GET = withSession(verifier, (_req, { claims }) => Response.json({ sid: claims.sid }));
