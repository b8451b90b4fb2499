// The GraphQL-over-HTTP audit of graphql-http (the specification's reference server
// library): every MUST, SHOULD and MAY it checks, run against the URL given, printed as JSON.
import { auditServer } from "graphql-http";

const url = process.argv[2];
const results = await auditServer({ url });
const report = await Promise.all(results.map(async (result) => ({
  id: result.id,
  name: result.name,
  status: result.status,
  reason: result.status === "ok" ? "" : result.reason,
  response: result.status === "ok" ? null : {
    status: result.response.status,
    contentType: result.response.headers.get("content-type"),
    body: (await result.response.text()).slice(0, 300),
  },
})));
process.stdout.write(JSON.stringify(report, null, 1));
