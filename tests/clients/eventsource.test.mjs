// The event stream as the `eventsource` package (the browser's EventSource for node) reads it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { EventSource } from "eventsource";

import { BASE, ingestActivity } from "./service.mjs";

const AMARA = "mentor_5f1b66";
const WITHIN_MS = 2000;

function nextEvent(source, name, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms`)), ms);
    source.addEventListener(name, (event) => { clearTimeout(timer); resolve(event); }, { once: true });
  });
}

test("EventSource: an ingest is followed by stats-changed with its data version", async (t) => {
  const source = new EventSource(`${BASE}/api/v1/personal-stats/${AMARA}/events`);
  t.after(() => source.close());
  await new Promise((resolve, reject) => {
    source.onopen = resolve;
    source.onerror = (error) => reject(new Error(`the stream did not open: ${error.message}`));
  });
  // listening before the write: its event may come before the write's own answer
  const heard = nextEvent(source, "stats-changed", WITHIN_MS);
  const version = await ingestActivity(AMARA, 30);
  const event = await heard;
  assert.deepEqual(JSON.parse(event.data), { mentor_id: AMARA, data_version: version, own_data_changed: true });
  assert.equal(event.lastEventId, String(version));
});
