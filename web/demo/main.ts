// The demo page: the typed client's journey driven by plain DOM code. The
// refresh token stays in usergraph's HttpOnly cookie (the client keeps only
// the access token in memory), so a reload resumes the session through
// `refresh()` without any script ever reading the refresh token.
import { UsergraphClient, UsergraphError, type Profile } from '../../clients/typescript/src/index.js';

const client = new UsergraphClient({ url: '/graphql', credentials: 'same-origin', keepRefreshToken: false });

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) {
    throw new Error(`#${id} is missing from the page`);
  }
  return found as T;
}

function field(form: HTMLFormElement, name: string): string {
  const input = form.elements.namedItem(name);
  return input instanceof HTMLInputElement ? input.value.trim() : '';
}

function say(message: string, isError = false): void {
  const status = element<HTMLParagraphElement>('status');
  status.textContent = message;
  status.classList.toggle('error', isError);
}

function explain(error: unknown): string {
  if (error instanceof UsergraphError) {
    return `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

function show(profile: Profile | null): void {
  element('signed-out').hidden = profile !== null;
  element('signed-in').hidden = profile === null;
  if (profile === null) {
    return;
  }
  element('profile-name').textContent = profile.name;
  element('profile-username').textContent = profile.username;
  element('profile-email').textContent = profile.email ?? '';
  element('profile-verified').textContent = profile.emailVerified ? 'yes' : 'not yet (see the link in your mail)';
  element('profile-created').textContent = new Date(profile.createdAt).toLocaleString();
  const form = element<HTMLFormElement>('profile-form');
  (form.elements.namedItem('name') as HTMLInputElement).value = profile.name;
}

let current: Profile | null = null;

/** Run one step with its buttons disabled; report success or the error. */
async function step(scope: HTMLElement, action: () => Promise<string>): Promise<void> {
  const buttons = [...scope.querySelectorAll('button')];
  buttons.forEach((button) => (button.disabled = true));
  try {
    say(await action());
  } catch (error) {
    say(explain(error), true);
  } finally {
    buttons.forEach((button) => (button.disabled = false));
  }
}

element<HTMLFormElement>('register-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void step(form, async () => {
    const profile = await client.register({
      name: field(form, 'name'),
      username: field(form, 'username'),
      email: field(form, 'email'),
      password: field(form, 'password'),
    });
    const login = element<HTMLFormElement>('login-form');
    (login.elements.namedItem('identifier') as HTMLInputElement).value = profile.username;
    form.reset();
    return `Registered ${profile.username}. Now log in.`;
  });
});

element<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void step(form, async () => {
    const session = await client.login(field(form, 'identifier'), field(form, 'password'));
    form.reset();
    current = session.user;
    show(current);
    return `Logged in as ${session.user.username}.`;
  });
});

element<HTMLFormElement>('profile-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void step(form, async () => {
    if (current === null) {
      throw new Error('Log in first.');
    }
    current = await client.updateProfile(current.username, { name: field(form, 'name') });
    show(await client.me());
    return 'Profile saved.';
  });
});

element<HTMLFormElement>('email-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void step(form, async () => {
    const email = field(form, 'email');
    await client.changeEmail(email, field(form, 'password'));
    form.reset();
    return `Check ${email} for a link to confirm it. Your address stays as it is until then.`;
  });
});

element<HTMLFormElement>('forgot-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void step(form, async () => {
    const email = field(form, 'email');
    await client.requestPasswordReset(email);
    form.reset();
    return `If an account uses ${email}, a reset link is on its way.`;
  });
});

element('logout').addEventListener('click', () => {
  void step(element('signed-in'), async () => {
    await client.logout();
    current = null;
    show(null);
    return 'Logged out.';
  });
});

element('delete').addEventListener('click', () => {
  void step(element('signed-in'), async () => {
    if (current === null) {
      throw new Error('Log in first.');
    }
    const username = current.username;
    await client.deleteAccount(username);
    current = null;
    show(null);
    return `Account ${username} deleted.`;
  });
});

/** Resume a session from the refresh cookie, if the browser has one. */
async function resume(): Promise<void> {
  try {
    const session = await client.refresh();
    current = session.user;
    show(current);
    say(`Welcome back, ${session.user.username}.`);
  } catch {
    show(null);
    say('Not logged in. Register or log in below.');
  }
}

void resume();
