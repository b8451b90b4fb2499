// What the client tests need of the service besides the clients: its REST answers, a write
// through the write API, and a counting fetch that tells which method each request used.
export const BASE = process.env.PERSONAL_STATS_BASE_URL;
const TOKEN = process.env.PERSONAL_STATS_TOKEN;

export async function rest(path) {
  const response = await fetch(`${BASE}${path}`);
  return { status: response.status, body: await response.json() };
}

let written = 0;

// Writes one completed activity of `minutes` for the mentor; the data version it made.
export async function ingestActivity(mentorId, minutes) {
  written += 1;
  const record = {
    record: "activity", id: `client_suite_${process.pid}_${written}`, mentor_id: mentorId,
    activity_type_id: "act_type_001", status: "completed",
    started_at: "2026-03-20T15:00:00Z", duration_minutes: minutes,
  };
  const response = await fetch(`${BASE}/api/v1/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-ndjson" },
    body: JSON.stringify(record),
  });
  if (response.status !== 200) throw new Error(`ingest: ${response.status} ${await response.text()}`);
  return Number(response.headers.get("x-data-version"));
}

// A fetch that records the method of every request it makes.
export function countingFetch() {
  const methods = [];
  const counted = (input, init) => {
    methods.push((init && init.method) || "GET");
    return fetch(input, init);
  };
  return { fetch: counted, methods };
}

// The open subscriptions the service counts in /metrics.
export async function openSubscriptions() {
  const text = await (await fetch(`${BASE}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith('personal_stats_open_followers{kind="graphql"}'));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

// Waits until `check()` is true, or fails after `ms`.
export async function eventually(check, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// snake_case REST keys to GraphQL's camelCase.
export function camel(key) {
  return key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}
