"""The OpenAPI document and an interactive docs page whose assets come from the installed
swagger-ui-bundle package, so the page works offline."""

import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from personal_stats.adapters.rest.openapi import openapi_document

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Personal Stats Service API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/static/docs.js"></script>
</body>
</html>
"""


def routes() -> list[BaseRoute]:
    document = json.dumps(openapi_document()).encode()

    async def openapi_json(_request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def docs(_request: Request) -> Response:
        return HTMLResponse(PAGE)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets"),
    ]
