// End to end: a debug `usergraph serve` on a temporary SQLite file and a
// free port; register and log in; verify the token offline with
// verify.mjs; rotate the key with `usergraph keys rotate` on the same
// database; log in again; verify the old and the new token; refuse a
// tampered one. Prints `N passed, N failed` (exit status 1 on a failure).
//
//   cargo build --bin usergraph && (cd examples/verify-token && npm ci && node scenario.mjs)
//
// The binary is $USERGRAPH_BIN, else $CARGO_TARGET_DIR/debug/usergraph,
// else target/debug/usergraph.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { createVerifier } from "./verify.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const binary =
  process.env.USERGRAPH_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "usergraph");

let passed = 0;
let failed = 0;
async function check(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}: ${error.message}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const directory = mkdtempSync(join(tmpdir(), "usergraph-verify-"));
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const environment = { ...process.env };
for (const name of ["JWT_ALGORITHM", "JWT_SECRET", "JWT_ISSUER", "JWT_AUDIENCE", "PUBLIC_URL", "REDIS_URL"]) {
  delete environment[name];
}
Object.assign(environment, {
  DATABASE_URL: `sqlite://${join(directory, "usergraph.db")}?mode=rwc`,
  BIND_ADDR: `127.0.0.1:${port}`,
  BCRYPT_COST: "4",
  RUST_LOG: "usergraph=warn",
});

let server;
let serverLog = "";
try {
  server = spawn(binary, ["serve"], { env: environment, stdio: ["ignore", "ignore", "pipe"] });
  server.stderr.on("data", (chunk) => {
    serverLog += chunk;
  });
  server.on("error", (error) => {
    serverLog += `cannot start ${binary}: ${error.message}`;
  });
  await waitForHealth();

  const graphql = async (query, variables = {}) => {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const login = async () => {
    const data = await graphql(
      "mutation($u: String!, $p: String!) { login(usernameOrEmail: $u, password: $p) { accessToken } }",
      { u: "ada", p: "Str0ng!pass" },
    );
    return data.login.accessToken;
  };
  const kidOf = (token) => JSON.parse(Buffer.from(token.split(".")[0], "base64url")).kid;

  const registered = await graphql(
    "mutation($input: RegisterInput!) { register(input: $input) { uuid } }",
    { input: { name: "Ada", username: "ada", email: "ada@example.com", password: "Str0ng!pass" } },
  );
  const oldToken = await login();
  // A long-lived verifier, as in a backend that keeps running through the
  // rotation (short cooldown so the scenario need not wait 30 s).
  const verify = await createVerifier(baseUrl, { cooldownDuration: 500 });

  await check("the token verifies offline with the published key", async () => {
    const { claims } = await verify(oldToken);
    assert(claims.sub === registered.register.uuid, `sub is ${claims.sub}`);
  });

  await check("a tampered token is refused", async () => {
    const [header, payload, signature] = oldToken.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url"));
    claims.sub = "00000000-0000-4000-8000-000000000000";
    const tampered = [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
    await verify(tampered).then(
      () => assert(false, "accepted"),
      (error) => assert(error.code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", `refused for ${error.code}`),
    );
  });

  await check("`usergraph keys rotate` on the same database", async () => {
    const rotated = spawnSync(binary, ["keys", "rotate"], { env: environment, encoding: "utf8" });
    assert(rotated.status === 0, rotated.stderr);
    assert(rotated.stdout.includes("active signing key"), rotated.stdout);
  });

  let newToken;
  await check("the running server signs with the new key within seconds", async () => {
    // The server reloads its keys every few seconds: wait until it
    // publishes two (logins are rate-limited, the key set is not).
    const started = Date.now();
    for (;;) {
      const jwks = await (await fetch(`${baseUrl}/.well-known/jwks.json`)).json();
      if (jwks.keys.length === 2) break;
      assert(Date.now() - started < 15_000, "still one key after 15 s");
      await sleep(250);
    }
    newToken = await login();
    assert(kidOf(newToken) !== kidOf(oldToken), "a new token with the old kid");
  });

  await check("the new token verifies offline (the key set is fetched again)", async () => {
    const { kid } = await verify(newToken);
    assert(kid === kidOf(newToken), `kid ${kid}`);
  });

  await check("the old token still verifies until it expires", async () => {
    await verify(oldToken);
  });

  await check("a tampered new token is refused too", async () => {
    const tampered = `${newToken.slice(0, -4)}${newToken.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    await verify(tampered).then(
      () => assert(false, "accepted"),
      () => {},
    );
  });
} catch (error) {
  failed += 1;
  console.log(`not ok - scenario: ${error.message}`);
  if (serverLog) console.log(serverLog);
} finally {
  server?.kill("SIGTERM");
  rmSync(directory, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

async function waitForHealth() {
  const started = Date.now();
  for (;;) {
    try {
      const response = await fetch(`${baseUrl}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (server.exitCode !== null || Date.now() - started > 30_000) {
      throw new Error(`usergraph did not start (${binary})`);
    }
    await sleep(100);
  }
}
