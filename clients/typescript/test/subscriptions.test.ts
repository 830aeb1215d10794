// Subscriptions with the graphql-ws client (graphql-transport-ws), as a
// frontend would hold one: an event raised through one instance reaches a
// subscriber of another instance on the same database.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createClient, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

import { UsergraphClient } from '../src/index.js';
import { startServer, type RunningServer } from './support/server.js';

const PASSWORD = 'Str0ng!pass';

interface SecurityEvent {
  mySecurityEvents: { type: string; userId: number | null };
}

let first: RunningServer;
let second: RunningServer;

// One issuer for both, as instances behind one address have (it defaults
// to each one's own address).
const SHARED = { JWT_ISSUER: 'http://usergraph.test' };

before(async () => {
  first = await startServer(SHARED);
  second = await startServer(SHARED, { databaseUrl: first.databaseUrl });
});

after(async () => {
  await second?.stop();
  await first?.stop();
});

test('a login through one instance reaches a subscriber on another', async () => {
  const ann = new UsergraphClient({ url: first.url });
  const registered = await ann.register({
    name: 'Ann',
    username: 'ann',
    email: 'ann@example.com',
    password: PASSWORD,
  });
  const session = await ann.login('ann', PASSWORD);

  const subscriptions = createClient({
    url: second.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${session.accessToken}` },
  });
  try {
    const events = subscriptions
      .iterate<SecurityEvent>({ query: 'subscription { mySecurityEvents { type userId } }' })
      [Symbol.asyncIterator]();
    const firstEvent = events.next();
    // The protocol does not say when a subscription has started: log in
    // through the first instance until an event arrives on the second.
    const deadline = Date.now() + 10_000;
    let arrived: IteratorResult<FormattedExecutionResult<SecurityEvent, unknown>> | undefined;
    while (arrived === undefined) {
      assert.ok(Date.now() < deadline, 'no event reached the other instance in 10 s');
      await new UsergraphClient({ url: first.url }).login('ann', PASSWORD);
      arrived = await Promise.race([
        firstEvent,
        new Promise<undefined>((wake) => setTimeout(() => wake(undefined), 300)),
      ]);
    }
    assert.equal(arrived.done, false);
    assert.equal(arrived.value.errors, undefined);
    assert.equal(arrived.value.data?.mySecurityEvents.type, 'user.login_succeeded');
    assert.equal(arrived.value.data?.mySecurityEvents.userId, registered.id);
    await events.return?.();
  } finally {
    await subscriptions.dispose();
  }
});
