"""The adapters: each turns one kind of request into questions for the service and its
answers into bytes: `rest` (the contract's routes, the SVG cards, the OpenAPI document and its
page), `graphql` (Strawberry, GraphiQL and the WebSocket subscriptions), `web` (the pages for
people and their static files), `events` (the server-sent event stream) and `write_api` (the
token-guarded ingestion API). An adapter imports the layers below (core, support, storage,
frameworks, service, http), never another adapter; the server composes them."""
