// How a frontend connects to the service: the README shows these two functions as they are.
// Node 20 has no WebSocket of its own (browsers and node 22 do): `ws` stands in for it.
import WebSocket from "ws";

globalThis.WebSocket ??= WebSocket;

// --- Apollo Client ---
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { OperationTypeNode } from "graphql";
import { createClient } from "graphql-ws";

export function apolloClient(base, { fetch = globalThis.fetch } = {}) {
  const http = new HttpLink({ uri: `${base}/graphql`, fetch });
  const ws = new GraphQLWsLink(createClient({ url: `${base.replace(/^http/, "ws")}/graphql` }));
  return new ApolloClient({
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, ws, http,
    ),
    cache: new InMemoryCache(),
  });
}
// --- end Apollo Client ---

// --- urql ---
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";

export function urqlClient(base, { fetch = globalThis.fetch } = {}) {
  const ws = createClient({ url: `${base.replace(/^http/, "ws")}/graphql` });
  return new Client({
    url: `${base}/graphql`,
    fetch,
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: ws.subscribe({ ...request, query: request.query || "" }, sink),
          }),
        }),
      }),
    ],
  });
}
// --- end urql ---
