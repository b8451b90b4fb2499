// GraphiQL on the service's own endpoint, opened on a query for a mentor's whole dashboard.
(function () {
  "use strict";
  const defaultQuery = JSON.parse(document.getElementById("default-query").textContent);
  const fetcher = GraphiQL.createFetcher({ url: "/graphql" });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, { fetcher, defaultQuery, defaultEditorToolsVisibility: true }));
})();
