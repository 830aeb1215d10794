// The whole user journey against usergraph through Apollo Client, typed by
// the code GraphQL Code Generator writes from ../../schema.graphql and
// operations/*.graphql. Errors come back as `UsergraphError` carrying the
// server's `extensions.code`, so callers branch on codes, not messages.
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  type OperationVariables,
  type TypedDocumentNode,
} from '@apollo/client';

import {
  ChangeEmailDocument,
  DeleteAccountDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RegisterDocument,
  RequestPasswordResetDocument,
  UpdateProfileDocument,
  type ProfileFragment,
  type RegisterInput,
  type SessionFragment,
  type UpdateUserInput,
} from './generated/graphql.js';

export type Profile = ProfileFragment;
export type Session = SessionFragment;
export type { RegisterInput, UpdateUserInput };

/** The codes usergraph puts in `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'INTERNAL';

/** A refusal from usergraph (or the network, as `INTERNAL`). */
export class UsergraphError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode,
  ) {
    super(message);
    this.name = 'UsergraphError';
  }
}

export interface UsergraphClientOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:8000/graphql` or `/graphql`. */
  url: string;
  /**
   * `same-origin` (the default) lets a page on usergraph's origin use the
   * HttpOnly refresh cookie; `include` for a cross-origin app listed in
   * `CORS_ORIGINS`.
   */
  credentials?: RequestCredentials;
  /**
   * Keep the refresh token in memory and send it with `refresh` and
   * `logout`. Off for browsers, which should leave it in the cookie where
   * scripts cannot read it.
   */
  keepRefreshToken?: boolean;
  /**
   * Send queries as `GET /graphql?query=…` (cacheable by HTTP caches);
   * mutations always go by POST, as the GraphQL-over-HTTP spec requires.
   */
  getForQueries?: boolean;
  fetch?: typeof fetch;
}

export class UsergraphClient {
  readonly apollo: ApolloClient;
  private accessToken: string | null = null;
  private refreshToken: string | null = null;
  private readonly keepRefreshToken: boolean;

  constructor(options: UsergraphClientOptions) {
    this.keepRefreshToken = options.keepRefreshToken ?? true;
    const bearer = new ApolloLink((operation, forward) => {
      if (this.accessToken !== null) {
        const token = this.accessToken;
        operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
          headers: { ...headers, authorization: `Bearer ${token}` },
        }));
      }
      return forward(operation);
    });
    const http = new HttpLink({
      uri: options.url,
      credentials: options.credentials ?? 'same-origin',
      useGETForQueries: options.getForQueries ?? false,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.apollo = new ApolloClient({
      link: ApolloLink.from([bearer, http]),
      cache: new InMemoryCache(),
    });
  }

  /** Whether a login or refresh gave this client an access token. */
  get signedIn(): boolean {
    return this.accessToken !== null;
  }

  async register(input: RegisterInput): Promise<Profile> {
    const data = await this.mutate(RegisterDocument, { input });
    return data.register;
  }

  async login(usernameOrEmail: string, password: string): Promise<Session> {
    const data = await this.mutate(LoginDocument, { usernameOrEmail, password });
    return this.keep(data.login);
  }

  /** The signed-in user, always fresh from the server. */
  async me(): Promise<Profile> {
    try {
      const result = await this.apollo.query({ query: MeDocument, fetchPolicy: 'network-only' });
      if (!result.data) {
        throw new UsergraphError('No data in the response', 'INTERNAL');
      }
      return result.data.me;
    } catch (error) {
      throw toUsergraphError(error);
    }
  }

  async updateProfile(username: string, input: UpdateUserInput): Promise<Profile> {
    const data = await this.mutate(UpdateProfileDocument, { username, input });
    return data.updateUser;
  }

  /**
   * Ask to move the account to `newEmail`: the new address gets a link to
   * confirm it, the current one a notice. Nothing changes until the link is
   * used.
   */
  async changeEmail(newEmail: string, currentPassword: string): Promise<void> {
    await this.mutate(ChangeEmailDocument, { newEmail, currentPassword });
  }

  /** Mail a reset link to the account with `email`, if there is one. */
  async requestPasswordReset(email: string): Promise<void> {
    await this.mutate(RequestPasswordResetDocument, { email });
  }

  /** A new token pair; the old refresh token is used up. */
  async refresh(): Promise<Session> {
    const data = await this.mutate(RefreshDocument, { refreshToken: this.refreshToken });
    return this.keep(data.refreshToken);
  }

  /** Revoke this session's tokens and forget them (and the cache). */
  async logout(): Promise<void> {
    try {
      await this.mutate(LogoutDocument, { refreshToken: this.refreshToken });
    } finally {
      await this.forget();
    }
  }

  /** Soft-delete the account (owner or superuser), then forget the session. */
  async deleteAccount(username: string): Promise<void> {
    await this.mutate(DeleteAccountDocument, { username });
    await this.forget();
  }

  private keep(session: Session): Session {
    this.accessToken = session.accessToken;
    this.refreshToken = this.keepRefreshToken ? session.refreshToken : null;
    return session;
  }

  private async forget(): Promise<void> {
    this.accessToken = null;
    this.refreshToken = null;
    await this.apollo.clearStore();
  }

  private async mutate<Data, Variables extends OperationVariables>(
    mutation: TypedDocumentNode<Data, Variables>,
    variables: Variables,
  ): Promise<Data> {
    try {
      const result = await this.apollo.mutate<Data, Variables>({ mutation, variables });
      if (result.data === undefined || result.data === null) {
        throw new UsergraphError('No data in the response', 'INTERNAL');
      }
      return result.data;
    } catch (error) {
      throw toUsergraphError(error);
    }
  }
}

const CODES: readonly ErrorCode[] = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'INTERNAL',
];

function toUsergraphError(error: unknown): UsergraphError {
  if (error instanceof UsergraphError) {
    return error;
  }
  if (CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    const code = first?.extensions?.['code'];
    const known = CODES.find((candidate) => candidate === code) ?? 'INTERNAL';
    return new UsergraphError(first?.message ?? error.message, known);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UsergraphError(message, 'INTERNAL');
}
