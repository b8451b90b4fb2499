"""The server: the ASGI application composed of the adapters (`app`), the request middleware
(admission, access log, metrics: `middleware`), the HTTP protocol under uvicorn (`protocol`)
and the health and metrics endpoints (`health`). Only the command line imports it."""
