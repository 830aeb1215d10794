// The typed client through Apollo Client against a live usergraph: the
// whole journey, and the error codes a frontend branches on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { UsergraphClient, UsergraphError, type RegisterInput } from '../src/index.js';
import { startServer, type RunningServer } from './support/server.js';

const PASSWORD = 'Str0ng!pass';

function account(username: string): RegisterInput {
  return { name: `User ${username}`, username, email: `${username}@example.com`, password: PASSWORD };
}

async function refusal(action: Promise<unknown>): Promise<UsergraphError> {
  try {
    await action;
  } catch (error) {
    assert.ok(error instanceof UsergraphError, `a UsergraphError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('UsergraphClient against a live server', () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  test('register, login, me, update, refresh, logout, delete', async () => {
    const client = new UsergraphClient({ url: server.url });
    const registered = await client.register(account('ann'));
    assert.equal(registered.username, 'ann');
    assert.equal(registered.email, 'ann@example.com');
    assert.match(registered.uuid, /^[0-9a-f-]{36}$/);

    const session = await client.login('ann', PASSWORD);
    assert.equal(session.tokenType, 'bearer');
    assert.ok(session.expiresIn > 0);
    assert.equal(session.user.id, registered.id);
    assert.ok(client.signedIn);

    const me = await client.me();
    assert.deepEqual(me, registered);

    const updated = await client.updateProfile('ann', { name: 'Ann Smith' });
    assert.equal(updated.name, 'Ann Smith');
    assert.equal((await client.me()).name, 'Ann Smith');

    const refreshed = await client.refresh();
    assert.notEqual(refreshed.accessToken, session.accessToken);
    assert.notEqual(refreshed.refreshToken, session.refreshToken);
    assert.equal((await client.me()).username, 'ann');

    // A second session of the same user outlives this one's logout.
    const replay = new UsergraphClient({ url: server.url });
    await replay.login('ann', PASSWORD);
    await client.logout();
    assert.equal(client.signedIn, false);
    assert.equal((await refusal(client.me())).code, 'UNAUTHENTICATED');

    assert.equal((await replay.me()).name, 'Ann Smith');
    await replay.deleteAccount('ann');
    assert.equal(replay.signedIn, false);
    const gone = await refusal(new UsergraphClient({ url: server.url }).login('ann', PASSWORD));
    assert.equal(gone.code, 'UNAUTHENTICATED');
  });

  test('a revoked token is refused after logout', async () => {
    const client = new UsergraphClient({ url: server.url });
    await client.register(account('bob'));
    const session = await client.login('bob', PASSWORD);
    await client.logout();
    const stale = new UsergraphClient({ url: server.url });
    // Reuse the revoked access token through a fresh client.
    (stale as unknown as { accessToken: string }).accessToken = session.accessToken;
    const error = await refusal(stale.me());
    assert.equal(error.code, 'UNAUTHENTICATED');
    assert.equal(error.message, 'Invalid or expired token');
  });

  test('error codes arrive typed', async () => {
    const client = new UsergraphClient({ url: server.url });
    await client.register(account('cyd'));
    assert.equal((await refusal(client.register(account('cyd')))).code, 'CONFLICT');
    assert.equal(
      (await refusal(client.register({ ...account('dee'), password: 'short' }))).code,
      'BAD_USER_INPUT',
    );
    assert.equal((await refusal(client.login('cyd', 'Wr0ng!pass'))).code, 'UNAUTHENTICATED');
    assert.equal((await refusal(client.me())).code, 'UNAUTHENTICATED');

    await client.login('cyd', PASSWORD);
    const other = new UsergraphClient({ url: server.url });
    await other.register(account('eve'));
    assert.equal((await refusal(client.updateProfile('eve', { name: 'Mallory' }))).code, 'FORBIDDEN');
    assert.equal((await refusal(client.deleteAccount('eve'))).code, 'FORBIDDEN');
  });

  test('Apollo negotiates the spec media type, and queries may go by GET', async () => {
    const seen: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      seen.push(`${init?.method ?? 'GET'} ${response.status} ${response.headers.get('content-type') ?? ''}`);
      return response;
    };
    const client = new UsergraphClient({ url: server.url, fetch: recording, getForQueries: true });
    await client.register(account('gus'));
    await client.login('gus', PASSWORD);
    assert.equal((await client.me()).username, 'gus');
    assert.deepEqual(seen, [
      'POST 200 application/graphql-response+json; charset=utf-8',
      'POST 200 application/graphql-response+json; charset=utf-8',
      'GET 200 application/graphql-response+json; charset=utf-8',
    ]);
  });

  test('the server answers a bad document in the spec media type with 400', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json,application/json;q=0.9',
      },
      body: JSON.stringify({ query: '{ nope }' }),
    });
    assert.equal(response.status, 400);
    assert.match(response.headers.get('content-type') ?? '', /^application\/graphql-response\+json/);
    const body = (await response.json()) as { data?: unknown; errors: unknown[] };
    assert.equal('data' in body, false);
    assert.equal(body.errors.length, 1);
  });
});
