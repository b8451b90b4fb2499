// Composes the service's subgraph (its `_service { sdl }`, read from the URL given) with a
// made-up second subgraph that adds a field to Mentor, with The Guild's federation composition
// (a drop-in for Apollo's). Prints {errors, supergraphSdl, publicSdl} as JSON; run by
// tests/test_federation.py.
import { composeServices, compositionHasErrors, transformSupergraphToPublicSchema } from "@theguild/federation-composition";
import { parse, print } from "graphql";

const SESSIONS = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Mentor @key(fields: "id") {
  id: ID!
  upcomingSessions: Int!
}

type Query {
  mentorsWithSessions: [Mentor!]!
}
`;

const response = await fetch(process.argv[2], {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ query: "{ _service { sdl } }" }),
});
const sdl = (await response.json()).data._service.sdl;
const result = composeServices([
  { name: "stats", typeDefs: parse(sdl), url: process.argv[2] },
  { name: "sessions", typeDefs: parse(SESSIONS), url: "http://sessions.invalid/graphql" },
]);
if (compositionHasErrors(result)) {
  console.log(JSON.stringify({ errors: result.errors.map((e) => e.message) }));
} else {
  const publicSdl = print(transformSupergraphToPublicSchema(parse(result.supergraphSdl)));
  console.log(JSON.stringify({ errors: [], supergraphSdl: result.supergraphSdl, publicSdl }));
}
