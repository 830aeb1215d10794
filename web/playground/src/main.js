// usergraph's GraphiQL, bundled from npm by build.mjs so the playground
// needs nothing from the internet. The server's page (src/http/pages.rs)
// loads this file and graphiql.css, and names the endpoint in
// `data-endpoint`, so the page has no inline script.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';
import './page.css';

const EXAMPLE = `# Welcome to usergraph.
#
# 1. Run "Register", then "Login" (the operation picker is on the run button).
# 2. Copy accessToken into the Headers pane below:
#      { "Authorization": "Bearer <accessToken>" }
# 3. Run "Me". "Refresh" works without pasting anything: the refresh token
#    travels in an HttpOnly cookie, which this page sends.

mutation Register {
  register(input: { name: "Ann Lee", username: "ann", email: "ann@example.com", password: "Str0ng!pass" }) {
    id
    username
  }
}

mutation Login {
  login(usernameOrEmail: "ann", password: "Str0ng!pass") {
    accessToken
    expiresIn
  }
}

query Me {
  me { id username name email createdAt }
}

mutation Refresh {
  refreshToken { accessToken }
}
`;

const HEADERS = `{
  "Authorization": "Bearer paste-the-accessToken-here"
}`;

const container = document.getElementById('graphiql');
const endpoint = container.dataset.endpoint || '/graphql';

const fetcher = createGraphiQLFetcher({
  url: endpoint,
  // Same-origin cookies, so `refreshToken` and `logout` find the refresh
  // cookie that `login` set.
  fetch: (url, init) => fetch(url, { ...init, credentials: 'same-origin' }),
});

createRoot(container).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery: EXAMPLE,
    defaultHeaders: HEADERS,
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
  }),
);
