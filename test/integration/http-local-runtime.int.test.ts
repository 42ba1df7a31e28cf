import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../functions/lib/clock.js';
import { startLocalServer } from '../../infra/local/server.js';
import type { LocalContext, LocalService } from '../../infra/local/services.js';
import { T0, newAccountId, openAccount, startLocalApi } from '../support/local-api.js';

/**
 * The local runtime behind `npm start` (SPEC §8): the /_local helpers (clock, sync, notifications), the services'
 * lifecycle, and the command line itself: it prints where it listens and a first curl command that works, stops
 * cleanly on SIGTERM, and says in one line what to install when Java is missing.
 */
const ROOT = resolve(import.meta.dirname, '../..');
/** A cold tsx and a cold JVM on a busy two-core machine take tens of seconds; the test waits, it does not time. */
const CLI_TIMEOUT_MS = 180_000;

/** A service that records what the runtime does with it; `work` says how many things each sync reports. */
function recordingService(name: string, calls: string[], work: number[] = []): LocalService & { context?: LocalContext } {
  const service: LocalService & { context?: LocalContext } = {
    name,
    async start(ctx) {
      service.context = ctx;
      calls.push(`${name}.start`);
    },
    async sync() {
      calls.push(`${name}.sync`);
      return work.shift() ?? 0;
    },
    async stop() {
      calls.push(`${name}.stop`);
    },
  };
  return service;
}

describe('the /_local helpers', () => {
  it('given a runtime, when the clock is set and then advanced by P1M and P1DT2H, then each reply is the new now and handlers see it', async () => {
    const api = await startLocalApi();
    try {
      const set = await api.request('POST', '/_local/clock', { body: { set: '2027-01-31T10:00:00Z' }, key: null, token: null });
      expect(set.body).toEqual({ now: '2027-01-31T10:00:00.000Z' });
      const month = await api.request('POST', '/_local/clock', { body: { advanceBy: 'P1M' }, key: null, token: null });
      expect(month.body).toEqual({ now: '2027-02-28T10:00:00.000Z' });
      const dayAndHours = await api.request('POST', '/_local/clock', { body: { advanceBy: 'P1DT2H' }, key: null, token: null });
      expect(dayAndHours.body).toEqual({ now: '2027-03-01T12:00:00.000Z' });
      expect((await api.request('GET', '/_local/clock', { token: null })).body).toEqual({ now: '2027-03-01T12:00:00.000Z' });

      const id = newAccountId();
      await openAccount(api, id);
      const account = await api.request('GET', `/v1/accounts/${id}`);
      expect(account.body.cycle.start).toBe('2027-03-01T12:00:00.000Z');

      const bad = await api.request('POST', '/_local/clock', { body: { advanceBy: 'one month' }, key: null, token: null });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.fields[0].path).toBe('advanceBy');
      const both = await api.request('POST', '/_local/clock', { body: { set: '2027-01-01T00:00:00Z', advanceBy: 'P1D' }, key: null, token: null });
      expect(both.status).toBe(400);
    } finally {
      await api.stop();
    }
  });

  it('given services that report work, when /_local/sync is called, then it syncs them in order, round after round, until a round is idle', async () => {
    const calls: string[] = [];
    const poller = recordingService('poller', calls, [2, 1]);
    const scheduler = recordingService('scheduler', calls, [1]);
    const api = await startLocalApi({ services: [poller, scheduler] });
    try {
      calls.length = 0;
      const res = await api.request('POST', '/_local/sync', { key: null, token: null });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ rounds: 3, processed: 4, now: T0.toISOString() });
      expect(calls).toEqual(['poller.sync', 'scheduler.sync', 'poller.sync', 'scheduler.sync', 'poller.sync', 'scheduler.sync']);
    } finally {
      await api.stop();
    }
  });

  it('gives each service the context it needs at start, and stops the services in reverse order', async () => {
    const calls: string[] = [];
    const first = recordingService('first', calls);
    const second = recordingService('second', calls);
    const api = await startLocalApi({ services: [first, second] });
    await api.runtime.stop();
    expect(calls).toEqual(['first.start', 'second.start', 'second.stop', 'first.stop']);
    const ctx = first.context!;
    expect(ctx.endpoint).toBe(api.tables.endpoint);
    expect(ctx.ledgerTable).toBe(api.tables.names['Ledger']);
    expect(ctx.ledgerStreamArn).toEqual(expect.stringContaining('stream'));
    expect(ctx.clock.now().toISOString()).toBe(T0.toISOString());
    await api.tables.drop();
  });

  it('serves GET /_local/notifications from the service that registers it, and an empty list when none does', async () => {
    const clock = new ManualClock(T0);
    const notifier: LocalService = {
      name: 'notifier',
      start: async () => undefined,
      sync: async () => undefined,
      stop: async () => undefined,
      routes: [{ method: 'GET', path: '/_local/notifications', handle: async () => ({ statusCode: 200, body: { items: [{ accountId: 'acme', threshold: 20 }] } }) }],
    };
    const withNotifier = await startLocalServer({ port: 0, clock, services: [notifier] });
    const without = await startLocalServer({ port: 0, clock, services: [] });
    try {
      expect(await (await fetch(`${withNotifier.url}/_local/notifications`)).json()).toEqual({ items: [{ accountId: 'acme', threshold: 20 }] });
      expect(await (await fetch(`${without.url}/_local/notifications`)).json()).toEqual({ items: [] });
      const unknown = await fetch(`${without.url}/v2/nothing`);
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('route_not_found');
    } finally {
      await withNotifier.close();
      await without.close();
    }
  });
});

/**
 * Runs the command line as `npm start` does: package.json's `start` script, its first word looked up in
 * node_modules/.bin first (as npm puts it on PATH), without the shell in between, with the given PATH and settings.
 */
function startCli(env: Record<string, string>) {
  const [command, ...args] = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  const child = spawn(join(ROOT, 'node_modules/.bin', command!), args, {
    cwd: ROOT,
    env: { HOME: process.env.HOME ?? '/tmp', POWERTOOLS_LOG_LEVEL: 'SILENT', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Waits until the command line has printed its banner (or exited). */
async function untilListening(cli: ReturnType<typeof startCli>): Promise<void> {
  for (let i = 0; i < 1500 && !/Ctrl-C stops/.test(cli.output().stdout); i += 1) {
    if (cli.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The DynamoDB Local (Java) process listening on `port`, and its parent: the process running main.ts. */
function dynamoDbLocalOn(port: string): { pid: number; parent: number } | undefined {
  const line = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.includes('DynamoDBLocal') && new RegExp(`-port ${port}(\\s|$)`).test(l));
  const [pid, parent] = line?.trim().split(/\s+/).map(Number) ?? [];
  return pid === undefined || parent === undefined ? undefined : { pid, parent };
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A PATH that has node (for tsx) and nothing else: no java. */
function pathWithoutJava(): string {
  const dir = mkdtempSync(join(tmpdir(), 'credits-no-java-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  return dir;
}

describe('npm start', () => {
  it('prints where it listens and a first curl command that works, and stops cleanly on SIGTERM', async () => {
    const cli = startCli({ PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, PORT: '0', DYNAMODB_PORT: '0', CREDITS_IN_MEMORY: '1' });
    try {
      for (let i = 0; i < 1500 && !/Ctrl-C stops/.test(cli.output().stdout); i += 1) {
        if (cli.child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const { stdout } = cli.output();
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      expect(url, stdout + cli.output().stderr).toBeDefined();
      expect(stdout).toMatch(/DynamoDB Local: http:\/\/127\.0\.0\.1:\d+, in memory/);
      expect(stdout).toContain('dev-service');

      // The printed curl command, sent as written: -X, -H and -d.
      const curl = /^\s*(curl .*)$/m.exec(stdout)?.[1] ?? '';
      const headers = Object.fromEntries([...curl.matchAll(/-H '([^:]+):\s*([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
      const data = /-d '([^']*)'/.exec(curl)?.[1];
      const target = /(http:\/\/\S+)/.exec(curl)?.[1];
      const opened = await fetch(target!, { method: 'POST', headers, body: data! });
      expect(opened.status).toBe(201);
      expect(((await opened.json()) as { accountId: string }).accountId).toBe('acme');

      const endpoint = /DynamoDB Local: (http:\/\/\S+),/.exec(stdout)?.[1];
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
      expect(cli.output().stdout).toMatch(/stopping/);
      await expect(fetch(`${url}/_local/health`)).rejects.toThrow();
      await expect(fetch(endpoint!)).rejects.toThrow(); // DynamoDB Local is gone too
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  }, CLI_TIMEOUT_MS);

  it('given it is busy for a moment when SIGTERM arrives, then it still stops cleanly and DynamoDB Local stops with it', async () => {
    const cli = startCli({ PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, PORT: '0', DYNAMODB_PORT: '0', CREDITS_IN_MEMORY: '1' });
    let java: { pid: number; parent: number } | undefined;
    try {
      await untilListening(cli);
      const port = /DynamoDB Local: http:\/\/127\.0\.0\.1:(\d+),/.exec(cli.output().stdout)?.[1];
      expect(port, cli.output().stdout + cli.output().stderr).toBeDefined();
      java = dynamoDbLocalOn(port!);
      expect(java).toBeDefined();

      // The process running main.ts cannot answer for 300 ms (a loaded machine, a long GC pause) when SIGTERM comes.
      process.kill(java!.parent, 'SIGSTOP');
      cli.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      if (isAlive(java!.parent)) process.kill(java!.parent, 'SIGCONT');

      expect(await cli.exited).toBe(0);
      expect(cli.output().stdout).toMatch(/stopping/);
      for (let i = 0; i < 100 && isAlive(java!.pid); i += 1) await new Promise((r) => setTimeout(r, 100));
      expect(isAlive(java!.pid)).toBe(false);
    } finally {
      if (java !== undefined && isAlive(java.parent)) process.kill(java.parent, 'SIGCONT');
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
      if (java !== undefined && isAlive(java.pid)) process.kill(java.pid, 'SIGKILL'); // never leave a JVM behind
    }
  }, CLI_TIMEOUT_MS);

  it('given no Java on the PATH, then it says in one line what to install and exits 1, without a stack trace', async () => {
    const cli = startCli({ PATH: pathWithoutJava(), PORT: '0', DYNAMODB_PORT: '0', CREDITS_IN_MEMORY: '1' });
    const code = await cli.exited;
    const { stdout, stderr } = cli.output();
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Java 17/);
    expect(lines[0]).toMatch(/install/i);
    expect(stderr).not.toMatch(/\bat\s+\S+\s+\(/);
    expect(stdout).not.toMatch(/listening/);
  }, CLI_TIMEOUT_MS);

  it('given a PORT that is not a port number, then it says so in one line and exits 1', async () => {
    const cli = startCli({ PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, PORT: 'eighty', CREDITS_IN_MEMORY: '1' });
    expect(await cli.exited).toBe(1);
    expect(cli.output().stderr.trim()).toBe('PORT must be a port number from 0 to 65535, not "eighty".');
  }, CLI_TIMEOUT_MS);
});
