// Documents named instead of sent, as npm clients name them: Apollo Client's PersistedQueryLink
// (automatic persisted queries, hashed queries by GET), a trusted document by documentId with
// fetch and with graphql-ws (run by tests/test_clients.py on each engine).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { readFileSync } from "node:fs";

import { BASE, eventually, ingestActivity, openSubscriptions } from "./service.mjs";

globalThis.WebSocket ??= WebSocket;
const JAMES = "mentor_b2c91a";
const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("hex");

// A fetch that records each request's method and the status it got.
function recordingFetch() {
  const seen = [];
  const recording = async (input, init) => {
    const response = await fetch(input, init);
    seen.push(`${(init && init.method) || "GET"} ${response.status}`);
    return response;
  };
  return { fetch: recording, seen };
}

test("Apollo Client's PersistedQueryLink: the hash, then the text once, then the hash alone by GET", async () => {
  const recorded = recordingFetch();
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: `${BASE}/graphql`, fetch: recorded.fetch }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  // A document no other test sends: the service has not seen it yet.
  const query = gql`query PersistedCard($id: ID!) {
    personalStats(mentorId: $id, period: ALL_TIME, asOf: "2026-03-25") { totalActivities completedActivities }
  }`;
  const first = await client.query({ query, variables: { id: JAMES }, fetchPolicy: "network-only" });
  // Apollo Client 4 asks for application/graphql-response+json: PERSISTED_QUERY_NOT_FOUND is a 400.
  assert.deepEqual(recorded.seen, ["GET 400", "POST 200"]);
  const second = await client.query({ query, variables: { id: JAMES }, fetchPolicy: "network-only" });
  assert.deepEqual(recorded.seen, ["GET 400", "POST 200", "GET 200"]);
  assert.deepEqual(second.data, first.data);
  const rest = await (await fetch(`${BASE}/api/v1/personal-stats/${JAMES}?period=all_time&as_of=2026-03-25`)).json();
  assert.equal(first.data.personalStats.totalActivities, rest.total_activities);
  assert.equal(first.data.personalStats.completedActivities, rest.completed_activities);
  client.stop();
});

test("the dashboard's document by documentId: GET with an ETag, then 304", async () => {
  const page = await (await fetch(`${BASE}/dashboard/${JAMES}`)).text();
  const documentId = page.match(/data-document="(sha256:[0-9a-f]{64})"/)[1];
  const variables = JSON.stringify({ id: JAMES, asOf: "2026-03-25" });
  const url = `${BASE}/graphql?${new URLSearchParams({ documentId, variables })}`;
  const first = await fetch(url, { headers: { accept: "application/graphql-response+json" } });
  assert.equal(first.status, 200);
  const body = await first.json();
  assert.equal(body.data.mentor.name, "James Park");
  const etag = first.headers.get("etag");
  assert.ok(etag);
  const again = await fetch(url, { headers: { accept: "application/graphql-response+json", "if-none-match": etag } });
  assert.equal(again.status, 304);
});

test("graphql-ws: an unknown documentId is that subscription's error; a known one hears a write", async () => {
  const client = createClient({ url: `${BASE.replace(/^http/, "ws")}/graphql`, lazy: true });
  try {
    await namedSubscriptions(client);
  } finally {
    await client.dispose();
  }
});

async function namedSubscriptions(client) {
  // graphql-ws sends no subscribe without a string query: an empty one beside the id
  const unknown = await new Promise((resolve) => {
    client.subscribe({ query: "", documentId: `sha256:${"0".repeat(64)}`, variables: {} }, {
      next: () => resolve("next"), error: (errors) => resolve(errors), complete: () => resolve("complete"),
    });
  });
  assert.equal(unknown[0].extensions.code, "PERSISTED_QUERY_NOT_FOUND");
  // documents/follow.graphql, added with `personal-stats documents add` before the service started
  const documentId = `sha256:${sha256(readFileSync(new URL("./documents/follow.graphql", import.meta.url), "utf8"))}`;
  let stop;
  const heard = new Promise((resolve, reject) => {
    stop = client.subscribe({ query: "", documentId, variables: { id: JAMES } }, {
      next: (message) => resolve(message.data.statsChanged), error: reject, complete: () => {},
    });
  });
  await eventually(async () => (await openSubscriptions()) >= 1); // subscribed before the write
  const version = await ingestActivity(JAMES, 25);
  const event = await heard;
  assert.ok(event.dataVersion >= version, `${event.dataVersion} < ${version}`);
  assert.equal(event.ownDataChanged, true);
  stop();
  await eventually(async () => (await openSubscriptions()) === 0);
}
