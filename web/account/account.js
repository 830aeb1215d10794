// The pages behind the links in usergraph's mails. Opening a page never uses
// the token (mail scanners open links too): only pressing its button sends
// the mutation. The token is read from the address and sent to /graphql.
const flows = {
  verify: {
    query: 'mutation($token: String!) { verifyEmail(token: $token) { username } }',
    done: () => 'Your email address is confirmed. You can close this page.',
  },
  email: {
    query: 'mutation($token: String!) { confirmEmailChange(token: $token) { email } }',
    done: (data) => `Your account now uses ${data.confirmEmailChange.email}. Log in with it from now on.`,
  },
  reset: {
    query: 'mutation($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) }',
    done: () => 'Your password was changed, and every device was logged out. Log in with the new password.',
  },
};

const flow = flows[document.body.dataset.flow];
const form = document.getElementById('flow-form');
const status = document.getElementById('status');
const token = new URLSearchParams(window.location.search).get('token') ?? '';

function say(message, kind) {
  status.textContent = message;
  status.className = kind;
}

if (token === '') {
  say('This link has no token. Open the link from the mail again.', 'error');
  form.hidden = true;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const variables = { token };
  if (document.body.dataset.flow === 'reset') {
    const password = form.elements.namedItem('password').value;
    if (password !== form.elements.namedItem('repeat').value) {
      say('The two passwords differ.', 'error');
      return;
    }
    variables.password = password;
  }
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: flow.query, variables }),
    });
    const body = await response.json();
    if (body.errors && body.errors.length > 0) {
      say(body.errors[0].message, 'error');
      return;
    }
    form.hidden = true;
    say(flow.done(body.data), 'done');
  } catch {
    say('usergraph could not be reached. Try again.', 'error');
  } finally {
    button.disabled = false;
  }
});
