// The service as frontends use it: Apollo Client, urql and graphql-ws from npm, over real HTTP
// and WebSockets, against the demo data (run by tests/test_clients.py on each engine).
import assert from "node:assert/strict";
import { after, test } from "node:test";

import { CombinedGraphQLErrors, gql } from "@apollo/client";
import { gql as urqlGql } from "@urql/core";
import { createClient } from "graphql-ws";

import { apolloClient, urqlClient } from "./connect.mjs";
import { BASE, camel, countingFetch, eventually, ingestActivity, openSubscriptions, rest } from "./service.mjs";

const JAMES = "mentor_b2c91a";
const AS_OF = "2026-03-25";
const WITHIN_MS = 1000; // SPEC 18: a write reaches its followers within a second

const DASHBOARD = `query Dashboard($id: ID!, $period: StatsPeriod, $asOf: Date, $tz: String) {
  mentor(id: $id) {
    id name timezone
    personalStats(period: $period, asOf: $asOf, tz: $tz) {
      mentorId mentorName period startDate endDate timezone totalActivities completedActivities
      cancelledActivities completionRate avgSessionDurationMinutes totalHoursLogged
      mostCommonActivityType mostActiveWeekday peerRankPercentile streakDays longestStreakDays
      activeDays weeklyStreakWeeks
    }
    monthlySeries(months: 12, asOf: $asOf, tz: $tz) {
      data { year month monthLabel totalActivities completedActivities totalHours }
      pagination { page limit total }
    }
    activityBreakdown(period: $period, asOf: $asOf, tz: $tz, limit: 100) {
      data { activityTypeId activityTypeName activityTypeCode count percentage avgDurationMinutes totalHours }
    }
    contributionCalendar(startDate: "2026-03-01", endDate: $asOf, tz: $tz) {
      startDate endDate totalActivities completedActivities activeDays maxCount
      days { date weekday count completed level }
    }
  }
}`;
const VARIABLES = { id: JAMES, period: "LAST_90_DAYS", asOf: AS_OF, tz: "Europe/Berlin" };

const STATS_CHANGED = `subscription Follow($id: ID!) {
  statsChanged(mentorId: $id) {
    dataVersion ownDataChanged
    mentor { id personalStats(period: ALL_TIME) { totalActivities totalHoursLogged } }
  }
}`;

// REST's body with camelCase keys and upper-case periods: what GraphQL answers for the same question.
function asGraphQL(value) {
  if (Array.isArray(value)) return value.map(asGraphQL);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [camel(key), key === "period" ? v.toUpperCase() : asGraphQL(v)]),
  );
}

// Only the fields a query asked for, so REST's body can be compared with it.
function picked(like, from) {
  if (Array.isArray(like)) return like.map((item, i) => picked(item, from[i]));
  if (like === null || typeof like !== "object") return from;
  return Object.fromEntries(Object.keys(like).filter((k) => k !== "__typename").map((k) => [k, picked(like[k], from[k])]));
}

async function restDashboard() {
  const query = `as_of=${AS_OF}&tz=Europe/Berlin`;
  const [summary, series, breakdown, calendar] = await Promise.all([
    rest(`/api/v1/personal-stats/${JAMES}?period=last_90_days&${query}`),
    rest(`/api/v1/personal-stats/${JAMES}/monthly-series?months=12&${query}`),
    rest(`/api/v1/personal-stats/${JAMES}/activity-breakdown?period=last_90_days&limit=100&${query}`),
    rest(`/api/v1/personal-stats/${JAMES}/contribution-calendar?start_date=2026-03-01&end_date=${AS_OF}&${query}`),
  ]);
  return {
    personalStats: asGraphQL(summary.body),
    monthlySeries: asGraphQL(series.body),
    activityBreakdown: asGraphQL(breakdown.body),
    contributionCalendar: asGraphQL(calendar.body),
  };
}

function withoutTypenames(value) {
  return JSON.parse(JSON.stringify(value, (key, v) => (key === "__typename" ? undefined : v)));
}

// The next value a client's observable gives, or its error, within `ms`.
function nextOf(observable, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms);
    const subscription = observable.subscribe({
      next: (value) => { clearTimeout(timer); resolve({ value, subscription }); },
      error: (error) => { clearTimeout(timer); resolve({ error, subscription }); },
    });
  });
}

after(async () => {
  await eventually(async () => (await openSubscriptions()) === 0);
});

test("Apollo Client: the dashboard with variables equals REST's answers", async () => {
  const client = apolloClient(BASE);
  const { data } = await client.query({ query: gql(DASHBOARD), variables: VARIABLES });
  const mentor = withoutTypenames(data.mentor);
  assert.equal(mentor.name, "James Park");
  assert.equal(mentor.personalStats.period, "LAST_90_DAYS");
  assert.equal(mentor.personalStats.timezone, "Europe/Berlin");
  assert.equal(mentor.contributionCalendar.days.length, 25); // 1 to 25 March
  const expected = await restDashboard();
  for (const field of Object.keys(expected)) {
    assert.deepEqual(mentor[field], picked(mentor[field], expected[field]), field);
  }
  assert.ok(mentor.personalStats.totalActivities > 0);
  client.stop();
});

test("Apollo Client: the normalised cache holds Mentor:<id> and answers a repeat", async () => {
  const counted = countingFetch();
  const client = apolloClient(BASE, { fetch: counted.fetch });
  const first = await client.query({ query: gql(DASHBOARD), variables: VARIABLES });
  assert.ok(client.cache.extract()[`Mentor:${JAMES}`], Object.keys(client.cache.extract()));
  const again = await client.query({ query: gql(DASHBOARD), variables: VARIABLES });
  assert.deepEqual(again.data, first.data);
  assert.equal(counted.methods.length, 1, "the repeat was answered from the cache");
  await client.query({ query: gql(DASHBOARD), variables: VARIABLES, fetchPolicy: "network-only" });
  assert.equal(counted.methods.length, 2, "a network-only query is counted");
  client.stop();
});

test("urql: POST, GET for a short query and a forced GET of the dashboard agree with Apollo", async () => {
  const apollo = apolloClient(BASE);
  const { data: expected } = await apollo.query({ query: gql(DASHBOARD), variables: VARIABLES });
  apollo.stop();
  const counted = countingFetch();
  const client = urqlClient(BASE, { fetch: counted.fetch });
  const post = await client.query(DASHBOARD, VARIABLES, { preferGetMethod: false, requestPolicy: "network-only" }).toPromise();
  assert.equal(post.error, undefined);
  const forced = await client.query(DASHBOARD, VARIABLES, { preferGetMethod: "force", requestPolicy: "network-only" }).toPromise();
  assert.equal(forced.error, undefined);
  assert.deepEqual(withoutTypenames(post.data), withoutTypenames(expected));
  assert.deepEqual(withoutTypenames(forced.data), withoutTypenames(expected));
  const short = await client.query(urqlGql`query { mentor(id: "${JAMES}") { id name } }`, {}).toPromise();
  assert.deepEqual(withoutTypenames(short.data), { mentor: { id: JAMES, name: "James Park" } });
  assert.deepEqual(counted.methods, ["POST", "GET", "GET"]);
});

test("NOT_FOUND and BAD_USER_INPUT reach each client's error path", async () => {
  const apollo = apolloClient(BASE);
  const query = gql`query Q($id: ID!, $tz: String) { personalStats(mentorId: $id, tz: $tz) { totalActivities } }`;
  for (const [variables, code] of [[{ id: "nobody" }, "NOT_FOUND"], [{ id: JAMES, tz: "Mars/Olympus" }, "BAD_USER_INPUT"]]) {
    await assert.rejects(apollo.query({ query, variables }), (error) => {
      assert.ok(CombinedGraphQLErrors.is(error), String(error));
      assert.equal(error.errors[0].extensions.code, code);
      return true;
    });
    const urql = await urqlClient(BASE).query(query, variables).toPromise();
    assert.equal(urql.error.graphQLErrors[0].extensions.code, code);
  }
  // and a subscription's error goes to its error callback
  const { value, error, subscription } = await nextOf(apollo.subscribe({ query: gql(STATS_CHANGED), variables: { id: "nobody" } }));
  const failure = error ?? value.error;
  assert.ok(CombinedGraphQLErrors.is(failure), String(failure));
  assert.equal(failure.errors[0].extensions.code, "NOT_FOUND");
  subscription.unsubscribe();
  apollo.stop();
});

test("a request refused before execution (a 400 in application/graphql-response+json) reaches each client's error path", async () => {
  const query = gql`query Q($id: ID!, $asOf: Date) { personalStats(mentorId: $id, asOf: $asOf) { totalActivities } }`;
  const variables = { id: JAMES, asOf: "2026-13-01" }; // not a date: the variable cannot be coerced
  const seen = [];
  const recording = async (url, init) => {
    const response = await fetch(url, init);
    seen.push([response.status, response.headers.get("content-type")]);
    return response;
  };
  const apollo = apolloClient(BASE, { fetch: recording });
  await assert.rejects(apollo.query({ query, variables }), (error) => {
    assert.ok(CombinedGraphQLErrors.is(error), String(error));
    assert.equal(error.errors[0].extensions.code, "BAD_USER_INPUT");
    return true;
  });
  apollo.stop();
  const urql = await urqlClient(BASE, { fetch: recording }).query(query, variables).toPromise();
  assert.equal(urql.error.graphQLErrors[0].extensions.code, "BAD_USER_INPUT");
  assert.deepEqual(seen, [[400, "application/graphql-response+json"], [400, "application/graphql-response+json"]]);
});

// A subscription that hears an ingest of the mentor with its new figures, within a second.
async function hearsTheWrite(subscribe) {
  const before = (await rest(`/api/v1/personal-stats/${JAMES}?period=all_time`)).body;
  const heard = subscribe();
  await eventually(async () => (await openSubscriptions()) >= 1);
  const version = await ingestActivity(JAMES, 45);
  const written = Date.now();
  const changed = await heard.next;
  const waited = Date.now() - written;
  assert.ok(waited <= WITHIN_MS, `the event came ${waited} ms after the write`);
  const now = await rest(`/api/v1/personal-stats/${JAMES}?period=all_time`);
  assert.deepEqual(withoutTypenames(changed), {
    dataVersion: version,
    ownDataChanged: true,
    mentor: { id: JAMES, personalStats: {
      totalActivities: before.total_activities + 1,
      totalHoursLogged: now.body.total_hours_logged,
    } },
  });
  // 45 more minutes, each total rounded to a tenth of an hour
  assert.ok(Math.abs(now.body.total_hours_logged - before.total_hours_logged - 0.75) <= 0.1);
  heard.stop();
  await eventually(async () => (await openSubscriptions()) === 0);
}

test("graphql-ws: a subscription hears an ingest, then unsubscribes and disposes cleanly", async () => {
  const client = createClient({ url: `${BASE.replace(/^http/, "ws")}/graphql` });
  let completed = false;
  await hearsTheWrite(() => {
    let stop;
    const next = new Promise((resolve, reject) => {
      stop = client.subscribe({ query: STATS_CHANGED, variables: { id: JAMES } }, {
        next: (message) => resolve(message.data.statsChanged),
        error: reject,
        complete: () => { completed = true; },
      });
    });
    return { next, stop: () => stop() };
  });
  assert.ok(completed, "unsubscribing completes the sink");
  await client.dispose();
});

test("Apollo Client: a subscription through GraphQLWsLink hears an ingest", async () => {
  const client = apolloClient(BASE);
  await hearsTheWrite(() => {
    let subscription;
    const next = new Promise((resolve, reject) => {
      subscription = client.subscribe({ query: gql(STATS_CHANGED), variables: { id: JAMES } }).subscribe({
        next: (result) => (result.error ? reject(result.error) : resolve(result.data.statsChanged)),
        error: reject,
      });
    });
    return { next, stop: () => subscription.unsubscribe() };
  });
  client.stop();
});

test("urql: a subscription through subscriptionExchange hears an ingest", async () => {
  const client = urqlClient(BASE);
  await hearsTheWrite(() => {
    let subscription;
    const next = new Promise((resolve, reject) => {
      subscription = client.subscription(STATS_CHANGED, { id: JAMES }).subscribe((result) =>
        result.error ? reject(result.error) : resolve(result.data.statsChanged),
      );
    });
    return { next, stop: () => subscription.unsubscribe() };
  });
});
