// The demo page in a real browser: Debian's Chromium, headless, driven by
// playwright-core. Every request outside the server is blocked and
// counted, so the pages must work with no internet. The server is a copy of
// the binary in a folder of its own, started there, with no asset folder
// set: the landing page, the playground and the demo come out of the
// executable. Screenshots are kept in artifacts/ for a person to look at.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium, type BrowserContext, type Page } from 'playwright-core';

import { mailedLink } from '../test/support/mail.js';
import { REPO_ROOT, startServer, type RunningServer } from '../test/support/server.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'clients/typescript/artifacts');
const PASSWORD = 'Str0ng!pass';
const NEW_PASSWORD = 'N3w!passw0rd';

describe('the demo page and the playground in headless Chromium', () => {
  let server: RunningServer;
  let context: BrowserContext;
  let profileDir: string;
  const offsite: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    server = await startServer({}, { copyBinary: true });
    profileDir = mkdtempSync(join(tmpdir(), 'usergraph-chromium-'));
    mkdirSync(ARTIFACTS, { recursive: true });
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    // No internet: anything not addressed to the server is refused.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(server.origin) || url.startsWith('data:')) {
        return route.continue();
      }
      offsite.push(url);
      return route.abort();
    });
  });

  after(async () => {
    await context?.close();
    await server?.stop();
    rmSync(profileDir, { recursive: true, force: true });
  });

  async function open(path: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${path}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') {
        pageErrors.push(`${path}: ${message.text()}`);
      }
    });
    await page.goto(`${server.origin}${path}`);
    return page;
  }

  /** Open a mailed link (it must point at this server) in a new tab. */
  async function followLink(link: string, act: (page: Page) => Promise<void>): Promise<void> {
    assert.ok(link.startsWith(`${server.origin}/account/`), link);
    const page = await open(link.slice(server.origin.length));
    await act(page);
    await page.close();
  }

  async function status(page: Page, expected: string | RegExp): Promise<void> {
    const locator = page.locator('#status');
    await locator.filter({ hasText: expected }).waitFor({ timeout: 10_000 });
  }

  test('the whole journey: register, log in, verify, edit, change email, reset the password, delete', async () => {
    const page = await open('/demo');
    await status(page, 'Not logged in');
    assert.equal(await page.locator('#signed-out').isVisible(), true);
    assert.equal(await page.locator('#signed-in').isVisible(), false);

    const register = page.locator('#register-form');
    await register.getByLabel('Name', { exact: true }).fill('Ann Lee');
    await register.getByLabel('Username', { exact: true }).fill('ann');
    await register.getByLabel('Email', { exact: true }).fill('ann@example.com');
    await register.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await register.getByRole('button', { name: 'Register' }).click();
    await status(page, 'Registered ann. Now log in.');

    // A duplicate is refused with the server's code.
    await register.getByLabel('Name', { exact: true }).fill('Ann Again');
    await register.getByLabel('Username', { exact: true }).fill('ann');
    await register.getByLabel('Email', { exact: true }).fill('other@example.com');
    await register.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await register.getByRole('button', { name: 'Register' }).click();
    await status(page, /\(CONFLICT\)/);
    assert.match((await page.locator('#status').getAttribute('class')) ?? '', /error/);

    const login = page.locator('#login-form');
    assert.equal(await login.getByLabel('Username or email', { exact: true }).inputValue(), 'ann');
    await login.getByLabel('Password', { exact: true }).fill('Wr0ng!pass');
    await login.getByRole('button', { name: 'Log in' }).click();
    await status(page, /Incorrect username or password \(UNAUTHENTICATED\)/);
    await login.getByLabel('Username or email', { exact: true }).fill('ann');
    await login.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await login.getByRole('button', { name: 'Log in' }).click();
    await status(page, 'Logged in as ann.');
    assert.equal(await page.locator('#signed-in').isVisible(), true);
    assert.equal(await page.locator('#profile-name').textContent(), 'Ann Lee');
    assert.equal(await page.locator('#profile-username').textContent(), 'ann');
    assert.equal(await page.locator('#profile-email').textContent(), 'ann@example.com');

    const edit = page.locator('#profile-form');
    await edit.getByLabel('Name', { exact: true }).fill('Ann Smith');
    await edit.getByRole('button', { name: 'Save' }).click();
    await status(page, 'Profile saved.');
    assert.equal(await page.locator('#profile-name').textContent(), 'Ann Smith');
    assert.match((await page.locator('#profile-verified').textContent()) ?? '', /not yet/);

    // The verification link from the mail register sent: opening it changes
    // nothing, its button verifies.
    await followLink(await mailedLink(server.mailDir, 'ann@example.com', '/account/verify'), async (link) => {
      await link.getByRole('button', { name: 'Confirm my address' }).click();
      await status(link, 'Your email address is confirmed.');
    });
    await page.reload();
    await status(page, 'Welcome back, ann.');
    assert.equal(await page.locator('#profile-verified').textContent(), 'yes');

    // A new address takes effect only once its link is used.
    const emailForm = page.locator('#email-form');
    await emailForm.getByLabel('New email', { exact: true }).fill('ann.smith@example.com');
    await emailForm.getByLabel('Current password', { exact: true }).fill(PASSWORD);
    await emailForm.getByRole('button', { name: 'Send a confirmation link' }).click();
    await status(page, /Check ann\.smith@example\.com for a link/);
    assert.equal(await page.locator('#profile-email').textContent(), 'ann@example.com');
    await followLink(await mailedLink(server.mailDir, 'ann.smith@example.com', '/account/email'), async (link) => {
      await link.getByRole('button', { name: 'Use this address' }).click();
      await status(link, 'Your account now uses ann.smith@example.com.');
    });
    await page.screenshot({ path: join(ARTIFACTS, 'demo.png'), fullPage: true });

    // A reload keeps the session: the page refreshes from the HttpOnly cookie.
    await page.reload();
    await status(page, 'Welcome back, ann.');
    assert.equal(await page.locator('#profile-name').textContent(), 'Ann Smith');
    assert.equal(await page.locator('#profile-email').textContent(), 'ann.smith@example.com');
    const cookies = await context.cookies(server.url);
    const refresh = cookies.find((cookie) => cookie.name === 'usergraph_refresh');
    assert.ok(refresh?.httpOnly, 'the refresh token lives in an HttpOnly cookie');

    await page.getByRole('button', { name: 'Log out' }).click();
    await status(page, 'Logged out.');
    assert.equal(await page.locator('#signed-out').isVisible(), true);
    await page.reload();
    await status(page, 'Not logged in');

    // Forgot the password: the demo asks for a link, the mailed page sets a
    // new password, and the demo logs in with it.
    const forgot = page.locator('#forgot-form');
    await forgot.getByLabel('Email', { exact: true }).fill('ann.smith@example.com');
    await forgot.getByRole('button', { name: 'Mail me a reset link' }).click();
    await status(page, /If an account uses ann\.smith@example\.com, a reset link is on its way\./);
    await followLink(await mailedLink(server.mailDir, 'ann.smith@example.com', '/account/reset'), async (link) => {
      await link.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await link.getByLabel('Repeat it', { exact: true }).fill(NEW_PASSWORD);
      await link.getByRole('button', { name: 'Set the new password' }).click();
      await status(link, /Your password was changed/);
      await link.screenshot({ path: join(ARTIFACTS, 'account-reset.png'), fullPage: true });
    });

    await login.getByLabel('Username or email', { exact: true }).fill('ann.smith@example.com');
    await login.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await login.getByRole('button', { name: 'Log in' }).click();
    await status(page, /Incorrect username or password \(UNAUTHENTICATED\)/);
    await login.getByLabel('Username or email', { exact: true }).fill('ann.smith@example.com');
    await login.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await login.getByRole('button', { name: 'Log in' }).click();
    await status(page, 'Logged in as ann.');
    await page.getByRole('button', { name: 'Delete account' }).click();
    await status(page, 'Account ann deleted.');
    assert.equal(await page.locator('#signed-out').isVisible(), true);

    await login.getByLabel('Username or email', { exact: true }).fill('ann');
    await login.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await login.getByRole('button', { name: 'Log in' }).click();
    await status(page, /UNAUTHENTICATED/);
    await page.screenshot({ path: join(ARTIFACTS, 'demo-after-delete.png'), fullPage: true });
    await page.close();
  });

  test('the playground runs offline with a pasted bearer token', async () => {
    // A user to be: register and log in over plain HTTP.
    const post = async (query: string) => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      return (await response.json()) as { data: Record<string, Record<string, string>> };
    };
    await post(
      'mutation { register(input: {name: "Bob Ray", username: "bob", email: "bob@example.com", password: "Str0ng!pass"}) { id } }',
    );
    const login = await post('mutation { login(usernameOrEmail: "bob", password: "Str0ng!pass") { accessToken } }');
    const token = login.data['login']?.['accessToken'];
    assert.ok(token);

    const page = await open('/graphql');
    await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#usergraph-notice').count(), 0, 'the self-hosted build is served');
    // The defaults are in place once GraphiQL has finished setting up.
    const queryEditor = page.locator('.graphiql-query-editor');
    await queryEditor.filter({ hasText: 'query Me' }).waitFor({ timeout: 20_000 });
    const headersEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden)');
    await headersEditor.filter({ hasText: 'paste-the-accessToken-here' }).waitFor();

    // Write into GraphiQL's CodeMirror editors as a paste would.
    const replace = async (editor: typeof queryEditor, text: string) => {
      const written = await editor.locator('.CodeMirror').evaluate((element, value) => {
        const codeMirror = (element as unknown as { CodeMirror: { setValue(v: string): void; getValue(): string } })
          .CodeMirror;
        codeMirror.setValue(value);
        return codeMirror.getValue();
      }, text);
      assert.equal(written, text);
    };
    await replace(queryEditor, '{ me { username email } }');
    await replace(headersEditor, JSON.stringify({ Authorization: `Bearer ${token}` }));
    // GraphiQL may still be settling (schema fetch, editor state): click
    // until the query is actually sent, at most three times.
    for (let attempt = 1; ; attempt += 1) {
      const sent = page.waitForRequest(
        (request) => request.method() === 'POST' && (request.postData() ?? '').includes('username email'),
        { timeout: 5_000 },
      );
      await page.locator('.graphiql-execute-button').click();
      try {
        const request = await sent;
        assert.equal(request.headers()['authorization'], `Bearer ${token}`, 'the pasted header is sent');
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    const result = page.locator('.result-window');
    try {
      await result.filter({ hasText: 'bob@example.com' }).waitFor({ timeout: 10_000 });
    } catch (error) {
      assert.fail(`GraphiQL showed: ${await result.textContent()} (${String(error)})`);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'playground.png') });
    await page.close();
  });

  test('the landing page links the playground, the demo, health and discovery', async () => {
    const page = await open('/');
    assert.equal(await page.title(), 'usergraph');
    assert.match((await page.locator('#version').textContent()) ?? '', /^version \d+\.\d+\.\d+/);
    for (const href of ['/graphql', '/demo/', '/health', '/health/ready', '/.well-known/openid-configuration']) {
      assert.equal(await page.locator(`a[href="${href}"]`).count(), 1, href);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'landing.png') });
    await page.locator('#demo').click();
    await status(page, 'Not logged in');
    await page.goBack();
    await page.locator('#playground').click();
    await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
    await page.close();
  });

  test('nothing was loaded from outside the server and no script failed', () => {
    assert.deepEqual(offsite, []);
    assert.deepEqual(pageErrors, []);
  });
});
