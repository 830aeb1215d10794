// @usergraph/client: the typed client and the generated operation types.
export * from './client.js';
export type * from './generated/graphql.js';
