// Starts a real usergraph for a test file: builds the debug binary with
// cargo (a no-op when it is up to date), runs it on a free port over a
// fresh SQLite file with the cheapest bcrypt cost, and stops it after.
// It runs from its own temporary folder, with no asset folders set: every
// page it serves comes out of the executable. With `copyBinary`, the
// executable itself is first copied into that folder, as an operator
// would install it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from build/test/support/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');

export interface RunningServer {
  url: string;
  origin: string;
  /** The database it runs on, for another instance to share. */
  databaseUrl: string;
  /** Where the server writes mail as `.eml` files (no SMTP_URL). */
  mailDir: string;
  stop(): Promise<void>;
}

function binaryPath(): string {
  const target = process.env['CARGO_TARGET_DIR'] ?? join(REPO_ROOT, 'target');
  return resolve(REPO_ROOT, target, 'debug', 'usergraph');
}

async function freePort(): Promise<number> {
  return new Promise((accept, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => accept(port));
    });
  });
}

async function waitForHealth(origin: string, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`usergraph exited with ${child.exitCode}:\n${output()}`);
    }
    try {
      const response = await fetch(`${origin}/health`);
      if (response.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
  throw new Error(`usergraph did not answer /health in time:\n${output()}`);
}

export interface ServerOptions {
  /** Run a copy of the binary placed in the server's temporary folder. */
  copyBinary?: boolean;
  /** Run on this database (another instance's) instead of a fresh one. */
  databaseUrl?: string;
}

export async function startServer(
  extraEnv: Record<string, string> = {},
  options: ServerOptions = {},
): Promise<RunningServer> {
  execFileSync('cargo', ['build', '--quiet', '--bin', 'usergraph'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'usergraph-client-test-'));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  let binary = binaryPath();
  if (options.copyBinary) {
    const copy = join(dataDir, 'usergraph');
    copyFileSync(binary, copy);
    binary = copy;
  }
  const databaseUrl = options.databaseUrl ?? `sqlite://${join(dataDir, 'usergraph.db')}?mode=rwc`;
  const child = spawn(binary, ['serve'], {
    cwd: dataDir,
    env: {
      PATH: process.env['PATH'] ?? '',
      DATABASE_URL: databaseUrl,
      BIND_ADDR: `127.0.0.1:${port}`,
      BCRYPT_COST: '4',
      RUST_LOG: 'usergraph=warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitForHealth(origin, child, () => log);
  return {
    url: `${origin}/graphql`,
    origin,
    databaseUrl,
    mailDir: join(dataDir, 'mail'),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
